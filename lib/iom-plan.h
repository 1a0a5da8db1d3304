/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Planning a change of drivers: which devices of which groups go from which driver to which,
 * and why each is included. Pure: reads the inventory, changes nothing. */
#pragma once

#include <stdbool.h>

#include "iom-inventory.h"
#include "macro.h"

#define IOM_VFIO_DRIVER "vfio-pci"
/* Rebind's name for no driver, and the driver_override that keeps a device unbound. */
#define IOM_NO_DRIVER "none"

enum iom_plan_op {
        IOM_PLAN_ASSIGN,
        IOM_PLAN_RELEASE,
        IOM_PLAN_REBIND,
        _IOM_PLAN_OP_MAX,
        _IOM_PLAN_OP_INVALID = -EINVAL,
};

DECLARE_STRING_TABLE_LOOKUP(iom_plan_op, enum iom_plan_op);

/* A device's d3cold_allowed as the daemon found it before turning it off (disable_d3cold), to
 * put back at release. The journal keeps it as the attribute reads: "0" or "1", no string when
 * untouched. */
enum iom_d3cold {
        IOM_D3COLD_UNTOUCHED, /* never written: nothing to put back */
        IOM_D3COLD_WAS_OFF,
        IOM_D3COLD_WAS_ON,
        _IOM_D3COLD_MAX,
        _IOM_D3COLD_INVALID = -EINVAL,
};

DECLARE_STRING_TABLE_LOOKUP(iom_d3cold, enum iom_d3cold);

/* The policy rule that allowed a step, where it is written. */
struct iom_plan_rule {
        char *id; /* NULL when no rule decided (release, rebind) */
        char *file;
        unsigned line;
};

struct iom_plan_step {
        struct iom_address address;
        unsigned group;
        char *from;          /* the driver now, NULL when unbound */
        char *to;            /* the driver wanted, NULL to leave it unbound */
        char *from_override; /* driver_override now, restored on rollback */
        bool named;          /* named in the request, else a group peer */
        bool bridge;         /* a bridge: moved before the endpoints leave, after they return */
        struct iom_address named_by; /* for a peer: the named device that brought it along */
        struct iom_plan_rule rule;   /* the policy rule that allowed it (assign) */
        bool allow_in_use; /* that rule lets an administrator's force move it while in use */
        char *release_to;  /* that rule's host_driver: where a release returns it, not @from */

        /* Between owners: the rule's choices at assign, the claim's at release. */
        char *reset_method;    /* how a release resets it; NULL: the kernel's order */
        bool quarantine_after; /* a release keeps its group on vfio-pci, quarantined */
        bool d3cold_off;       /* d3cold_allowed stays 0 while a guest owns it */
        enum iom_d3cold d3cold_was; /* what d3cold_allowed is put back to */
        /* What a release did: the reset's outcome (NULL: none tried, "ok", or what failed),
         * and why its group was quarantined instead of going home (NULL: it went home). */
        char *reset_result;
        char *quarantine;
};

struct iom_plan {
        enum iom_plan_op op;
        char *owner; /* the guest taking (assign) or giving back (release) the groups */
        char *owner_uuid; /* assign: the guest's libvirt UUID, when the caller gave it */
        struct iom_plan_step *steps; /* by group; bridges first, endpoints by address (release:
                                      * endpoints first, then bridges) */
        size_t n_steps;
        unsigned *groups; /* the groups the plan touches, ascending */
        size_t n_groups;
};

int iom_plan_new(enum iom_plan_op op, const char *owner, struct iom_plan **ret);
struct iom_plan *iom_plan_free(struct iom_plan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct iom_plan *, iom_plan_free);

/* Assign the groups of @devices (names as iom_inventory_resolve() takes them) to @owner:
 * every endpoint of each group goes to vfio-pci. Errors (with *@ret_error naming the device
 * and the problem): -EINVAL bad owner or device name, -ENOENT no such device, -ENOTUNIQ
 * ambiguous id, -EXDEV a device without an IOMMU group, -EEXIST a group owned by another,
 * -ENOTRECOVERABLE a quarantined group (rebind too). */
int iom_plan_assign(const struct iom_inventory *inv, const char *owner, char *const *devices,
                    struct iom_plan **ret, char **ret_error);

/* Give @owner's groups back to the host: those of @devices, or all when @devices is empty;
 * every endpoint returns to its recorded host driver. -EPERM for a group @owner does not
 * hold, -ENOENT when @owner holds nothing. */
int iom_plan_release(const struct iom_inventory *inv, const char *owner, char *const *devices,
                     struct iom_plan **ret, char **ret_error);

/* Let the quarantined group of @device go home: a release without an owner, every endpoint
 * back to its recorded host driver. -EPERM when the group is not quarantined. */
int iom_plan_release_quarantine(const struct iom_inventory *inv, const char *device,
                                struct iom_plan **ret, char **ret_error);

/* An administrator's move of one device to @driver ("none" for no driver; "" is -EINVAL).
 * -EXDEV for a device without an IOMMU group, -EEXIST when its group is owned: release it
 * first. */
int iom_plan_rebind(const struct iom_inventory *inv, const char *device, const char *driver,
                    struct iom_plan **ret, char **ret_error);

/* Why a step is in the plan, as D-Bus and JSON spell it: its device was named in the request,
 * or it is a group peer of the named device in @named_by. */
#define IOM_PLAN_REASON_NAMED "named"
#define IOM_PLAN_REASON_PEER "peer"
const char *iom_plan_step_reason(const struct iom_plan_step *s);

/* Sets @s->named and @s->named_by from a reason's kind and, for a peer, the address of the
 * named device @of. -EBADMSG for an unknown kind or a peer of no valid address. */
int iom_plan_step_set_reason(struct iom_plan_step *s, const char *kind, const char *of);

/* Deep copy of a step into @dst (which it overwrites), and freeing what a step holds. */
int iom_plan_step_copy(struct iom_plan_step *dst, const struct iom_plan_step *src);
void iom_plan_step_clear(struct iom_plan_step *s);

/* Whether the plan touches @group. */
bool iom_plan_has_group(const struct iom_plan *p, unsigned group);

/* Adds @group to the groups the plan touches (once). */
int iom_plan_add_group(struct iom_plan *p, unsigned group);

/* Appends a deep copy of @s (its group added to the plan's groups). */
int iom_plan_append_step(struct iom_plan *p, const struct iom_plan_step *s);

/* The steps of one group, as [first, first + n). */
size_t iom_plan_group_steps(const struct iom_plan *p, unsigned group, size_t *ret_first);
