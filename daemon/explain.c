/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Composing the reasons an assignment would succeed or fail, from the same pieces Assign
 * uses: the plan, the policy, the group's viability and what the host uses. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "iom-error.h"
#include "iom-inuse.h"
#include "iom-plan.h"
#include "manager.h"
#include "policy.h"

_printf_(3, 4) static int add(struct explanation *e, const char *kind, const char *format, ...) {
        _cleanup_free_ char *text = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = iom_verror(&text, 0, format, ap);
        va_end(ap);
        if (r < 0 || GREEDY_REALLOC(e->reasons, e->n_reasons + 1) < 0)
                return -ENOMEM;
        e->reasons[e->n_reasons++] = (struct explain_reason){.kind = kind, .text = TAKE_PTR(text)};
        return 0;
}

void explanation_done(struct explanation *e) {
        for (size_t i = 0; i < e->n_reasons; i++)
                free(e->reasons[i].text);
        free(e->reasons);
        free(e->to_scan);
        *e = (struct explanation){};
}

/* Peers that come along, the group's viability today, and ACS override. */
static int explain_group(struct manager *m, const struct iom_plan *plan, struct explanation *e) {
        int r = 0;

        for (size_t i = 0; r >= 0 && i < plan->n_steps; i++) {
                const struct iom_plan_step *s = &plan->steps[i];
                char a[IOM_ADDRESS_STRING_MAX], by[IOM_ADDRESS_STRING_MAX];
                if (s->named)
                        continue;
                r = add(e, "peer", "%s (%s) comes along: it shares IOMMU group %u with %s%s",
                        iom_address_format(&s->address, a), s->from ? s->from : "no driver",
                        s->group, iom_address_format(&s->named_by, by),
                        s->bridge ? "; a bridge, it is only unbound" : "");
        }
        for (size_t i = 0; r >= 0 && i < plan->n_groups; i++) {
                const struct iom_group *g = iom_inventory_find_group(m->inventory, plan->groups[i]);
                if (!g)
                        continue;
                if (g->viable)
                        r = add(e, "viability", "IOMMU group %u is viable as it is", g->id);
                for (size_t k = 0; r >= 0 && k < g->n_blockers; k++) {
                        char a[IOM_ADDRESS_STRING_MAX];
                        r = add(e, "viability",
                                "IOMMU group %u is not viable yet: %s is %s (%s); assigning "
                                "moves it",
                                g->id, iom_address_format(&g->blockers[k].address, a),
                                g->blockers[k].reason, strempty(g->blockers[k].driver));
                }
        }
        if (r >= 0 && m->inventory->host->acs_override)
                r = add(e, "isolation", "%s", IOM_ACS_OVERRIDE_WARNING);
        return r;
}

/* The devices a driver holds: what the host may use behind them is read later, off the loop. */
static int collect_in_use(const struct iom_plan *plan, struct explanation *e) {
        e->to_scan = calloc(plan->n_steps ? plan->n_steps : 1, sizeof(*e->to_scan));
        if (!e->to_scan)
                return -ENOMEM;
        for (size_t i = 0; i < plan->n_steps; i++)
                if (plan->steps[i].from)
                        e->to_scan[e->n_to_scan++] = plan->steps[i].address;
        return 0;
}

int explanation_scan_in_use(struct explanation *e) {
        for (size_t i = 0; i < e->n_to_scan; i++) {
                _cleanup_strv_free_ char **uses = NULL;
                if (iom_inuse_scan(&e->to_scan[i], &uses) < 0)
                        continue;
                for (char **u = uses; *u; u++) {
                        int r = add(e, "in-use", "%s: refused unless an administrator forces it",
                                    *u);
                        if (r < 0)
                                return r;
                        e->allowed = false;
                }
        }
        e->n_to_scan = 0;
        return 0;
}

int manager_explain(struct manager *m, const char *device, const char *guest,
                    struct explanation *ret) {
        _cleanup_(iom_plan_freep) struct iom_plan *plan = NULL;
        _cleanup_free_ char *why = NULL;
        char *devices[] = {(char *) device, NULL};
        bool ask_policy = guest && *guest;
        int r;

        *ret = (struct explanation){.allowed = true};
        /* Without a guest the plan is still the group's: any valid name stands in. */
        r = iom_plan_assign(m->inventory, ask_policy ? guest : "any-guest", devices, &plan, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                ret->allowed = false;
                return add(ret,
                           r == -EEXIST            ? "owner"
                           : r == -ENOTRECOVERABLE ? "quarantine"
                                                   : "device",
                           "%s", strempty(why));
        }
        if (ask_policy) {
                r = manager_check_policy(m, plan, &why);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        ret->allowed = false;
                        r = add(ret, "policy", "%s", strempty(why));
                } else
                        for (size_t i = 0; r >= 0 && i < plan->n_steps; i++)
                                if (plan->steps[i].rule.id) {
                                        const struct iom_plan_step *s = &plan->steps[i];
                                        char a[IOM_ADDRESS_STRING_MAX];
                                        /* What the rule picks for the way back, too. */
                                        r = add(ret, "policy",
                                                "%s: allowed by rule '%s' (%s:%u); a release "
                                                "resets it with %s%s",
                                                iom_address_format(&s->address, a), s->rule.id,
                                                s->rule.file, s->rule.line,
                                                s->reset_method ? s->reset_method
                                                                : "the kernel's order",
                                                s->quarantine_after ? ", then quarantines its group"
                                                                    : "");
                                }
        } else {
                ret->allowed = false;
                r = add(ret, "policy", "name a guest to ask the policy");
        }
        if (r >= 0)
                r = explain_group(m, plan, ret);
        if (r >= 0)
                r = collect_in_use(plan, ret);
        return r;
}
