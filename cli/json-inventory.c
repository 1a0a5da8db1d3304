/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inventory as iommuctl list and show print it with --json. */
#include <string.h>

#include "iom-pci.h"
#include "json-inventory.h"

static json_object *device_json(const struct iom_device *d) {
        json_object *o = json_object_new_object(), *sriov = NULL, *acs = NULL;

        if (!o)
                return NULL;
        json_object_object_add(o, "address", json_address(&d->address));
        json_object_object_add(o, "group",
                               d->iommu_group >= 0 ? json_object_new_int(d->iommu_group) : NULL);
        json_object_object_add(o, "driver", json_string_or_null(d->driver));
        json_object_object_add(o, "driver_override", json_string_or_null(d->driver_override));
        json_object_object_add(o, "host_driver", json_string_or_null(d->host_driver));
        json_object_object_add(o, "vendor_id", json_object_new_int64(d->vendor_id));
        json_object_object_add(o, "device_id", json_object_new_int64(d->device_id));
        json_object_object_add(o, "subsystem_vendor_id",
                               json_object_new_int64(d->subsystem_vendor_id));
        json_object_object_add(o, "subsystem_device_id",
                               json_object_new_int64(d->subsystem_device_id));
        json_object_object_add(o, "class", json_object_new_int64(d->class));
        json_object_object_add(o, "revision", json_object_new_int64(d->revision));
        json_object_object_add(o, "vendor_name", json_string_or_null(d->vendor_name));
        json_object_object_add(o, "device_name", json_string_or_null(d->device_name));
        json_object_object_add(o, "class_name", json_string_or_null(d->class_name));
        json_object_object_add(o, "numa_node", json_object_new_int(d->numa_node));
        json_object_object_add(o, "reset_methods", json_strv(d->reset_methods));
        json_object_object_add(o, "multifunction", json_object_new_boolean(d->multifunction));
        json_object_object_add(o, "bridge", json_object_new_boolean(iom_device_is_bridge(d)));
        json_object_object_add(o, "boot_vga", json_object_new_boolean(d->boot_vga));
        if (d->sriov) {
                sriov = json_object_new_object();
                json_object_object_add(sriov, "total_vfs",
                                       json_object_new_int64(d->sriov_total_vfs));
                json_object_object_add(sriov, "num_vfs", json_object_new_int64(d->sriov_num_vfs));
        }
        json_object_object_add(o, "sriov", sriov);
        json_object_object_add(o, "physfn", d->is_vf ? json_address(&d->physfn) : NULL);
        if (d->acs) {
                acs = json_object_new_object();
                json_object_object_add(acs, "capability", json_object_new_int64(d->acs_capability));
                json_object_object_add(acs, "control", json_object_new_int64(d->acs_control));
        }
        json_object_object_add(o, "acs", acs);
        char dsn[IOM_DSN_STRING_MAX];
        json_object_object_add(
                o, "dsn", d->has_dsn ? json_object_new_string(iom_dsn_format(d->dsn, dsn)) : NULL);
        return o;
}

static json_object *group_json(const struct iom_group *g) {
        json_object *o = json_object_new_object(), *blockers, *regions, *devices;

        if (!o)
                return NULL;
        json_object_object_add(o, "id", json_object_new_int64(g->id));
        json_object_object_add(o, "type", json_string_or_null(g->type));
        json_object_object_add(o, "viable", json_object_new_boolean(g->viable));
        json_object_object_add(o, "owner", json_string_or_null(g->owner));
        json_object_object_add(o, "owner_uuid", json_string_or_null(g->owner_uuid));
        json_object_object_add(o, "owner_state", json_string_or_null(g->owner_state));
        json_object_object_add(o, "state", json_object_new_string(iom_group_state(g)));

        blockers = json_object_new_array();
        for (size_t i = 0; blockers && i < g->n_blockers; i++) {
                json_object *b = json_object_new_object();
                json_object_object_add(b, "address", json_address(&g->blockers[i].address));
                json_object_object_add(b, "driver", json_string_or_null(g->blockers[i].driver));
                json_object_object_add(b, "reason", json_object_new_string(g->blockers[i].reason));
                json_object_array_add(blockers, b);
        }
        json_object_object_add(o, "blockers", blockers);

        regions = json_object_new_array();
        for (size_t i = 0; regions && i < g->n_regions; i++) {
                json_object *r = json_object_new_object();
                json_object_object_add(r, "start", json_object_new_uint64(g->regions[i].start));
                json_object_object_add(r, "end", json_object_new_uint64(g->regions[i].end));
                json_object_object_add(
                        r, "type",
                        json_string_or_null(iom_region_type_to_string(g->regions[i].type)));
                json_object_array_add(regions, r);
        }
        json_object_object_add(o, "reserved_regions", regions);

        devices = json_object_new_array();
        for (size_t i = 0; devices && i < g->n_devices; i++)
                json_object_array_add(devices, json_address(&g->devices[i]->address));
        json_object_object_add(o, "devices", devices);
        return o;
}

