/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iommuctl list: every device under its IOMMU group. */
#include <stdio.h>
#include <stdlib.h>

#include "format.h"
#include "iommuctl.h"
#include "json-inventory.h"
#include "macro.h"
#include "table.h"

static int add_device_row(struct table *t, const struct iom_device *d, const struct iom_group *g) {
        _cleanup_free_ char *title = device_title(d), *class = device_class(d), *owner = NULL;
        char group[16], ids[IDS_STRING_MAX], address[IOM_ADDRESS_STRING_MAX];
        const char *viable = "-", *color = NULL;

        if (!title || !class)
                return -ENOMEM;
        /* The owner, with its domain's state where libvirt tells it: "win11 (running)". */
        if (g && g->owner && g->owner_state &&
            asprintf(&owner, "%s (%s)", g->owner, g->owner_state) < 0)
                return -ENOMEM;
        if (g) {
                (void) snprintf(group, sizeof(group), "%u", g->id);
                viable = g->viable ? "yes" : "no";
                color = g->viable ? ANSI_GREEN : ANSI_RED;
        }
        const char *cells[] = {
                g ? group : "-",
                iom_address_format(&d->address, address),
                class,
                format_ids(d, ids),
                title,
                d->driver,
                viable,
                owner ? owner : g && g->quarantine ? "(quarantined)" : g ? g->owner : NULL,
        };
        return table_add_row(t, cells, color);
}

static int print_table(const struct iom_inventory *inv) {
        static const char *const headers[] = {
                "GROUP", "ADDRESS", "CLASS", "IDS", "NAME", "DRIVER", "VIABLE", "OWNER",
        };
        _cleanup_(table_freep) struct table *t = table_new(ELEMENTSOF(headers), headers);
        int r;

        if (!t)
                return -ENOMEM;
        table_set_color_column(t, 6);
        for (size_t i = 0; i < inv->n_groups; i++)
                for (size_t j = 0; j < inv->groups[i]->n_devices; j++) {
                        r = add_device_row(t, inv->groups[i]->devices[j], inv->groups[i]);
                        if (r < 0)
                                return r;
                }
        for (size_t i = 0; i < inv->n_devices; i++)
                if (inv->devices[i]->iommu_group < 0) {
                        r = add_device_row(t, inv->devices[i], NULL);
                        if (r < 0)
                                return r;
                }
        r = table_print(t, stdout);
        if (r < 0)
                return r;
        print_host_notices(inv->host, stdout);
        if (inv->host->sleep_inhibitor)
                printf("iommud holds logind's sleep inhibitor (%s): a guest owns a group.\n",
                       inv->host->sleep_inhibitor);
        return 0;
}

int verb_list(int argc, char *argv[]) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = NULL;
        const char *source;
        int r;

        r = inventory_load(&inv, &source);
        if (r < 0)
                return r;
        if (arg_json)
                r = json_list(inv, source);
        else
                r = print_table(inv);
        if (r < 0)
                fprintf(stderr, "iommuctl: cannot print the list: %s\n", strerror(-r));
        return r;
}
