/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Scanning a host into an inventory, and assembling one from parts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libudev.h>

#include "iom-inventory.h"
#include "iom-log.h"
#include "iom-pci.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev *, udev_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_enumerate *, udev_enumerate_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_device *, udev_device_unref);

struct iom_inventory *iom_inventory_new(void) {
        return calloc(1, sizeof(struct iom_inventory));
}

struct iom_inventory *iom_inventory_free(struct iom_inventory *inv) {
        if (!inv)
                return NULL;
        for (size_t i = 0; i < inv->n_devices; i++)
                iom_device_free(inv->devices[i]);
        free(inv->devices);
        for (size_t i = 0; i < inv->n_groups; i++)
                iom_group_free(inv->groups[i]);
        free(inv->groups);
        iom_host_free(inv->host);
        free(inv);
        return NULL;
}

int iom_inventory_add_device(struct iom_inventory *inv, struct iom_device *d) {
        _cleanup_(iom_device_freep) struct iom_device *owned = d;

        if (!inv || !d)
                return -EINVAL;
        if (GREEDY_REALLOC(inv->devices, inv->n_devices + 1) < 0)
                return -ENOMEM;
        inv->devices[inv->n_devices++] = TAKE_PTR(owned);
        return 0;
}

int iom_inventory_add_group(struct iom_inventory *inv, struct iom_group *g) {
        _cleanup_(iom_group_freep) struct iom_group *owned = g;

        if (!inv || !g)
                return -EINVAL;
        if (GREEDY_REALLOC(inv->groups, inv->n_groups + 1) < 0)
                return -ENOMEM;
        inv->groups[inv->n_groups++] = TAKE_PTR(owned);
        return 0;
}

static int device_compare(const void *a, const void *b) {
        const struct iom_device *const *x = a, *const *y = b;
        return iom_address_compare(&(*x)->address, &(*y)->address);
}

static int group_compare(const void *a, const void *b) {
        const struct iom_group *const *x = a, *const *y = b;
        return (*x)->id < (*y)->id ? -1 : (*x)->id > (*y)->id;
}

static int address_compare_key(const void *key, const void *element) {
        const struct iom_device *const *d = element;
        return iom_address_compare(key, &(*d)->address);
}

static int id_compare_key(const void *key, const void *element) {
        const struct iom_group *const *g = element;
        unsigned id = *(const unsigned *) key;
        return id < (*g)->id ? -1 : id > (*g)->id;
}

struct iom_device *iom_inventory_find_device(const struct iom_inventory *inv,
                                             const struct iom_address *a) {
        struct iom_device **found;

        if (!inv || !a || inv->n_devices == 0)
                return NULL;
        found = bsearch(a, inv->devices, inv->n_devices, sizeof(*inv->devices),
                        address_compare_key);
        return found ? *found : NULL;
}

struct iom_group *iom_inventory_find_group(const struct iom_inventory *inv, unsigned id) {
        struct iom_group **found;

        if (!inv || inv->n_groups == 0)
                return NULL;
        found = bsearch(&id, inv->groups, inv->n_groups, sizeof(*inv->groups), id_compare_key);
        return found ? *found : NULL;
}

int iom_inventory_insert_device(struct iom_inventory *inv, struct iom_device *d) {
        _cleanup_(iom_device_freep) struct iom_device *owned = d;
        struct iom_group *g = NULL;
        size_t at;
        int r;

        if (!inv || !d)
                return -EINVAL;
        if (iom_inventory_find_device(inv, &d->address))
                return -EEXIST;
        if (d->iommu_group >= 0) {
                g = iom_inventory_find_group(inv, (unsigned) d->iommu_group);
                if (!g)
                        return -ENOENT;
        }
        if (GREEDY_REALLOC(inv->devices, inv->n_devices + 1) < 0)
                return -ENOMEM;
        if (g) {
                r = iom_group_add_device(g, d);
                if (r < 0)
                        return r;
        }
        d->group = g;
        at = sorted_position(inv->devices, inv->n_devices, sizeof(*inv->devices), &d->address,
                             address_compare_key);
        memmove(inv->devices + at + 1, inv->devices + at,
                (inv->n_devices - at) * sizeof(*inv->devices));
        inv->devices[at] = TAKE_PTR(owned);
        inv->n_devices++;
        return 0;
}

int iom_inventory_insert_group(struct iom_inventory *inv, struct iom_group *g) {
        _cleanup_(iom_group_freep) struct iom_group *owned = g;
        size_t at;

        if (!inv || !g)
                return -EINVAL;
        if (iom_inventory_find_group(inv, g->id))
                return -EEXIST;
        if (GREEDY_REALLOC(inv->groups, inv->n_groups + 1) < 0)
                return -ENOMEM;
        at = sorted_position(inv->groups, inv->n_groups, sizeof(*inv->groups), &g->id,
                             id_compare_key);
        memmove(inv->groups + at + 1, inv->groups + at,
                (inv->n_groups - at) * sizeof(*inv->groups));
        inv->groups[at] = TAKE_PTR(owned);
        inv->n_groups++;
        return 0;
}

struct iom_device *iom_inventory_take_device(struct iom_inventory *inv,
                                             const struct iom_address *a) {
        struct iom_device *d = iom_inventory_find_device(inv, a);
        struct iom_group *g;
        size_t at;

        if (!d)
                return NULL;
        g = d->group;
        for (size_t i = 0; g && i < g->n_devices; i++)
                if (g->devices[i] == d) {
                        memmove(g->devices + i, g->devices + i + 1,
                                (g->n_devices - i - 1) * sizeof(*g->devices));
                        g->n_devices--;
                        break;
                }
        d->group = NULL;
        at = sorted_position(inv->devices, inv->n_devices, sizeof(*inv->devices), a,
                             address_compare_key);
        memmove(inv->devices + at, inv->devices + at + 1,
                (inv->n_devices - at - 1) * sizeof(*inv->devices));
        inv->n_devices--;
        return d;
}

