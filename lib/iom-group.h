/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The IOMMU group model: type, reserved regions, members and viability. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iom-device.h"
#include "macro.h"

enum iom_region_type {
        IOM_REGION_DIRECT,
        IOM_REGION_DIRECT_RELAXABLE,
        IOM_REGION_RESERVED,
        IOM_REGION_MSI,
        _IOM_REGION_TYPE_MAX,
        _IOM_REGION_TYPE_INVALID = -EINVAL,
};

DECLARE_STRING_TABLE_LOOKUP(iom_region_type, enum iom_region_type);

struct iom_region {
        uint64_t start, end; /* inclusive, as the kernel prints them */
        enum iom_region_type type;
};

/* One member that keeps the group from being viable. */
struct iom_blocker {
        struct iom_address address;
        char *driver;
        char *reason;
};

struct iom_group {
        unsigned id;
        char *type; /* "DMA", "DMA-FQ", "identity", "blocked", ... as sysfs says; NULL unknown */
        struct iom_region *regions;
        size_t n_regions;

        struct iom_device **devices; /* borrowed from the inventory, sorted by address */
        size_t n_devices;

        char *owner; /* the guest or local owner holding the group, NULL when the host has it */
        char *owner_uuid; /* the owner's libvirt domain UUID, when its assign gave one */
        char *owner_state; /* its domain's state as libvirt tells it (read off the bus) */
        /* Why the group is quarantined: back from a guest, kept on vfio-pci and owned by no
         * one until an administrator lets it go; NULL when it is not. */
        char *quarantine;

        bool viable;
        struct iom_blocker *blockers;
        size_t n_blockers;
};

/* Parses a reserved_regions file: one "0xSTART 0xEND type" per line (drivers/iommu/iommu.c,
 * iommu_group_show_resv_regions). On failure @ret_line is the 1-based line at fault. */
int iom_regions_parse(const char *text, struct iom_region **ret, size_t *ret_n, unsigned *ret_line);

struct iom_group *iom_group_new(unsigned id);
struct iom_group *iom_group_free(struct iom_group *g);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct iom_group *, iom_group_free);

int iom_group_add_device(struct iom_group *g, struct iom_device *d);
int iom_group_add_blocker(struct iom_group *g, const struct iom_address *a, const char *driver,
                          const char *reason);

/* Computes viability and blockers from the members' drivers (the kernel's rule). */
int iom_group_update_viability(struct iom_group *g);

/* "host" when no one owns the group, "assigned" when its owner has every endpoint on a VFIO
 * driver, "inconsistent" when an owned group's endpoint is elsewhere (rebound by hand),
 * "quarantined" when it came back from a guest and is kept from the host and from guests. */
const char *iom_group_state(const struct iom_group *g);

/* Reads type and reserved_regions from /sys/kernel/iommu_groups/<id>. */
int iom_group_read_sysfs(struct iom_group *g);
