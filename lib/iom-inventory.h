/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inventory: every PCI device and IOMMU group of a host, with the host's facts. */
#pragma once

#include "iom-device.h"
#include "iom-group.h"
#include "iom-host.h"
#include "macro.h"

struct iom_inventory {
        struct iom_host *host;
        struct iom_device **devices; /* owned, sorted by address */
        size_t n_devices;
        struct iom_group **groups; /* owned, sorted by id */
        size_t n_groups;
};

struct iom_inventory *iom_inventory_new(void);
struct iom_inventory *iom_inventory_free(struct iom_inventory *inv);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct iom_inventory *, iom_inventory_free);

/* Reads the running host (libudev, sysfs, pci.ids, procfs): devices, groups, viability. */
int iom_inventory_scan(struct iom_inventory **ret);

/* Builders for an inventory assembled elsewhere (the CLI, from the daemon's objects).
 * Both take ownership of what they are given, also on failure. */
int iom_inventory_add_device(struct iom_inventory *inv, struct iom_device *d);
int iom_inventory_add_group(struct iom_inventory *inv, struct iom_group *g);

/* Sorts devices and groups and makes each device a member of its group, creating groups
 * that were not added. */
int iom_inventory_link(struct iom_inventory *inv);

/* Lookups by binary search, in an inventory linked since its last addition. */
struct iom_device *iom_inventory_find_device(const struct iom_inventory *inv,
                                             const struct iom_address *a);
struct iom_group *iom_inventory_find_group(const struct iom_inventory *inv, unsigned id);
/* The index of group @id in inv->groups, or inv->n_groups when there is none. */
size_t iom_inventory_group_index(const struct iom_inventory *inv, unsigned id);

/* Changes to a linked inventory, one object at a time and keeping it linked (hot-plug):
 * O(log n) to find the place and one memmove. A device joins the group it names, which must
 * be in @inv already; an inserted group starts empty. Inserting takes ownership of @d or @g,
 * also on failure; -EEXIST when the address or id is there already. Taking removes the object
 * (a device leaves its group too; a group only once empty) and hands it to the caller; NULL
 * when absent. */
int iom_inventory_insert_device(struct iom_inventory *inv, struct iom_device *d);
int iom_inventory_insert_group(struct iom_inventory *inv, struct iom_group *g);
struct iom_device *iom_inventory_take_device(struct iom_inventory *inv, const struct iom_address *a);
struct iom_group *iom_inventory_take_group(struct iom_inventory *inv, unsigned id);
