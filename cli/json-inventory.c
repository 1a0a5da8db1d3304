/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inventory as iommuctl list and show print it with --json. */
#include <string.h>

#include "iom-pci.h"
#include "json-inventory.h"

static void strv_json(struct json_writer *w, const char *key, char *const *l) {
        json_writer_begin_array(w, key);
        for (char *const *i = l; i && *i; i++)
                json_writer_string(w, NULL, *i);
        json_writer_end(w, ']');
}

static void device_json(struct json_writer *w, const char *key, const struct iom_device *d) {
        char dsn[IOM_DSN_STRING_MAX];

        json_writer_begin_object(w, key);
        json_writer_address(w, "address", &d->address);
        if (d->iommu_group >= 0)
                json_writer_int(w, "group", d->iommu_group);
        else
                json_writer_null(w, "group");
        json_writer_string(w, "driver", d->driver);
        json_writer_string(w, "driver_override", d->driver_override);
        json_writer_string(w, "host_driver", d->host_driver);
        json_writer_int(w, "vendor_id", d->vendor_id);
        json_writer_int(w, "device_id", d->device_id);
        json_writer_int(w, "subsystem_vendor_id", d->subsystem_vendor_id);
        json_writer_int(w, "subsystem_device_id", d->subsystem_device_id);
        json_writer_int(w, "class", d->class);
        json_writer_int(w, "revision", d->revision);
        json_writer_string(w, "vendor_name", d->vendor_name);
        json_writer_string(w, "device_name", d->device_name);
        json_writer_string(w, "class_name", d->class_name);
        json_writer_int(w, "numa_node", d->numa_node);
        strv_json(w, "reset_methods", d->reset_methods);
        json_writer_string(w, "reset_method", d->reset_method);
        if (d->last_reset_method) {
                json_writer_begin_object(w, "last_reset");
                json_writer_string(w, "method", d->last_reset_method);
                json_writer_string(w, "result", d->last_reset_result);
                json_writer_end(w, '}');
        } else
                json_writer_null(w, "last_reset");
        json_writer_bool(w, "multifunction", d->multifunction);
        json_writer_bool(w, "bridge", iom_device_is_bridge(d));
        json_writer_bool(w, "boot_vga", d->boot_vga);
        if (d->sriov) {
                json_writer_begin_object(w, "sriov");
                json_writer_int(w, "total_vfs", d->sriov_total_vfs);
                json_writer_int(w, "num_vfs", d->sriov_num_vfs);
                json_writer_end(w, '}');
        } else
                json_writer_null(w, "sriov");
        if (d->is_vf)
                json_writer_address(w, "physfn", &d->physfn);
        else
                json_writer_null(w, "physfn");
        if (d->acs) {
                json_writer_begin_object(w, "acs");
                json_writer_int(w, "capability", d->acs_capability);
                json_writer_int(w, "control", d->acs_control);
                json_writer_end(w, '}');
        } else
                json_writer_null(w, "acs");
        json_writer_string(w, "dsn", d->has_dsn ? iom_dsn_format(d->dsn, dsn) : NULL);
        json_writer_end(w, '}');
}

