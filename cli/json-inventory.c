/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inventory as iommuctl list and show print it with --json. */
#include <string.h>

#include "iom-pci.h"
#include "json-inventory.h"

static const struct json_field device_fields[] = {
        JSON_FIELD("driver", JSON_FIELD_STRING, struct iom_device, driver),
        JSON_FIELD("driver_override", JSON_FIELD_STRING, struct iom_device, driver_override),
        JSON_FIELD("host_driver", JSON_FIELD_STRING, struct iom_device, host_driver),
        JSON_FIELD("vendor_id", JSON_FIELD_UINT, struct iom_device, vendor_id),
        JSON_FIELD("device_id", JSON_FIELD_UINT, struct iom_device, device_id),
        JSON_FIELD("subsystem_vendor_id", JSON_FIELD_UINT, struct iom_device, subsystem_vendor_id),
        JSON_FIELD("subsystem_device_id", JSON_FIELD_UINT, struct iom_device, subsystem_device_id),
        JSON_FIELD("class", JSON_FIELD_UINT, struct iom_device, class),
        JSON_FIELD("revision", JSON_FIELD_UINT, struct iom_device, revision),
        JSON_FIELD("vendor_name", JSON_FIELD_STRING, struct iom_device, vendor_name),
        JSON_FIELD("device_name", JSON_FIELD_STRING, struct iom_device, device_name),
        JSON_FIELD("class_name", JSON_FIELD_STRING, struct iom_device, class_name),
        JSON_FIELD("numa_node", JSON_FIELD_INT, struct iom_device, numa_node),
        JSON_FIELD("reset_methods", JSON_FIELD_STRV, struct iom_device, reset_methods),
        JSON_FIELD("reset_method", JSON_FIELD_STRING, struct iom_device, reset_method),
};

static const struct json_field group_fields[] = {
        JSON_FIELD("id", JSON_FIELD_UINT, struct iom_group, id),
        JSON_FIELD("type", JSON_FIELD_STRING, struct iom_group, type),
        JSON_FIELD("viable", JSON_FIELD_BOOL, struct iom_group, viable),
        JSON_FIELD("owner", JSON_FIELD_STRING, struct iom_group, owner),
        JSON_FIELD("owner_uuid", JSON_FIELD_STRING, struct iom_group, owner_uuid),
        JSON_FIELD("owner_state", JSON_FIELD_STRING, struct iom_group, owner_state),
};

static const struct json_field host_fields[] = {
        JSON_FIELD("interrupt_remapping", JSON_FIELD_BOOL, struct iom_host, interrupt_remapping),
        JSON_FIELD("allow_unsafe_interrupts", JSON_FIELD_BOOL, struct iom_host,
                   allow_unsafe_interrupts),
        JSON_FIELD("kernel_parameters", JSON_FIELD_STRV, struct iom_host, kernel_parameters),
        JSON_FIELD("acs_override", JSON_FIELD_BOOL, struct iom_host, acs_override),
        JSON_FIELD("notice", JSON_FIELD_STRING, struct iom_host, notice),
        JSON_FIELD("sleep_inhibitor", JSON_FIELD_STRING, struct iom_host, sleep_inhibitor),
};

static void device_json(struct json_writer *w, const char *key, const struct iom_device *d) {
        char dsn[IOM_DSN_STRING_MAX];

        json_writer_begin_object(w, key);
        json_writer_address(w, "address", &d->address);
        if (d->iommu_group >= 0)
                json_writer_int(w, "group", d->iommu_group);
        else
                json_writer_null(w, "group");
        json_writer_fields(w, device_fields, ELEMENTSOF(device_fields), d);
        if (json_writer_begin_object_or_null(w, "last_reset", d->last_reset_method)) {
                json_writer_string(w, "method", d->last_reset_method);
                json_writer_string(w, "result", d->last_reset_result);
                json_writer_end(w, '}');
        }
        json_writer_bool(w, "multifunction", d->multifunction);
        json_writer_bool(w, "bridge", iom_device_is_bridge(d));
        json_writer_bool(w, "boot_vga", d->boot_vga);
        if (json_writer_begin_object_or_null(w, "sriov", d->sriov)) {
                json_writer_int(w, "total_vfs", d->sriov_total_vfs);
                json_writer_int(w, "num_vfs", d->sriov_num_vfs);
                json_writer_end(w, '}');
        }
        json_writer_address(w, "physfn", d->is_vf ? &d->physfn : NULL);
        if (json_writer_begin_object_or_null(w, "acs", d->acs)) {
                json_writer_int(w, "capability", d->acs_capability);
                json_writer_int(w, "control", d->acs_control);
                json_writer_end(w, '}');
        }
        json_writer_string(w, "dsn", d->has_dsn ? iom_dsn_format(d->dsn, dsn) : NULL);
        json_writer_end(w, '}');
}

static void group_json(struct json_writer *w, const char *key, const struct iom_group *g) {
        json_writer_begin_object(w, key);
        json_writer_fields(w, group_fields, ELEMENTSOF(group_fields), g);
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
        json_writer_fields(w, host_fields, ELEMENTSOF(host_fields), h);
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
