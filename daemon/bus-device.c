/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.iommud1.Device at /org/iommud1/device/<dddd_bb_dd_f>: one PCI function. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bus-util.h"
#include "iom-bind.h"
#include "iom-pci.h"
#include "manager.h"

/* "/org/iommud1/device/0000_01_00_0" -> the device, or NULL. */
static struct iom_device *device_from_path(struct manager *m, const char *path) {
        const char *suffix = startswith(path, IOMMUD_DEVICE_PREFIX "/");
        struct iom_address a;

        if (!suffix || iom_address_parse_path(suffix, &a) < 0)
                return NULL;
        return iom_inventory_find_device(m->inventory, &a);
}

static int device_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                       void **ret_found, sd_bus_error *error) {
        struct iom_device *d = device_from_path(userdata, path);
        if (!d)
                return 0;
        *ret_found = d;
        return 1;
}

static int device_enumerate(sd_bus *bus, const char *path, void *userdata, char ***ret_nodes,
                            sd_bus_error *error) {
        struct manager *m = userdata;
        _cleanup_strv_free_ char **nodes = calloc(m->inventory->n_devices + 1, sizeof(char *));

        if (!nodes)
                return -ENOMEM;
        for (size_t i = 0; i < m->inventory->n_devices; i++) {
                nodes[i] = manager_device_path(&m->inventory->devices[i]->address);
                if (!nodes[i])
                        return -ENOMEM;
        }
        *ret_nodes = TAKE_PTR(nodes);
        return 0;
}

static int property_get_address(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        struct iom_address *a = userdata;
        char buf[IOM_ADDRESS_STRING_MAX];
        return sd_bus_message_append(reply, "s", iom_address_format(a, buf));
}

static int property_get_physfn(sd_bus *bus, const char *path, const char *interface,
                               const char *property, sd_bus_message *reply, void *userdata,
                               sd_bus_error *error) {
        struct iom_device *d = userdata;
        char buf[IOM_ADDRESS_STRING_MAX];
        return sd_bus_message_append(reply, "s",
                                     d->is_vf ? iom_address_format(&d->physfn, buf) : "");
}

static int property_get_bridge(sd_bus *bus, const char *path, const char *interface,
                               const char *property, sd_bus_message *reply, void *userdata,
                               sd_bus_error *error) {
        return sd_bus_message_append(reply, "b", iom_device_is_bridge(userdata));
}

static int property_get_group_path(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        struct iom_device *d = userdata;
        _cleanup_free_ char *p = NULL;

        if (d->iommu_group < 0)
                return sd_bus_message_append(reply, "o", "/");
        p = manager_group_path((unsigned) d->iommu_group);
        if (!p)
                return -ENOMEM;
        return sd_bus_message_append(reply, "o", p);
}

static int property_get_owner(sd_bus *bus, const char *path, const char *interface,
                              const char *property, sd_bus_message *reply, void *userdata,
                              sd_bus_error *error) {
        struct iom_device *d = userdata;
        if (streq(property, "State"))
                return sd_bus_message_append(reply, "s", iom_group_state(d->group));
        return sd_bus_message_append(reply, "s", d->group ? strempty(d->group->owner) : "");
}

static int property_get_dsn(sd_bus *bus, const char *path, const char *interface,
                            const char *property, sd_bus_message *reply, void *userdata,
                            sd_bus_error *error) {
        struct iom_device *d = userdata;
        char buf[IOM_DSN_STRING_MAX];
        return sd_bus_message_append(reply, "s", d->has_dsn ? iom_dsn_format(d->dsn, buf) : "");
}

static struct manager *current_manager(sd_bus *bus) {
        return sd_bus_slot_get_userdata(sd_bus_get_current_slot(bus));
}

/* ResetMethod: what a release will ask for, as the claim recorded the rule's pick ("default":
 * the kernel's order); "" when no guest owns the device. */
