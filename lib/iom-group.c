/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* IOMMU groups: reserved regions, membership, viability. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iom-group.h"
#include "iom-log.h"
#include "iom-sysfs.h"
#include "macro.h"

static const char *const iom_region_type_table[_IOM_REGION_TYPE_MAX] = {
        [IOM_REGION_DIRECT] = "direct",
        [IOM_REGION_DIRECT_RELAXABLE] = "direct-relaxable",
        [IOM_REGION_RESERVED] = "reserved",
        [IOM_REGION_MSI] = "msi",
};

DEFINE_STRING_TABLE_LOOKUP(iom_region_type, enum iom_region_type);

static int parse_region_line(const char *line, struct iom_region *ret) {
        char type[32], extra;
        uint64_t start, end;

        if (sscanf(line, "%" SCNx64 " %" SCNx64 " %31s %c", &start, &end, type, &extra) != 3)
                return -EINVAL;
        if (strncmp(line, "0x", 2) != 0 || start > end)
                return -EINVAL;
        ret->type = iom_region_type_from_string(type);
        if (ret->type < 0)
                return -EINVAL;
        ret->start = start;
        ret->end = end;
        return 0;
}

int iom_regions_parse(const char *text, struct iom_region **ret, size_t *ret_n,
                      unsigned *ret_line) {
        _cleanup_free_ struct iom_region *regions = NULL;
        _cleanup_free_ char *copy = NULL;
        size_t n = 0;
        unsigned line_no = 0;
        char *save = NULL;

        if (!text || !ret || !ret_n)
                return -EINVAL;
        copy = strdup(text);
        if (!copy)
                return -ENOMEM;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                struct iom_region r;

                line_no++;
                if (parse_region_line(line, &r) < 0) {
                        if (ret_line)
                                *ret_line = line_no;
                        return -EINVAL;
                }
                if (GREEDY_REALLOC(regions, n + 1) < 0)
                        return -ENOMEM;
                regions[n++] = r;
        }
        *ret = TAKE_PTR(regions);
        *ret_n = n;
        return 0;
}

struct iom_group *iom_group_new(unsigned id) {
        struct iom_group *g = calloc(1, sizeof(*g));
        if (g) {
                g->id = id;
                g->viable = true;
        }
        return g;
}

static void blockers_clear(struct iom_group *g) {
        for (size_t i = 0; i < g->n_blockers; i++) {
                free(g->blockers[i].driver);
                free(g->blockers[i].reason);
        }
        free(g->blockers);
        g->blockers = NULL;
        g->n_blockers = 0;
}

struct iom_group *iom_group_free(struct iom_group *g) {
        if (!g)
                return NULL;
        free(g->type);
        free(g->owner);
        free(g->owner_uuid);
        free(g->owner_state);
        free(g->quarantine);
        free(g->regions);
        free(g->devices);
        blockers_clear(g);
        free(g);
        return NULL;
}

int iom_group_add_device(struct iom_group *g, struct iom_device *d) {
        size_t i;

        if (!g || !d)
                return -EINVAL;
        if (GREEDY_REALLOC(g->devices, g->n_devices + 1) < 0)
                return -ENOMEM;
        /* Keep members sorted by address: insertion, groups are small. */
        for (i = g->n_devices; i > 0; i--) {
                if (iom_address_compare(&g->devices[i - 1]->address, &d->address) < 0)
                        break;
                g->devices[i] = g->devices[i - 1];
        }
        g->devices[i] = d;
        g->n_devices++;
        return 0;
}

int iom_group_add_blocker(struct iom_group *g, const struct iom_address *a, const char *driver,
                          const char *reason) {

        if (!g || !a || !reason)
                return -EINVAL;
        if (GREEDY_REALLOC(g->blockers, g->n_blockers + 1) < 0)
                return -ENOMEM;
        g->blockers[g->n_blockers] = (struct iom_blocker){
                .address = *a,
                .driver = driver ? strdup(driver) : NULL,
                .reason = strdup(reason),
        };
        if (!g->blockers[g->n_blockers].reason || (driver && !g->blockers[g->n_blockers].driver)) {
                free(g->blockers[g->n_blockers].driver);
                free(g->blockers[g->n_blockers].reason);
                return -ENOMEM;
        }
        g->n_blockers++;
        g->viable = false;
        return 0;
}

int iom_group_update_viability(struct iom_group *g) {
        int r;

        if (!g)
                return -EINVAL;
        blockers_clear(g);
        g->viable = true;
        for (size_t i = 0; i < g->n_devices; i++) {
                const struct iom_device *d = g->devices[i];
                const char *reason = iom_device_blocks_viability(d);

                if (!reason)
                        continue;
                r = iom_group_add_blocker(g, &d->address, d->driver, reason);
                if (r < 0)
                        return r;
        }
        return 0;
}

int iom_group_read_sysfs(struct iom_group *g) {
        _cleanup_free_ char *dir = NULL, *regions = NULL;
        unsigned line = 0;
        int r;

        if (asprintf(&dir, IOM_SYSFS_ROOT "/kernel/iommu_groups/%u", g->id) < 0)
                return -ENOMEM;
        r = iom_sysfs_read_string(dir, "type", &g->type);
        if (r < 0 && r != -ENOENT)
                return iom_debug_errno(r, "%s/type: %m", dir);
        r = iom_sysfs_read_string(dir, "reserved_regions", &regions);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return iom_debug_errno(r, "%s/reserved_regions: %m", dir);
        r = iom_regions_parse(regions, &g->regions, &g->n_regions, &line);
        if (r < 0)
                /* A kernel format we do not know must not hide the host: the group is still
                 * listed, without regions; the mapping core keeps the MSI window reserved on
                 * its own. */
                iom_debug("%s/reserved_regions:%u: cannot parse, ignoring the file", dir, line);
        return 0;
}

const char *iom_group_state(const struct iom_group *g) {
        if (g && g->quarantine)
                return "quarantined";
        if (!g || !g->owner)
                return "host";
        for (size_t i = 0; i < g->n_devices; i++)
                if (!iom_device_is_bridge(g->devices[i]) &&
                    !iom_driver_is_vfio(g->devices[i]->driver))
                        return "inconsistent";
        return "assigned";
}
