/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.iommud1.Group at /org/iommud1/group/<N>: the unit of ownership. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bus-util.h"
#include "libvirt.h"
#include "manager.h"

static struct iom_group *group_from_path(struct manager *m, const char *path) {
        uint32_t id;

        if (bus_path_get_id(path, IOMMUD_GROUP_PREFIX, &id) < 0)
                return NULL;
        return iom_inventory_find_group(m->inventory, id);
}

static int group_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                      void **ret_found, sd_bus_error *error) {
        struct iom_group *g = group_from_path(userdata, path);
        if (!g)
                return 0;
        *ret_found = g;
        return 1;
}

static int group_enumerate(sd_bus *bus, const char *path, void *userdata, char ***ret_nodes,
                           sd_bus_error *error) {
        struct manager *m = userdata;
        _cleanup_strv_free_ char **nodes = calloc(m->inventory->n_groups + 1, sizeof(char *));

        if (!nodes)
                return -ENOMEM;
        for (size_t i = 0; i < m->inventory->n_groups; i++) {
                nodes[i] = manager_group_path(m->inventory->groups[i]->id);
                if (!nodes[i])
                        return -ENOMEM;
        }
        *ret_nodes = TAKE_PTR(nodes);
        return 0;
}

static int property_get_devices(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        struct iom_group *g = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        for (size_t i = 0; i < g->n_devices; i++) {
                _cleanup_free_ char *p = manager_device_path(&g->devices[i]->address);
                if (!p)
                        return -ENOMEM;
                r = sd_bus_message_append(reply, "o", p);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_blockers(sd_bus *bus, const char *path, const char *interface,
                                 const char *property, sd_bus_message *reply, void *userdata,
                                 sd_bus_error *error) {
        struct iom_group *g = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < g->n_blockers; i++) {
                char buf[IOM_ADDRESS_STRING_MAX];
                r = sd_bus_message_append(reply, "(sss)",
                                          iom_address_format(&g->blockers[i].address, buf),
                                          strempty(g->blockers[i].driver), g->blockers[i].reason);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_regions(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        struct iom_group *g = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(tts)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < g->n_regions; i++) {
                r = sd_bus_message_append(reply, "(tts)", g->regions[i].start, g->regions[i].end,
                                          iom_region_type_to_string(g->regions[i].type));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface,
                              const char *property, sd_bus_message *reply, void *userdata,
                              sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", iom_group_state(userdata));
}

/* OwnerState: what libvirt says of the owner's domain, or "" (no libvirt, no such domain). */
static int property_get_owner_state(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error) {
        struct manager *m = sd_bus_slot_get_userdata(sd_bus_get_current_slot(bus));
        struct iom_group *g = userdata;

        return sd_bus_message_append(reply, "s",
                                     strempty(libvirt_domain_state(m->libvirt, g->owner)));
}

static const sd_bus_vtable group_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "u", NULL, offsetof(struct iom_group, id),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Type", "s", NULL, offsetof(struct iom_group, type), 0),
        SD_BUS_PROPERTY("ReservedRegions", "a(tts)", property_get_regions, 0,
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Devices", "ao", property_get_devices, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Viable", "b", bus_property_get_bool, offsetof(struct iom_group, viable),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Blockers", "a(sss)", property_get_blockers, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Owner", "s", NULL, offsetof(struct iom_group, owner),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("OwnerUuid", "s", NULL, offsetof(struct iom_group, owner_uuid),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("OwnerState", "s", property_get_owner_state, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("QuarantineReason", "s", NULL, offsetof(struct iom_group, quarantine),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

void bus_group_emit_changed(struct manager *m, unsigned id) {
        _cleanup_free_ char *path = manager_group_path(id);

        /* No names: every property the vtable marks as emitting change. */
        if (path)
                (void) sd_bus_emit_properties_changed_strv(m->bus, path, "org.iommud1.Group", NULL);
}

int bus_group_register(struct manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, NULL, IOMMUD_GROUP_PREFIX, "org.iommud1.Group",
                                       group_vtable, group_find, m);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(m->bus, NULL, IOMMUD_GROUP_PREFIX, group_enumerate, m);
}