size_t iom_inventory_group_index(const struct iom_inventory *inv, unsigned id) {
        size_t at = sorted_position(inv->groups, inv->n_groups, sizeof(*inv->groups), &id,
                                    id_compare_key);

        return at < inv->n_groups && inv->groups[at]->id == id ? at : inv->n_groups;
}

struct iom_group *iom_inventory_take_group(struct iom_inventory *inv, unsigned id) {
        size_t at = iom_inventory_group_index(inv, id);
        struct iom_group *g;

        if (at == inv->n_groups || inv->groups[at]->n_devices > 0)
                return NULL;
        g = inv->groups[at];
        memmove(inv->groups + at, inv->groups + at + 1,
                (inv->n_groups - at - 1) * sizeof(*inv->groups));
        inv->n_groups--;
        return g;
}

static int compare_unsigned(const void *a, const void *b) {
        unsigned x = *(const unsigned *) a, y = *(const unsigned *) b;
        return (x > y) - (x < y);
}

/* Makes the groups the devices name that were not added, and sorts the groups. */
static int add_missing_groups(struct iom_inventory *inv) {
        _cleanup_free_ unsigned *ids = calloc(inv->n_devices + 1, sizeof(unsigned));
        size_t n = 0;
        int r;

        if (!ids)
                return -ENOMEM;
        for (size_t i = 0; i < inv->n_devices; i++) {
                int group = inv->devices[i]->iommu_group;
                if (group >= 0 && !iom_inventory_find_group(inv, (unsigned) group))
                        ids[n++] = (unsigned) group;
        }
        if (n > 0)
                qsort(ids, n, sizeof(*ids), compare_unsigned);
        for (size_t i = 0; i < n; i++) {
                if (i > 0 && ids[i] == ids[i - 1])
                        continue;
                struct iom_group *g = iom_group_new(ids[i]);
                if (!g)
                        return -ENOMEM;
                r = iom_inventory_add_group(inv, g);
                if (r < 0)
                        return r;
        }
        if (n > 0)
                qsort(inv->groups, inv->n_groups, sizeof(*inv->groups), group_compare);
        return 0;
}

int iom_inventory_link(struct iom_inventory *inv) {
        int r;

        if (!inv)
                return -EINVAL;
        for (size_t i = 0; i < inv->n_groups; i++) {
                free(inv->groups[i]->devices);
                inv->groups[i]->devices = NULL;
                inv->groups[i]->n_devices = 0;
        }
        if (inv->n_devices > 0)
                qsort(inv->devices, inv->n_devices, sizeof(*inv->devices), device_compare);
        if (inv->n_groups > 0)
                qsort(inv->groups, inv->n_groups, sizeof(*inv->groups), group_compare);
        r = add_missing_groups(inv);
        if (r < 0)
                return r;
        for (size_t i = 0; i < inv->n_devices; i++) {
                struct iom_device *d = inv->devices[i];
                struct iom_group *g;

                if (d->iommu_group < 0)
                        continue;
                g = iom_inventory_find_group(inv, (unsigned) d->iommu_group);
                r = iom_group_add_device(g, d);
                if (r < 0)
                        return r;
                d->group = g;
        }
        return 0;
}

static int scan_devices(struct iom_inventory *inv) {
        _cleanup_(udev_unrefp) struct udev *udev = NULL;
        _cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = NULL;
        _cleanup_(iom_pci_freep) struct iom_pci *pci = NULL;
        struct udev_list_entry *entry;
        int r;

        udev = udev_new();
        if (!udev)
                return -ENOMEM;
        e = udev_enumerate_new(udev);
        if (!e)
                return -ENOMEM;
        r = udev_enumerate_add_match_subsystem(e, "pci");
        if (r < 0)
                return r;
        r = udev_enumerate_scan_devices(e);
        if (r < 0)
                return iom_debug_errno(r, "cannot enumerate PCI devices: %m");
        r = iom_pci_new(&pci);
        if (r < 0)
                return r;

        udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
                _cleanup_(udev_device_unrefp) struct udev_device *ud = NULL;
                struct iom_device *d;

                ud = udev_device_new_from_syspath(udev, udev_list_entry_get_name(entry));
                if (!ud)
                        continue; /* gone since the enumeration: hot-unplug */
                r = iom_device_new_from_udev(ud, pci, &d);
                if (r == -ENOENT || r == -ENODEV || r == -EINVAL)
                        continue; /* gone meanwhile, or not a PCI function */
                if (r < 0)
                        return r;
                r = iom_inventory_add_device(inv, d);
                if (r < 0)
                        return r;
        }
        return 0;
}

int iom_inventory_scan(struct iom_inventory **ret) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        inv = iom_inventory_new();
        if (!inv)
                return -ENOMEM;
        r = iom_host_read(&inv->host);
        if (r < 0)
                return r;
        r = scan_devices(inv);
        if (r < 0)
                return r;
        r = iom_inventory_link(inv);
        if (r < 0)
                return r;
        for (size_t i = 0; i < inv->n_groups; i++) {
                r = iom_group_read_sysfs(inv->groups[i]);
                if (r < 0 && r != -ENOENT)
                        return r;
                r = iom_group_update_viability(inv->groups[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(inv);
        return 0;
}
