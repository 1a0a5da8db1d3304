/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inventory as the daemon serves it: GetManagedObjects into the lib's model. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "inventory-bus.h"
#include "iom-bus-ranges.h"
#include "iom-error.h"
#include "iom-log.h"
#include "macro.h"

/* A variant holding one value of basic @type, read into @ret: sd_bus_message_read(m, "v", ...)
 * without parsing a signature string for each of the inventory's 150000 values. */
static int read_variant_basic(sd_bus_message *m, char type, void *ret) {
        const char contents[2] = {type, 0};
        int r = sd_bus_message_enter_container(m, 'v', contents);
        if (r < 0)
                return r;
        r = sd_bus_message_read_basic(m, type, ret);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int read_string(sd_bus_message *m, char **ret, bool empty_is_null) {
        const char *s;
        int r = read_variant_basic(m, 's', &s);
        if (r < 0)
                return r;
        if (empty_is_null && !*s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int read_bool(sd_bus_message *m, bool *ret) {
        int b, r = read_variant_basic(m, 'b', &b);
        if (r >= 0)
                *ret = b;
        return r;
}

static int read_strv(sd_bus_message *m, char ***ret) {
        int r = sd_bus_message_enter_container(m, 'v', "as");
        if (r < 0)
                return r;
        r = sd_bus_message_read_strv(m, ret);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int read_address(sd_bus_message *m, struct iom_address *ret, bool *ret_present) {
        const char *s;
        int r = read_variant_basic(m, 's', &s);
        if (r < 0)
                return r;
        if (ret_present)
                *ret_present = *s != '\0';
        if (!*s && ret_present)
                return 0;
        return iom_address_parse(s, ret, NULL);
}

/* A property read straight into a field of the model: its name, its D-Bus type ('s' is a string
 * that is NULL when empty, 'b' a bool, any other basic type read as it is), and where. Each
 * interface's table is sorted by name, for bsearch(): a device has some thirty properties, the big
 * hosts thousands of devices. */
struct field {
        const char *name;
        char type;
        size_t offset;
};

#define FIELD(object, name, type, member)                                                          \
        { name, type, offsetof(object, member) }
static const struct field device_fields[] = {
        FIELD(struct iom_device, "Acs", 'b', acs),
        FIELD(struct iom_device, "AcsCapability", 'q', acs_capability),
        FIELD(struct iom_device, "AcsControl", 'q', acs_control),
        FIELD(struct iom_device, "BootVga", 'b', boot_vga),
        FIELD(struct iom_device, "Class", 'u', class),
        FIELD(struct iom_device, "ClassName", 's', class_name),
        FIELD(struct iom_device, "DeviceId", 'q', device_id),
        FIELD(struct iom_device, "DeviceName", 's', device_name),
        FIELD(struct iom_device, "Driver", 's', driver),
        FIELD(struct iom_device, "DriverOverride", 's', driver_override),
        FIELD(struct iom_device, "HeaderType", 'y', header_type),
        FIELD(struct iom_device, "HostDriver", 's', host_driver),
        FIELD(struct iom_device, "IommuGroup", 'i', iommu_group),
        FIELD(struct iom_device, "Multifunction", 'b', multifunction),
        FIELD(struct iom_device, "NumaNode", 'i', numa_node),
        FIELD(struct iom_device, "ResetMethod", 's', reset_method),
        FIELD(struct iom_device, "Revision", 'y', revision),
        FIELD(struct iom_device, "Sriov", 'b', sriov),
        FIELD(struct iom_device, "SriovNumVfs", 'u', sriov_num_vfs),
        FIELD(struct iom_device, "SriovTotalVfs", 'u', sriov_total_vfs),
        FIELD(struct iom_device, "SubsystemDeviceId", 'q', subsystem_device_id),
        FIELD(struct iom_device, "SubsystemVendorId", 'q', subsystem_vendor_id),
        FIELD(struct iom_device, "VendorId", 'q', vendor_id),
        FIELD(struct iom_device, "VendorName", 's', vendor_name),
};
static const struct field group_fields[] = {
        FIELD(struct iom_group, "Id", 'u', id),
        FIELD(struct iom_group, "Owner", 's', owner),
        FIELD(struct iom_group, "OwnerState", 's', owner_state),
        FIELD(struct iom_group, "OwnerUuid", 's', owner_uuid),
        FIELD(struct iom_group, "QuarantineReason", 's', quarantine),
        FIELD(struct iom_group, "Type", 's', type),
        FIELD(struct iom_group, "Viable", 'b', viable),
};

/* Our tables are sorted, or bsearch() misses names: checked once per inventory read. */
static bool fields_sorted(const struct field *fields, size_t n) {
        for (size_t i = 1; i < n; i++)
                if (strcmp(fields[i - 1].name, fields[i].name) >= 0)
                        return false;
        return true;
}

static int field_compare(const void *key, const void *f) {
        return strcmp(key, ((const struct field *) f)->name);
}

/* Reads property @name into @object when @fields (sorted, @n of them) has it: 1 when it did,
 * 0 when the name is not there, or a negative errno. */
static int read_field(sd_bus_message *m, const struct field *fields, size_t n, const char *name,
                      void *object) {
        const struct field *f = bsearch(name, fields, n, sizeof(*fields), field_compare);
        void *p;
        int r;

        if (!f)
                return 0;
        p = (uint8_t *) object + f->offset;
        r = f->type == 's'   ? read_string(m, p, true)
            : f->type == 'b' ? read_bool(m, p)
                             : read_variant_basic(m, f->type, p);
        return r < 0 ? r : 1;
}

/* A Device Serial Number as the daemon spells it, "01-23-45-67-89-ab-cd-ef"; empty: none. */
static int read_dsn(sd_bus_message *m, struct iom_device *d) {
        const char *s;
        unsigned b[8];
        int r = read_variant_basic(m, 's', &s);

        if (r < 0 || !*s)
                return r;
        if (sscanf(s, "%2x-%2x-%2x-%2x-%2x-%2x-%2x-%2x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                   &b[6], &b[7]) != 8)
                return -EBADMSG;
        d->has_dsn = true;
        for (int i = 0; i < 8; i++)
                d->dsn = d->dsn << 8 | b[i];
        return 0;
}

/* A device's properties that are not plain fields. */
/* (method, result), ("", "") when the device was never reset. */
static int read_last_reset(sd_bus_message *m, struct iom_device *d) {
        const char *method, *result;
        int r = sd_bus_message_read(m, "v", "(ss)", &method, &result);

        if (r < 0 || !*method)
                return r;
        d->last_reset_method = strdup(method);
        d->last_reset_result = strdup(result);
        return d->last_reset_method && d->last_reset_result ? 0 : -ENOMEM;
}

static int read_device_property(sd_bus_message *m, const char *name, struct iom_device *d) {
        if (streq(name, "Address"))
                return read_address(m, &d->address, NULL);
        if (streq(name, "ResetMethods"))
                return read_strv(m, &d->reset_methods);
        if (streq(name, "PhysicalFunction"))
                return read_address(m, &d->physfn, &d->is_vf);
        if (streq(name, "Dsn"))
                return read_dsn(m, d);
        if (streq(name, "LastReset"))
                return read_last_reset(m, d);
        return sd_bus_message_skip(m, "v"); /* newer daemon: unknown properties are fine */
}

static int read_blocker(sd_bus_message *m, void *userdata) {
        const char *addr, *driver, *reason;
        struct iom_address a;
        int r = sd_bus_message_read(m, "(sss)", &addr, &driver, &reason);

        if (r <= 0)
                return r;
        if (iom_address_parse(addr, &a, NULL) < 0)
                return -EBADMSG;
        r = iom_group_add_blocker(userdata, &a, *driver ? driver : NULL, reason);
        return r < 0 ? r : 1;
}

static int read_region(sd_bus_message *m, void *userdata) {
        struct iom_group *g = userdata;
        const char *type;
        uint64_t start, end;
        int r = sd_bus_message_read(m, "(tts)", &start, &end, &type);

        if (r <= 0)
                return r;
        if (GREEDY_REALLOC(g->regions, g->n_regions + 1) < 0)
                return -ENOMEM;
        g->regions[g->n_regions++] = (struct iom_region){
                .start = start,
                .end = end,
                .type = iom_region_type_from_string(type),
        };
        return 1;
}

/* A group's properties that are not plain fields. */
static int read_group_property(sd_bus_message *m, const char *name, struct iom_group *g) {
        if (streq(name, "Blockers"))
                return iom_bus_read_variant_array(m, "(sss)", read_blocker, g);
        if (streq(name, "ReservedRegions"))
                return iom_bus_read_variant_array(m, "(tts)", read_region, g);
        return sd_bus_message_skip(m, "v"); /* Devices: iom_inventory_link() rebuilds it */
}

/* One IOMMU unit, "(ss)": its name and type. */
static int read_unit(sd_bus_message *m, void *userdata) {
        struct iom_host *h = userdata;
        const char *unit, *type;
        int r = sd_bus_message_read(m, "(ss)", &unit, &type);

        if (r <= 0)
                return r;
        if (GREEDY_REALLOC(h->units, h->n_units + 1) < 0)
                return -ENOMEM;
        h->units[h->n_units].name = strdup(unit);
        h->units[h->n_units].type = strdup(type);
        h->n_units++;
        if (!h->units[h->n_units - 1].name || !h->units[h->n_units - 1].type)
                return -ENOMEM;
        return 1;
}

static int read_host_property(sd_bus_message *m, const char *name, struct iom_host *h,
                              bool *ret_present) {
        if (streq(name, "IommuPresent"))
                return read_bool(m, ret_present);
        if (streq(name, "InterruptRemapping"))
                return read_bool(m, &h->interrupt_remapping);
        if (streq(name, "AllowUnsafeInterrupts"))
                return read_bool(m, &h->allow_unsafe_interrupts);
        if (streq(name, "AcsOverride"))
                return read_bool(m, &h->acs_override);
        if (streq(name, "KernelParameters"))
                return read_strv(m, &h->kernel_parameters);
        if (streq(name, "Notice"))
                return read_string(m, &h->notice, true);
        if (streq(name, "SleepInhibitor"))
                return read_string(m, &h->sleep_inhibitor, true);
        if (streq(name, "IommuUnits"))
                return iom_bus_read_variant_array(m, "(ss)", read_unit, h);
        return sd_bus_message_skip(m, "v");
}

/* A read answers at once from memory: a daemon that takes longer is stuck, and the caller
 * falls back to reading the host rather than waiting out sd-bus' 25 s default. */
#define READ_TIMEOUT_USEC (5ULL * 1000 * 1000)

static int call_with_timeout(sd_bus *bus, const char *interface, const char *member,
                             sd_bus_error *error, sd_bus_message **reply, const char *arg) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &call, "org.iommud1", "/org/iommud1", interface,
                                           member);
        if (r >= 0 && arg)
                r = sd_bus_message_append(call, "s", arg);
        if (r < 0)
                return r;
        return sd_bus_call(bus, call, READ_TIMEOUT_USEC, error, reply);
}

static int bus_failure(sd_bus_error *error, int r, char **ret_error) {
        r = iom_error(ret_error, r, "%s", error->message ?: strerror(-r));
        sd_bus_error_free(error);
        return r;
}

/* The interface being read decides where properties go. */
struct object_target {
        struct iom_device *device;
        struct iom_group *group;
        struct iom_host *host;
        bool *iommu_present;
};

/* One property of @t's object, at the message's position. */
static int read_property(sd_bus_message *m, const char *name, void *userdata) {
        struct object_target *t = userdata;
        int r = 0;

        if (t->device)
                r = read_field(m, device_fields, ELEMENTSOF(device_fields), name, t->device);
        else if (t->group)
                r = read_field(m, group_fields, ELEMENTSOF(group_fields), name, t->group);
        if (r != 0)
                return MIN(r, 0);
        if (t->device)
                return read_device_property(m, name, t->device);
        if (t->group)
                return read_group_property(m, name, t->group);
        if (t->host)
                return read_host_property(m, name, t->host, t->iommu_present);
        return sd_bus_message_skip(m, "v");
}

static int read_properties(sd_bus_message *m, struct object_target *t) {
        return iom_bus_read_dict(m, read_property, t);
}

/* One interface of an object, "sa{sv}": a device's or a group's properties; others skipped. */
static int read_interface(sd_bus_message *m, void *userdata) {
        struct iom_inventory *inv = userdata;
        _cleanup_(iom_device_freep) struct iom_device *d = NULL;
        _cleanup_(iom_group_freep) struct iom_group *g = NULL;
        struct object_target t = {};
        const char *interface;
        int r;

        r = sd_bus_message_read_basic(m, 's', &interface);
        if (r < 0)
                return r;
        if (streq(interface, "org.iommud1.Device")) {
                t.device = d = calloc(1, sizeof(*d));
                if (!d)
                        return -ENOMEM;
                d->iommu_group = d->numa_node = -1;
        } else if (streq(interface, "org.iommud1.Group")) {
                t.group = g = iom_group_new(0);
                if (!g)
                        return -ENOMEM;
        }
        r = read_properties(m, &t);
        if (r < 0)
                return r;
        if (d)
                return iom_inventory_add_device(inv, TAKE_PTR(d));
        if (g)
                return iom_inventory_add_group(inv, TAKE_PTR(g));
        return 0;
}

/* One object of GetManagedObjects' answer, "oa{sa{sv}}". */
static int read_object(sd_bus_message *m, void *userdata) {
        const char *path;
        int r;

        r = sd_bus_message_read_basic(m, 'o', &path);
        if (r < 0)
                return r;
        return iom_bus_read_entries(m, "sa{sv}", read_interface, userdata);
}

/* GetManagedObjects lists the objects below the manager, not the manager itself. */
static int read_manager(sd_bus *bus, struct iom_host *h, char **ret_error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        bool iommu_present = false;
        int r;

        r = call_with_timeout(bus, "org.freedesktop.DBus.Properties", "GetAll", &error, &reply,
                              "org.iommud1.Manager");
        if (r < 0)
                return bus_failure(&error, r, ret_error);
        r = read_properties(reply,
                            &(struct object_target){.host = h, .iommu_present = &iommu_present});
        if (r < 0)
                return r;
        h->groups_present = iommu_present;
        return 0;
}

int inventory_from_bus(sd_bus *bus, struct iom_inventory **ret, char **ret_error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        assert(fields_sorted(device_fields, ELEMENTSOF(device_fields)) &&
               fields_sorted(group_fields, ELEMENTSOF(group_fields)));
        r = call_with_timeout(bus, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                              &error, &reply, NULL);
        if (r < 0)
                return bus_failure(&error, r, ret_error);
        inv = iom_inventory_new();
        if (!inv)
                return -ENOMEM;
        inv->host = calloc(1, sizeof(*inv->host));
        if (!inv->host)
                return -ENOMEM;

        r = iom_bus_read_entries(reply, "oa{sa{sv}}", read_object, inv);
        if (r < 0)
                return r;
        r = read_manager(bus, inv->host, ret_error);
        if (r < 0)
                return r;
        r = iom_inventory_link(inv);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(inv);
        return 0;
}