static void group_json(struct json_writer *w, const char *key, const struct iom_group *g) {
        json_writer_begin_object(w, key);
        json_writer_int(w, "id", g->id);
        json_writer_string(w, "type", g->type);
        json_writer_bool(w, "viable", g->viable);
        json_writer_string(w, "owner", g->owner);
        json_writer_string(w, "owner_uuid", g->owner_uuid);
        json_writer_string(w, "owner_state", g->owner_state);
        json_writer_string(w, "state", iom_group_state(g));
        json_writer_string(w, "quarantine", g->quarantine);

        json_writer_begin_array(w, "blockers");
        for (size_t i = 0; i < g->n_blockers; i++) {
                json_writer_begin_object(w, NULL);
                json_writer_address(w, "address", &g->blockers[i].address);
                json_writer_string(w, "driver", g->blockers[i].driver);
                json_writer_string(w, "reason", g->blockers[i].reason);
                json_writer_end(w, '}');
        }
        json_writer_end(w, ']');

        json_writer_begin_array(w, "reserved_regions");
        for (size_t i = 0; i < g->n_regions; i++) {
                json_writer_begin_object(w, NULL);
                json_writer_uint(w, "start", g->regions[i].start);
                json_writer_uint(w, "end", g->regions[i].end);
                json_writer_string(w, "type", iom_region_type_to_string(g->regions[i].type));
                json_writer_end(w, '}');
        }
        json_writer_end(w, ']');

        json_writer_begin_array(w, "devices");
        for (size_t i = 0; i < g->n_devices; i++)
                json_writer_address(w, NULL, &g->devices[i]->address);
        json_writer_end(w, ']');
        json_writer_end(w, '}');
}

static void host_json(struct json_writer *w, const struct iom_host *h) {
        json_writer_begin_object(w, "iommu");
        json_writer_bool(w, "present", h->n_units > 0 || h->groups_present);
        json_writer_begin_array(w, "units");
        for (size_t i = 0; i < h->n_units; i++) {
                json_writer_begin_object(w, NULL);
                json_writer_string(w, "name", h->units[i].name);
                json_writer_string(w, "type", h->units[i].type);
                json_writer_end(w, '}');
        }
        json_writer_end(w, ']');
        json_writer_bool(w, "interrupt_remapping", h->interrupt_remapping);
        json_writer_bool(w, "allow_unsafe_interrupts", h->allow_unsafe_interrupts);
        strv_json(w, "kernel_parameters", h->kernel_parameters);
        json_writer_bool(w, "acs_override", h->acs_override);
        json_writer_string(w, "notice", h->notice);
        json_writer_string(w, "sleep_inhibitor", h->sleep_inhibitor);
        json_writer_end(w, '}');
}

static struct json_writer document(const char *source) {
        struct json_writer w = {.f = stdout};

        json_writer_begin_document(&w);
        json_writer_string(&w, "source", source);
        return w;
}

/* The "devices" array that ends list and show GROUP, then the document's end. */
static int devices_and_finish(struct json_writer *w, struct iom_device *const *devices, size_t n) {
        json_writer_begin_array(w, "devices");
        for (size_t i = 0; i < n; i++)
                device_json(w, NULL, devices[i]);
        json_writer_end(w, ']');
        json_writer_end(w, '}');
        return json_writer_finish(w);
}

int json_list(const struct iom_inventory *inv, const char *source) {
        struct json_writer w = document(source);

        host_json(&w, inv->host);
        json_writer_begin_array(&w, "groups");
        for (size_t i = 0; i < inv->n_groups; i++)
                group_json(&w, NULL, inv->groups[i]);
        json_writer_end(&w, ']');
        return devices_and_finish(&w, inv->devices, inv->n_devices);
}

int json_show_device(const struct iom_inventory *inv, const struct iom_device *d,
                     const char *source) {
        struct json_writer w = document(source);
        const struct iom_group *g = NULL;

        if (d->iommu_group >= 0)
                g = iom_inventory_find_group(inv, (unsigned) d->iommu_group);
        device_json(&w, "device", d);
        if (g)
                group_json(&w, "group", g);
        else
                json_writer_null(&w, "group");
        json_writer_begin_array(&w, "peers");
        for (size_t i = 0; g && i < g->n_devices; i++)
                if (g->devices[i] != d)
                        json_writer_address(&w, NULL, &g->devices[i]->address);
        json_writer_end(&w, ']');
        json_writer_end(&w, '}');
        return json_writer_finish(&w);
}

int json_show_group(const struct iom_inventory *inv, const struct iom_group *g,
                    const char *source) {
        struct json_writer w = document(source);

        group_json(&w, "group", g);
        return devices_and_finish(&w, g->devices, g->n_devices);
}
