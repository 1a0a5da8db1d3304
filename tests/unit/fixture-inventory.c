/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hand-built inventories for unit tests. */
#include <stdlib.h>
#include <string.h>

#include "fixture-inventory.h"

struct iom_address fixture_address(const char *s) {
        struct iom_address a;

        if (iom_address_parse(s, &a, NULL) < 0)
                abort();
        return a;
}

struct iom_inventory *fixture_inventory(const struct fixture_device *devices, size_t n) {
        struct iom_inventory *inv = iom_inventory_new();

        if (!inv || !(inv->host = calloc(1, sizeof(*inv->host))))
                abort();
        for (size_t i = 0; i < n; i++) {
                struct iom_device *d = calloc(1, sizeof(*d));
                if (!d || iom_address_parse(devices[i].address, &d->address, NULL) < 0)
                        abort();
                d->vendor_id = devices[i].vendor;
                d->device_id = devices[i].device;
                d->iommu_group = devices[i].group;
                d->header_type = devices[i].header_type;
                if (devices[i].driver && !(d->driver = strdup(devices[i].driver)))
                        abort();
                if (iom_inventory_add_device(inv, d) < 0)
                        abort();
        }
        if (iom_inventory_link(inv) < 0)
                abort();
        for (size_t i = 0; i < inv->n_groups; i++)
                if (iom_group_update_viability(inv->groups[i]) < 0)
                        abort();
        return inv;
}
