/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.iommud1.Manager at /org/iommud1: what the host is, as a whole. */
#include "bus-util.h"
#include "manager.h"

static int property_get_version(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int property_get_host(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error) {
        struct manager *m = userdata;
        const struct iom_host *h = m->inventory->host;

        if (streq(property, "IommuPresent"))
                return sd_bus_message_append(reply, "b", h->n_units > 0 || h->groups_present);
        if (streq(property, "InterruptRemapping"))
                return sd_bus_message_append(reply, "b", h->interrupt_remapping);
        if (streq(property, "AllowUnsafeInterrupts"))
                return sd_bus_message_append(reply, "b", h->allow_unsafe_interrupts);
        if (streq(property, "AcsOverride"))
                return sd_bus_message_append(reply, "b", h->acs_override);
        if (streq(property, "KernelParameters"))
                return sd_bus_message_append_strv(reply, h->kernel_parameters);
        if (streq(property, "Notice"))
                return sd_bus_message_append(reply, "s", strempty(h->notice));
        if (streq(property, "GroupCount"))
                return sd_bus_message_append(reply, "u", (uint32_t) m->inventory->n_groups);
        if (streq(property, "DeviceCount"))
                return sd_bus_message_append(reply, "u", (uint32_t) m->inventory->n_devices);
        return -ENOENT;
}

static int property_get_units(sd_bus *bus, const char *path, const char *interface,
                              const char *property, sd_bus_message *reply, void *userdata,
                              sd_bus_error *error) {
        struct manager *m = userdata;
        const struct iom_host *h = m->inventory->host;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < h->n_units; i++) {
                r = sd_bus_message_append(reply, "(ss)", h->units[i].name, h->units[i].type);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("IommuPresent", "b", property_get_host, 0, 0),
        SD_BUS_PROPERTY("IommuUnits", "a(ss)", property_get_units, 0, 0),
        SD_BUS_PROPERTY("InterruptRemapping", "b", property_get_host, 0, 0),
        SD_BUS_PROPERTY("AllowUnsafeInterrupts", "b", property_get_host, 0, 0),
        SD_BUS_PROPERTY("AcsOverride", "b", property_get_host, 0, 0),
        SD_BUS_PROPERTY("KernelParameters", "as", property_get_host, 0, 0),
        SD_BUS_PROPERTY("Notice", "s", property_get_host, 0, 0),
        SD_BUS_PROPERTY("GroupCount", "u", property_get_host, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DeviceCount", "u", property_get_host, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

int bus_manager_register(struct manager *m) {
        return sd_bus_add_object_vtable(m->bus, NULL, IOMMUD_PATH, "org.iommud1.Manager",
                                        manager_vtable, m);
}
