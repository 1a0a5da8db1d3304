/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Planning driver changes for whole IOMMU groups. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iom-owner.h"
#include "iom-plan.h"
#include "iom-resolve.h"
#include "iom-utf8.h"
#include "iom-error.h"
#include "macro.h"

static const char *const iom_plan_op_table[_IOM_PLAN_OP_MAX] = {
        [IOM_PLAN_ASSIGN] = "assign",
        [IOM_PLAN_RELEASE] = "release",
        [IOM_PLAN_REBIND] = "rebind",
};

DEFINE_STRING_TABLE_LOOKUP(iom_plan_op, enum iom_plan_op);

static const char *const iom_d3cold_table[_IOM_D3COLD_MAX] = {
        [IOM_D3COLD_WAS_OFF] = "0",
        [IOM_D3COLD_WAS_ON] = "1",
};

DEFINE_STRING_TABLE_LOOKUP(iom_d3cold, enum iom_d3cold);

/* The strings a step owns, as fields of @s. */
#define STEP_STRINGS(s)                                                                            \
        {                                                                                          \
                &(s)->from, &(s)->to, &(s)->from_override, &(s)->rule.id, &(s)->rule.file,         \
                        &(s)->release_to, &(s)->reset_method, &(s)->reset_result,                  \
                        &(s)->quarantine                                                           \
        }

void iom_plan_step_clear(struct iom_plan_step *s) {
        char **fields[] = STEP_STRINGS(s);

        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                *fields[i] = mfree(*fields[i]);
}

int iom_plan_step_copy(struct iom_plan_step *dst, const struct iom_plan_step *src) {
        struct iom_plan_step *from = (struct iom_plan_step *) src;
        char **to_fields[] = STEP_STRINGS(dst), **from_fields[] = STEP_STRINGS(from);
        bool oom = false;

        *dst = *src;
        for (size_t i = 0; i < ELEMENTSOF(to_fields); i++) {
                *to_fields[i] = *from_fields[i] ? strdup(*from_fields[i]) : NULL;
                oom = oom || (*from_fields[i] && !*to_fields[i]);
        }
        if (oom) {
                iom_plan_step_clear(dst);
                return -ENOMEM;
        }
        return 0;
}

struct iom_plan *iom_plan_free(struct iom_plan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_steps; i++)
                iom_plan_step_clear(&p->steps[i]);
        free(p->steps);
        free(p->groups);
        free(p->owner);
        free(p->owner_uuid);
        free(p);
        return NULL;
}