static int property_get_reset_method(sd_bus *bus, const char *path, const char *interface,
                                     const char *property, sd_bus_message *reply, void *userdata,
                                     sd_bus_error *error) {
        struct manager *m = current_manager(bus);
        struct iom_device *d = userdata;
        _cleanup_free_ char *method = NULL;
        const struct iom_claim *c = NULL;

        (void) pthread_mutex_lock(&m->journal_lock);
        if (d->iommu_group >= 0)
                c = iom_journal_find_claim(m->journal, (unsigned) d->iommu_group);
        for (size_t i = 0; c && i < c->n_devices; i++)
                if (iom_address_equal(&c->devices[i].address, &d->address) &&
                    c->devices[i].reset_method)
                        method = strdup(c->devices[i].reset_method);
        (void) pthread_mutex_unlock(&m->journal_lock);
        return sd_bus_message_append(reply, "s", method ? method : c ? IOM_RESET_DEFAULT : "");
}

/* LastReset: the method and result of its last reset as the journal has them, ("", "") when
 * it had none. */
static int property_get_last_reset(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        struct manager *m = current_manager(bus);
        struct iom_device *d = userdata;
        const struct iom_reset_record *rec;
        int r;

        (void) pthread_mutex_lock(&m->journal_lock);
        rec = iom_journal_find_reset(m->journal, &d->address);
        r = sd_bus_message_append(reply, "(ss)", rec ? rec->method : "", rec ? rec->result : "");
        (void) pthread_mutex_unlock(&m->journal_lock);
        return r;
}

static const sd_bus_vtable device_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Address", "s", property_get_address, offsetof(struct iom_device, address),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VendorId", "q", NULL, offsetof(struct iom_device, vendor_id),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DeviceId", "q", NULL, offsetof(struct iom_device, device_id),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SubsystemVendorId", "q", NULL,
                        offsetof(struct iom_device, subsystem_vendor_id),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SubsystemDeviceId", "q", NULL,
                        offsetof(struct iom_device, subsystem_device_id),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Class", "u", NULL, offsetof(struct iom_device, class),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Revision", "y", NULL, offsetof(struct iom_device, revision),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("HeaderType", "y", NULL, offsetof(struct iom_device, header_type),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VendorName", "s", NULL, offsetof(struct iom_device, vendor_name),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DeviceName", "s", NULL, offsetof(struct iom_device, device_name),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ClassName", "s", NULL, offsetof(struct iom_device, class_name),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Driver", "s", NULL, offsetof(struct iom_device, driver),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DriverOverride", "s", NULL, offsetof(struct iom_device, driver_override),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("HostDriver", "s", NULL, offsetof(struct iom_device, host_driver),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Owner", "s", property_get_owner, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("State", "s", property_get_owner, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("IommuGroup", "i", NULL, offsetof(struct iom_device, iommu_group),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Group", "o", property_get_group_path, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("NumaNode", "i", NULL, offsetof(struct iom_device, numa_node),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ResetMethods", "as", NULL, offsetof(struct iom_device, reset_methods),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ResetMethod", "s", property_get_reset_method, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastReset", "(ss)", property_get_last_reset, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Multifunction", "b", bus_property_get_bool,
                        offsetof(struct iom_device, multifunction), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Bridge", "b", property_get_bridge, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("BootVga", "b", bus_property_get_bool,
                        offsetof(struct iom_device, boot_vga), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Sriov", "b", bus_property_get_bool, offsetof(struct iom_device, sriov),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SriovTotalVfs", "u", NULL, offsetof(struct iom_device, sriov_total_vfs),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SriovNumVfs", "u", NULL, offsetof(struct iom_device, sriov_num_vfs),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PhysicalFunction", "s", property_get_physfn, 0,
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Acs", "b", bus_property_get_bool, offsetof(struct iom_device, acs),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("AcsCapability", "q", NULL, offsetof(struct iom_device, acs_capability),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("AcsControl", "q", NULL, offsetof(struct iom_device, acs_control),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Dsn", "s", property_get_dsn, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

void bus_device_emit_changed(struct manager *m, const struct iom_address *a) {
        _cleanup_free_ char *path = manager_device_path(a);

        /* No names: every property the vtable marks as emitting change. */
        if (path)
                (void) sd_bus_emit_properties_changed_strv(m->bus, path, "org.iommud1.Device", NULL);
}

int bus_device_register(struct manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, NULL, IOMMUD_DEVICE_PREFIX, "org.iommud1.Device",
                                       device_vtable, device_find, m);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(m->bus, NULL, IOMMUD_DEVICE_PREFIX, device_enumerate, m);
}