static json_object *host_json(const struct iom_host *h) {
        json_object *o = json_object_new_object(), *units;

        if (!o)
                return NULL;
        json_object_object_add(o, "present",
                               json_object_new_boolean(h->n_units > 0 || h->groups_present));
        units = json_object_new_array();
        for (size_t i = 0; units && i < h->n_units; i++) {
                json_object *u = json_object_new_object();
                json_object_object_add(u, "name", json_object_new_string(h->units[i].name));
                json_object_object_add(u, "type", json_object_new_string(h->units[i].type));
                json_object_array_add(units, u);
        }
        json_object_object_add(o, "units", units);
        json_object_object_add(o, "interrupt_remapping",
                               json_object_new_boolean(h->interrupt_remapping));
        json_object_object_add(o, "allow_unsafe_interrupts",
                               json_object_new_boolean(h->allow_unsafe_interrupts));
        json_object_object_add(o, "kernel_parameters", json_strv(h->kernel_parameters));
        json_object_object_add(o, "acs_override", json_object_new_boolean(h->acs_override));
        json_object_object_add(o, "notice", json_string_or_null(h->notice));
        return o;
}

static json_object *document(const char *source) {
        json_object *o = json_document_new();
        if (o)
                json_object_object_add(o, "source", json_object_new_string(source));
        return o;
}

json_object *json_list(const struct iom_inventory *inv, const char *source) {
        json_object *o = document(source);
        json_object *groups, *devices;

        if (!o)
                return NULL;
        json_object_object_add(o, "iommu", host_json(inv->host));
        groups = json_object_new_array();
        for (size_t i = 0; groups && i < inv->n_groups; i++)
                json_object_array_add(groups, group_json(inv->groups[i]));
        json_object_object_add(o, "groups", groups);
        devices = json_object_new_array();
        for (size_t i = 0; devices && i < inv->n_devices; i++)
                json_object_array_add(devices, device_json(inv->devices[i]));
        json_object_object_add(o, "devices", devices);
        return o;
}

json_object *json_show_device(const struct iom_inventory *inv, const struct iom_device *d,
                              const char *source) {
        json_object *o = document(source);
        const struct iom_group *g = NULL;
        json_object *peers;

        if (!o)
                return NULL;
        if (d->iommu_group >= 0)
                g = iom_inventory_find_group(inv, (unsigned) d->iommu_group);
        json_object_object_add(o, "device", device_json(d));
        json_object_object_add(o, "group", g ? group_json(g) : NULL);
        peers = json_object_new_array();
        for (size_t i = 0; g && peers && i < g->n_devices; i++)
                if (g->devices[i] != d)
                        json_object_array_add(peers, json_address(&g->devices[i]->address));
        json_object_object_add(o, "peers", peers);
        return o;
}

json_object *json_show_group(const struct iom_inventory *inv, const struct iom_group *g,
                             const char *source) {
        json_object *o = document(source);
        json_object *devices;

        if (!o)
                return NULL;
        json_object_object_add(o, "group", group_json(g));
        devices = json_object_new_array();
        for (size_t i = 0; devices && i < g->n_devices; i++)
                json_object_array_add(devices, device_json(g->devices[i]));
        json_object_object_add(o, "devices", devices);
        return o;
}
