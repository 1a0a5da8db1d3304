/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What orchestrators read from a node: KubeVirt's permitted host devices, Nova's [pci]
 * options, Node Feature Discovery features and Prometheus metrics, rendered from an inventory
 * and the policy in force (iommud.export(7)). Pure: no I/O, no bus, no clock. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "iom-inventory.h"
#include "iom-policy.h"

enum iom_export_format {
        IOM_EXPORT_KUBEVIRT,      /* the KubeVirt CR's permittedHostDevices, a JSON merge patch */
        IOM_EXPORT_KUBEVIRT_YAML, /* the same patch as YAML */
        IOM_EXPORT_NOVA,          /* nova.conf's [pci] device_spec and alias */
        IOM_EXPORT_NFD,           /* a Node Feature Discovery local feature file */
        IOM_EXPORT_PROMETHEUS,    /* text exposition format 0.0.4 */
        _IOM_EXPORT_FORMAT_MAX,
        _IOM_EXPORT_FORMAT_INVALID = -EINVAL,
};

DECLARE_STRING_TABLE_LOOKUP(iom_export_format, enum iom_export_format);

/* The domain of the resource names iommud makes up: "iommud.io/10de_1db4". */
#define IOM_EXPORT_RESOURCE_DOMAIN "iommud.io"

/* A mediated I/O address space, for the metrics. */
struct iom_export_space {
        uint32_t id;
        const char *guest;
        uint64_t mappings;
        uint64_t mapped_bytes;
};

/* What the daemon counts and holds beside the inventory; only the metrics read it. */
struct iom_export_state {
        uint64_t binder_failures;      /* changes that ran and failed */
        uint64_t policy_reloads;       /* reloads that replaced the policy */
        uint64_t policy_reload_errors; /* reloads refused: the policy in force stayed */
        /* Groups quarantined after a failed reset or by quarantine_after. */
        unsigned quarantined_groups;
        const struct iom_export_space *spaces;
        size_t n_spaces;
};

/* Whether the host can give a guest any device at all: it has IOMMU groups, and interrupt
 * remapping (or VFIO allows unsafe interrupts). */
bool iom_export_host_assigns(const struct iom_host *h);

/* Whether @g is listed: the host assigns, the group has an endpoint, and every endpoint is on
 * a VFIO driver, on none, or matched by an autobind rule of @policy (which may be NULL). Such
 * a group is listed whole. */
bool iom_export_group_listed(const struct iom_inventory *inv, const struct iom_policy *policy,
                             const struct iom_group *g);

/* What every format is rendered from: which groups and devices of @inv are listed under
 * @policy (may be NULL: no autobind, no names), counted per vendor:device with the policy's
 * resource names. Each group is judged once, however many formats are rendered from it; it
 * borrows @inv and @policy, which must outlive it unchanged. */
struct iom_export_listing;

int iom_export_listing_new(const struct iom_inventory *inv, const struct iom_policy *policy,
                           struct iom_export_listing **ret);
struct iom_export_listing *iom_export_listing_free(struct iom_export_listing *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct iom_export_listing *, iom_export_listing_free);

/* Renders @l as @format; @state may be NULL (counters and spaces read as zero). *@ret is a
 * NUL-terminated text ending in a newline. */
int iom_export_listing_render(const struct iom_export_listing *l, enum iom_export_format format,
                              const struct iom_export_state *state, char **ret);

/* The same for one format: a listing of @inv under @policy, rendered and freed. */
int iom_export_render(enum iom_export_format format, const struct iom_inventory *inv,
                      const struct iom_policy *policy, const struct iom_export_state *state,
                      char **ret);
