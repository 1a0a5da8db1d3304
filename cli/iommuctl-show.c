/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iommuctl show DEVICE|GROUP: every property of one device or group. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "iom-acs.h"
#include "iom-pci.h"
#include "iom-resolve.h"
#include "iommuctl.h"
#include "json-inventory.h"
#include "macro.h"

#define FIELD "  %-20s "

static void print_group_summary(const struct iom_group *g, const struct iom_host *h) {
        printf(FIELD "%s\n", "Type:", g->type ? g->type : "-");
        printf(FIELD "%s\n", "Viable:", g->viable ? "yes" : "no");
        printf(FIELD "%s (%s)\n", "Owner:", g->owner ? g->owner : "the host", iom_group_state(g));
        if (g->owner_uuid)
                printf(FIELD "%s\n", "Owner's UUID:", g->owner_uuid);
        if (g->owner_state)
                printf(FIELD "%s\n", "Owner's domain:", g->owner_state);
        if (g->quarantine)
                printf(FIELD "%s\n", "Quarantined:", g->quarantine);
        for (size_t i = 0; i < g->n_blockers; i++) {
                char a[IOM_ADDRESS_STRING_MAX];
                printf(FIELD "%s (%s): %s\n", i == 0 ? "Blocked by:" : "",
                       iom_address_format(&g->blockers[i].address, a),
                       g->blockers[i].driver ? g->blockers[i].driver : "-", g->blockers[i].reason);
        }
        if (h->acs_override)
                printf(FIELD "%s\n", "Isolation:", IOM_ACS_OVERRIDE_WARNING);
        for (size_t i = 0; i < g->n_regions; i++)
                printf(FIELD "0x%016" PRIx64 "-0x%016" PRIx64 " %s\n",
                       i == 0 ? "Reserved regions:" : "", g->regions[i].start, g->regions[i].end,
                       iom_region_type_to_string(g->regions[i].type) ?: "?");
}

static void print_device(const struct iom_inventory *inv, const struct iom_device *d) {
        _cleanup_free_ char *title = device_title(d), *class = device_class(d);
        const struct iom_group *g = NULL;
        char a[IOM_ADDRESS_STRING_MAX], acs[128];

        if (d->iommu_group >= 0)
                g = iom_inventory_find_group(inv, (unsigned) d->iommu_group);

        printf("%s %s\n", iom_address_format(&d->address, a), title ? title : "");
        printf(FIELD "%04x%s%s\n", "Vendor:", d->vendor_id, d->vendor_name ? " " : "",
               strempty(d->vendor_name));
        printf(FIELD "%04x%s%s\n", "Device:", d->device_id, d->device_name ? " " : "",
               strempty(d->device_name));
        printf(FIELD "%04x:%04x\n", "Subsystem:", d->subsystem_vendor_id, d->subsystem_device_id);
        printf(FIELD "%06x %s\n", "Class:", d->class, class ? class : "");
        printf(FIELD "%02x\n", "Revision:", d->revision);
        printf(FIELD "%s\n", "Driver:", d->driver ? d->driver : "(none)");
        printf(FIELD "%s\n", "Driver override:", d->driver_override ? d->driver_override : "-");
        if (d->host_driver)
                printf(FIELD "%s\n", "Host driver:", d->host_driver);
        if (g) {
                printf(FIELD "%u\n", "IOMMU group:", g->id);
                for (size_t i = 0, n = 0; i < g->n_devices; i++)
                        if (g->devices[i] != d)
                                printf(FIELD "%s (%s)\n", n++ == 0 ? "Group peers:" : "",
                                       iom_address_format(&g->devices[i]->address, a),
                                       g->devices[i]->driver ? g->devices[i]->driver : "no driver");
                print_group_summary(g, inv->host);
        } else
                printf(FIELD "%s\n", "IOMMU group:", "(none)");
        printf(FIELD "%d\n", "NUMA node:", d->numa_node);
        printf(FIELD, "Reset methods:");
        for (char **m = d->reset_methods; m && *m; m++)
                printf("%s%s", m == d->reset_methods ? "" : " ", *m);
        printf("%s\n", d->reset_methods && *d->reset_methods ? "" : "(none)");
        if (d->reset_method)
                printf(FIELD "%s\n", "Reset on release:", d->reset_method);
        if (d->last_reset_method)
                printf(FIELD "%s: %s\n", "Last reset:", d->last_reset_method, d->last_reset_result);
        printf(FIELD "%s\n", "Multifunction:", d->multifunction ? "yes" : "no");
        printf(FIELD "%s\n", "Bridge:", iom_device_is_bridge(d) ? "yes" : "no");
        printf(FIELD "%s\n", "Boot VGA:", d->boot_vga ? "yes" : "no");
        if (d->sriov)
                printf(FIELD "%u of %u VFs enabled\n", "SR-IOV:", d->sriov_num_vfs,
                       d->sriov_total_vfs);
        if (d->is_vf)
                printf(FIELD "%s\n", "Physical function:", iom_address_format(&d->physfn, a));
        if (d->has_dsn) {
                char dsn[IOM_DSN_STRING_MAX];
                printf(FIELD "%s\n", "Serial number:", iom_dsn_format(d->dsn, dsn));
        }
        if (d->acs) {
                printf(FIELD "%s\n",
                       "ACS capability:", iom_acs_format(d->acs_capability, acs, sizeof(acs)));
                printf(FIELD "%s%s\n",
                       "ACS control:", iom_acs_format(d->acs_control, acs, sizeof(acs)),
                       iom_acs_isolates(d->acs_capability, d->acs_control) ? " (isolating)"
                                                                           : " (not isolating)");
        }
}

static void print_group(const struct iom_inventory *inv, const struct iom_group *g) {
        printf("IOMMU group %u\n", g->id);
        print_group_summary(g, inv->host);
        for (size_t i = 0; i < g->n_devices; i++) {
                _cleanup_free_ char *title = device_title(g->devices[i]);
                char a[IOM_ADDRESS_STRING_MAX];
                printf(FIELD "%s %s (%s)\n", i == 0 ? "Devices:" : "",
                       iom_address_format(&g->devices[i]->address, a), title ? title : "",
                       g->devices[i]->driver ? g->devices[i]->driver : "no driver");
        }
}

int verb_show(int argc, char *argv[]) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = NULL;
        _cleanup_free_ char *error = NULL;
        struct iom_device *d;
        struct iom_group *g;
        const char *source;
        int r;

        r = inventory_load(&inv, &source);
        if (r < 0)
                return r;
        r = iom_inventory_resolve(inv, argv[1], &d, &g, &error);
        if (r < 0) {
                fprintf(stderr, "iommuctl: %s\n", error ? error : strerror(-r));
                return r;
        }
        if (!arg_json) {
                if (d)
                        print_device(inv, d);
                else
                        print_group(inv, g);
                return 0;
        }
        r = d ? json_show_device(inv, d, source) : json_show_group(inv, g, source);
        if (r < 0)
                fprintf(stderr, "iommuctl: cannot print %s: %s\n", argv[1], strerror(-r));
        return r;
}