int iom_plan_new(enum iom_plan_op op, const char *owner, struct iom_plan **ret) {
        struct iom_plan *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        p->op = op;
        if (owner && !(p->owner = strdup(owner))) {
                free(p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

static int compare_unsigned(const void *a, const void *b) {
        unsigned x = *(const unsigned *) a, y = *(const unsigned *) b;
        return (x > y) - (x < y);
}

bool iom_plan_has_group(const struct iom_plan *p, unsigned group) {
        return p->n_groups > 0 &&
               bsearch(&group, p->groups, p->n_groups, sizeof(*p->groups), compare_unsigned);
}

int iom_plan_add_group(struct iom_plan *p, unsigned group) {
        size_t i;

        if (iom_plan_has_group(p, group))
                return 0;
        if (GREEDY_REALLOC(p->groups, p->n_groups + 1) < 0)
                return -ENOMEM;
        for (i = p->n_groups; i > 0 && p->groups[i - 1] > group; i--)
                p->groups[i] = p->groups[i - 1];
        p->groups[i] = group;
        p->n_groups++;
        return 0;
}

static int plan_add_step(struct iom_plan *p, const struct iom_device *d, const char *to, bool named,
                         const struct iom_address *named_by) {
        return iom_plan_append_step(p, &(struct iom_plan_step){
                                               .address = d->address,
                                               .group = (unsigned) d->iommu_group,
                                               .from = d->driver,
                                               .to = (char *) to,
                                               .from_override = d->driver_override,
                                               .named = named,
                                               .named_by = *named_by,
                                               .bridge = iom_device_is_bridge(d),
                                       });
}

int iom_plan_append_step(struct iom_plan *p, const struct iom_plan_step *s) {
        int r;

        if (!p || !s)
                return -EINVAL;
        if (GREEDY_REALLOC(p->steps, p->n_steps + 1) < 0)
                return -ENOMEM;
        r = iom_plan_step_copy(&p->steps[p->n_steps], s);
        if (r < 0)
                return r;
        p->n_steps++;
        return s->group == UINT32_MAX ? 0 : iom_plan_add_group(p, s->group);
}

/* A bridge on a driver that claims DMA ownership (shpchp) must let go before the endpoints
 * go to a VFIO user, and may only come back once they are home: the kernel refuses to bind it
 * while a VFIO user owns the group's DMA. */
static int step_compare_leaving(const void *a, const void *b) {
        const struct iom_plan_step *x = a, *y = b;
        if (x->group != y->group)
                return x->group < y->group ? -1 : 1;
        if (x->bridge != y->bridge)
                return x->bridge ? -1 : 1;
        return iom_address_compare(&x->address, &y->address);
}

static int step_compare_returning(const void *a, const void *b) {
        const struct iom_plan_step *x = a, *y = b;
        if (x->group == y->group && x->bridge != y->bridge)
                return x->bridge ? 1 : -1;
        return step_compare_leaving(a, b);
}

/* Adds every endpoint of @g, @named's own step marked as named, each to @to. A bridge has no
 * use to a guest: it stays unless its driver blocks the group (shpchp), then it is unbound.
 * @to_host picks each device's recorded host driver instead. */
static int plan_add_group_steps(struct iom_plan *p, const struct iom_group *g,
                                const struct iom_device *named, const char *to, bool to_host) {
        int r;

        if (iom_plan_has_group(p, g->id)) {
                /* Already planned through a peer: mark this device as named too. */
                for (size_t i = 0; i < p->n_steps; i++)
                        if (iom_address_equal(&p->steps[i].address, &named->address))
                                p->steps[i].named = true;
                return 0;
        }
        r = iom_plan_add_group(p, g->id);
        if (r < 0)
                return r;
        for (size_t i = 0; i < g->n_devices; i++) {
                const struct iom_device *d = g->devices[i];

                bool bridge = iom_device_is_bridge(d);

                if (bridge && (to_host ? !d->host_driver : !iom_device_blocks_viability(d)))
                        continue;
                r = plan_add_step(p, d,
                                  to_host  ? d->host_driver
                                  : bridge ? NULL
                                           : to,
                                  d == named, &named->address);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool group_has_endpoint(const struct iom_group *g) {
        for (size_t i = 0; i < g->n_devices; i++)
                if (!iom_device_is_bridge(g->devices[i]))
                        return true;
        return false;
}

static int resolve_device(const struct iom_inventory *inv, const char *spec,
                          struct iom_device **ret, const struct iom_group **ret_group,
                          char **ret_error) {
        struct iom_device *d;
        char buf[IOM_ADDRESS_STRING_MAX];
        int r;

        r = iom_inventory_resolve(inv, spec, &d, NULL, ret_error);
        if (r < 0)
                return r;
        if (d->iommu_group < 0)
                return iom_error(ret_error, -EXDEV,
                                 "%s has no IOMMU group: the IOMMU is off or does not cover it",
                                 iom_address_format(&d->address, buf));
        *ret_group = iom_inventory_find_group(inv, (unsigned) d->iommu_group);
        if (!*ret_group)
                return iom_error(ret_error, -EXDEV, "%s: IOMMU group %d is not known",
                                 iom_address_format(&d->address, buf), d->iommu_group);
        *ret = d;
        return 0;
}

static int quarantined_error(const struct iom_group *g, char **ret_error) {
        return iom_error(ret_error, -ENOTRECOVERABLE,
                         "IOMMU group %u is quarantined (%s); an administrator lets it go with "
                         "'iommuctl release --from-quarantine'",
                         g->id, g->quarantine);
}

/* What assign and release start with: a valid owner, an empty plan. */
static int plan_begin(const struct iom_inventory *inv, enum iom_plan_op op, const char *owner,
                      struct iom_plan **ret, char **ret_error) {
        _cleanup_free_ char *why = NULL;
        int r;

        if (!inv || !ret)
                return -EINVAL;
        r = iom_owner_validate(owner, &why);
        if (r < 0)
                return r == -ENOMEM ? r
                                    : iom_error(ret_error, r, "'%s': %s",
                                                IOM_ESCAPE(strempty(owner)), why);
        return iom_plan_new(op, owner, ret);
}

int iom_plan_assign(const struct iom_inventory *inv, const char *owner, char *const *devices,
                    struct iom_plan **ret, char **ret_error) {
        _cleanup_(iom_plan_freep) struct iom_plan *p = NULL;
        int r;

        r = plan_begin(inv, IOM_PLAN_ASSIGN, owner, &p, ret_error);
        if (r < 0)
                return r;
        if (!devices || !*devices)
                return iom_error(ret_error, -EINVAL, "no device named");
        for (char *const *spec = devices; *spec; spec++) {
                const struct iom_group *g;
                struct iom_device *d;

                r = resolve_device(inv, *spec, &d, &g, ret_error);
                if (r < 0)
                        return r;
                if (g->quarantine)
                        return quarantined_error(g, ret_error);
                if (g->owner && !streq(g->owner, owner))
                        return iom_error(ret_error, -EEXIST, "IOMMU group %u is owned by '%s'",
                                         g->id, g->owner);
                if (!group_has_endpoint(g))
                        return iom_error(
                                ret_error, -EXDEV,
                                "IOMMU group %u holds only bridges: there is nothing in it a "
                                "guest could use",
                                g->id);
                r = plan_add_group_steps(p, g, d, IOM_VFIO_DRIVER, false);
                if (r < 0)
                        return r;
        }
        qsort(p->steps, p->n_steps, sizeof(*p->steps), step_compare_leaving);
        *ret = TAKE_PTR(p);
        return 0;
}

int iom_plan_release(const struct iom_inventory *inv, const char *owner, char *const *devices,
                     struct iom_plan **ret, char **ret_error) {
        _cleanup_(iom_plan_freep) struct iom_plan *p = NULL;
        int r;

        r = plan_begin(inv, IOM_PLAN_RELEASE, owner, &p, ret_error);
        if (r < 0)
                return r;

        if (!devices || !*devices) {
                for (size_t i = 0; i < inv->n_groups; i++) {
                        const struct iom_group *g = inv->groups[i];
                        if (!g->owner || !streq(g->owner, owner) || g->n_devices == 0)
                                continue;
                        r = plan_add_group_steps(p, g, g->devices[0], NULL, true);
                        if (r < 0)
                                return r;
                }
                if (p->n_groups == 0)
                        return iom_error(ret_error, -ENOENT, "'%s' owns no IOMMU group", owner);
        }
        for (char *const *spec = devices; spec && *spec; spec++) {
                const struct iom_group *g;
                struct iom_device *d;

                r = resolve_device(inv, *spec, &d, &g, ret_error);
                if (r < 0)
                        return r;
                if (!g->owner || !streq(g->owner, owner))
                        return iom_error(ret_error, -EPERM,
                                         "IOMMU group %u is not owned by '%s'%s%s%s", g->id, owner,
                                         g->owner ? " but by '" : "", strempty(g->owner),
                                         g->owner ? "'" : "");
                r = plan_add_group_steps(p, g, d, NULL, true);
                if (r < 0)
                        return r;
        }
        qsort(p->steps, p->n_steps, sizeof(*p->steps), step_compare_returning);
        *ret = TAKE_PTR(p);
        return 0;
}

int iom_plan_release_quarantine(const struct iom_inventory *inv, const char *device,
                                struct iom_plan **ret, char **ret_error) {
        _cleanup_(iom_plan_freep) struct iom_plan *p = NULL;
        const struct iom_group *g;
        struct iom_device *d;
        int r;

        if (!inv || !ret)
                return -EINVAL;
        r = resolve_device(inv, device, &d, &g, ret_error);
        if (r < 0)
                return r;
        if (!g->quarantine)
                return iom_error(ret_error, -EPERM, "IOMMU group %u is not quarantined", g->id);
        r = iom_plan_new(IOM_PLAN_RELEASE, NULL, &p);
        if (r < 0)
                return r;
        r = plan_add_group_steps(p, g, d, NULL, true);
        if (r < 0)
                return r;
        qsort(p->steps, p->n_steps, sizeof(*p->steps), step_compare_returning);
        *ret = TAKE_PTR(p);
        return 0;
}

int iom_plan_rebind(const struct iom_inventory *inv, const char *device, const char *driver,
                    struct iom_plan **ret, char **ret_error) {
        _cleanup_(iom_plan_freep) struct iom_plan *p = NULL;
        const struct iom_group *g;
        struct iom_device *d;
        _cleanup_free_ char *why = NULL;
        int r;

        if (!inv || !ret || !driver)
                return -EINVAL;
        /* An empty name is most often an unset shell variable: never read it as "unbind". */
        if (!*driver)
                return iom_error(ret_error, -EINVAL,
                                 "the driver name is empty (write 'none' for no driver)");
        r = iom_driver_name_validate(driver, &why);
        if (r < 0)
                return r == -ENOMEM ? r
                                    : iom_error(ret_error, r, "'%s' is not a driver name: %s",
                                                IOM_ESCAPE(driver), why);
        /* A device without a group is not ours to move: the binder's journal, locks and
         * rollback work on groups, and the next rescan would show it back as it was. */
        r = resolve_device(inv, device, &d, &g, ret_error);
        if (r < 0)
                return r;
        if (g->quarantine)
                return quarantined_error(g, ret_error);
        if (g->owner)
                return iom_error(ret_error, -EEXIST,
                                 "IOMMU group %u is owned by '%s': release it first", g->id,
                                 g->owner);
        r = iom_plan_new(IOM_PLAN_REBIND, NULL, &p);
        if (r < 0)
                return r;
        r = plan_add_step(p, d, streq(driver, IOM_NO_DRIVER) ? NULL : driver, true, &d->address);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

size_t iom_plan_group_steps(const struct iom_plan *p, unsigned group, size_t *ret_first) {
        size_t first = p->n_steps, n = 0;

        for (size_t i = 0; i < p->n_steps; i++)
                if (p->steps[i].group == group) {
                        if (first == p->n_steps)
                                first = i;
                        n++;
                }
        *ret_first = first;
        return n;
}

const char *iom_plan_step_reason(const struct iom_plan_step *s) {
        return s->named ? IOM_PLAN_REASON_NAMED : IOM_PLAN_REASON_PEER;
}

int iom_plan_step_set_reason(struct iom_plan_step *s, const char *kind, const char *of) {
        if (streq(kind, IOM_PLAN_REASON_NAMED)) {
                s->named = true;
                s->named_by = s->address;
                return 0;
        }
        if (!streq(kind, IOM_PLAN_REASON_PEER) || iom_address_parse(of, &s->named_by, NULL) < 0)
                return -EBADMSG;
        s->named = false;
        return 0;
}
