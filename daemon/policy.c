/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy in force and the decisions it makes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binder.h"
#include "export.h"
#include "iom-acs.h"
#include "inhibit.h"
#include "iom-error.h"
#include "iom-pci.h"
#include "iom-policy.h"
#include "iom-strv.h"
#include "log.h"
#include "manager.h"
#include "policy.h"

int manager_load_policy(struct manager *m, char **ret_error) {
        struct iom_policy *p = NULL;
        int r;

        r = iom_policy_load_dir(m->policy_dir, &p, ret_error);
        if (r < 0) {
                m->policy_reload_errors += !!m->policy; /* not counted: a broken start */
                manager_exports_changed(m);
                return r;
        }
        m->policy_reloads += !!m->policy;
        iom_policy_free(m->policy);
        m->policy = p;
        /* New rules: the autobinds that failed may succeed now. */
        m->autobind_failed = mfree(m->autobind_failed);
        m->n_autobind_failed = 0;
        manager_exports_changed(m);
        if (m->bus) { /* a reload: watchers learn of it */
                (void) sd_bus_emit_properties_changed(m->bus, IOMMUD_PATH, "org.iommud1.Manager",
                                                      "PolicyFiles", "PolicyRuleCount",
                                                      "PolicyRules", NULL);
                (void) sd_bus_emit_signal(m->bus, IOMMUD_PATH, "org.iommud1.Manager",
                                          "PolicyReloaded", "u", (uint32_t) p->n_rules);
        }
        inhibit_update(m); /* its mode may have changed */
        log_info("Policy: %zu rules from %s%s.", p->n_rules, m->policy_dir,
                 p->n_rules == 0 ? " (none: every assignment is denied)" : "");
        return 0;
}

/* require_isolation: every bridge above @d must isolate it with ACS (as far as the bridge
 * implements the controls Linux needs, lib/iom-acs.h), and pcie_acs_override= must be off.
 * Returns NULL when isolated, else why not (in @buf). */
static const char *isolation_problem(struct manager *m, const struct iom_device *d, char *buf,
                                     size_t size) {
        _cleanup_free_ char *path = NULL;
        char *save = NULL;

        if (m->inventory->host->acs_override)
                return "pcie_acs_override= is on the kernel command line";
        if (!d->syspath || !(path = strdup(d->syspath)))
                return "its place in the PCI hierarchy is unknown";
        for (char *part = strtok_r(path, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
                struct iom_address a;
                const struct iom_device *up;

                if (iom_address_parse(part, &a, NULL) < 0 || iom_address_equal(&a, &d->address))
                        continue;
                up = iom_inventory_find_device(m->inventory, &a);
                if (!up || !iom_device_is_bridge(up) ||
                    (up->acs && iom_acs_isolates(up->acs_capability, up->acs_control)))
                        continue;
                (void) snprintf(buf, size, "the bridge %s above it has %s", part,
                                up->acs ? "ACS without the isolating controls enabled" : "no ACS");
                return buf;
        }
        return NULL;
}

/* max_per_guest: what the guest owns already that @rule matches, and the steps of @plan up
 * to @step that @rule allowed, may not exceed the limit. */
static int check_max_per_guest(struct manager *m, const struct iom_plan *plan, size_t step,
                               const struct iom_policy_rule *const *deciders,
                               const struct iom_policy_rule *rule, char **ret_error) {
        unsigned count = 1; /* this step */

        if (rule->max_per_guest == 0)
                return 0;
        for (size_t i = 0; i < m->inventory->n_devices; i++) {
                const struct iom_device *d = m->inventory->devices[i];
                struct iom_policy_subject subject;
                char dsn[IOM_DSN_STRING_MAX];

                if (!d->group || !d->group->owner || !streq(d->group->owner, plan->owner) ||
                    iom_device_is_bridge(d))
                        continue;
                iom_policy_subject_from_device(m->inventory, d, &subject, dsn);
                count += iom_policy_rule_matches(rule, &subject);
        }
        /* Earlier steps of this plan the same rule allowed, in groups the guest does not own
         * yet (those it owns were counted above). */
        for (size_t i = 0; i < step; i++) {
                const struct iom_group *g =
                        iom_inventory_find_group(m->inventory, plan->steps[i].group);
                count += deciders[i] == rule && !(g && g->owner);
        }
        if (count <= rule->max_per_guest)
                return 0;
        return iom_error(ret_error, -EACCES,
                         "rule '%s' (%s:%u) allows '%s' at most %u devices; this would make %u",
                         rule->id, rule->file, rule->line, plan->owner, rule->max_per_guest, count);
}

int manager_check_policy(struct manager *m, struct iom_plan *plan, char **ret_error) {
        _cleanup_free_ const struct iom_policy_rule **deciders = NULL;
        int r;

        if (plan->op != IOM_PLAN_ASSIGN)
                return 0;
        deciders = calloc(plan->n_steps + 1, sizeof(*deciders));
        if (!deciders)
                return -ENOMEM;
        for (size_t i = 0; i < plan->n_steps; i++) {
                struct iom_plan_step *s = &plan->steps[i];
                const struct iom_device *d = iom_inventory_find_device(m->inventory, &s->address);
                struct iom_policy_subject subject;
                char dsn[IOM_DSN_STRING_MAX];
                struct iom_policy_decision decision;
                char a[IOM_ADDRESS_STRING_MAX];

                if (s->bridge || !d)
                        continue; /* a bridge is unbound, not given to the guest */
                iom_policy_subject_from_device(m->inventory, d, &subject, dsn);
                iom_policy_evaluate(m->policy, &subject, plan->owner, &decision);
                iom_address_format(&s->address, a);
                if (decision.action == IOM_POLICY_DENY && !decision.rule) {
                        log_refused("Policy: '%s' may not have %s: no rule allows it.",
                                    IOM_ESCAPE(plan->owner), a);
                        return iom_error(ret_error, -EACCES,
                                         "'%s' may not have %s: no rule allows it (the default "
                                         "deny; see iommud.policy(5))",
                                         plan->owner, a);
                }
                if (decision.action == IOM_POLICY_DENY) {
                        log_refused("Policy: '%s' may not have %s: rule '%s' (%s:%u).",
                                    IOM_ESCAPE(plan->owner), a, decision.rule->id,
                                    decision.rule->file, decision.rule->line);
                        return iom_error(ret_error, -EACCES,
                                         "'%s' may not have %s: rule '%s' (%s:%u) denies it",
                                         plan->owner, a, decision.rule->id, decision.rule->file,
                                         decision.rule->line);
                }
                if (decision.rule->require_isolation) {
                        char why[128];
                        const char *problem = isolation_problem(m, d, why, sizeof(why));
                        if (problem)
                                return iom_error(ret_error, -EACCES,
                                                 "rule '%s' (%s:%u) requires isolation, and %s "
                                                 "is not isolated: %s",
                                                 decision.rule->id, decision.rule->file,
                                                 decision.rule->line, a, problem);
                }
                deciders[i] = decision.rule;
                r = check_max_per_guest(m, plan, i, deciders, decision.rule, ret_error);
                if (r < 0)
                        return r;
                s->allow_in_use = decision.rule->allow_in_use;
                s->quarantine_after = decision.rule->quarantine_after;
                s->d3cold_off = decision.rule->disable_d3cold;
                free(s->release_to);
                free(s->reset_method);
                s->release_to = decision.rule->host_driver_option
                                        ? strdup(decision.rule->host_driver_option)
                                        : NULL;
                s->reset_method =
                        decision.rule->reset_method ? strdup(decision.rule->reset_method) : NULL;
                if ((decision.rule->host_driver_option && !s->release_to) ||
                    (decision.rule->reset_method && !s->reset_method))
                        return -ENOMEM;
                free(s->rule.id);
                free(s->rule.file);
                s->rule.id = strdup(decision.rule->id);
                s->rule.file = strdup(decision.rule->file);
                s->rule.line = decision.rule->line;
                if (!s->rule.id || !s->rule.file)
                        return -ENOMEM;
        }
        return 0;
}

/* Queues the policy's own change @req of @device, which nobody waits for; @allocated is NULL
 * when what @req needed could not be allocated. */
static int submit_for(struct manager *m, struct binder_request *req, const void *allocated,
                      const char *device) {
        req->devices = calloc(2, sizeof(char *));
        if (!allocated || !req->devices || !(req->devices[0] = strdup(device))) {
                binder_request_done(req);
                return log_oom();
        }
        return binder_submit(m, req, NULL, NULL);
}

/* The rule @lookup finds for @d in the policy in force. */
static const struct iom_policy_rule *device_rule(
                struct manager *m, const struct iom_device *d,
                const struct iom_policy_rule *(*lookup)(const struct iom_policy *p,
                                                        const struct iom_policy_subject *s)) {
        struct iom_policy_subject subject;
        char dsn[IOM_DSN_STRING_MAX];

        iom_policy_subject_from_device(m->inventory, d, &subject, dsn);
        return lookup(m->policy, &subject);
}

static int compare_address(const void *key, const void *element) {
        return iom_address_compare(key, element);
}

/* Where @a is in m->autobind_failed, kept sorted, or would go; sets @ret_found. */
static size_t autobind_failed_position(struct manager *m, const struct iom_address *a,
                                       bool *ret_found) {
        size_t i = sorted_position(m->autobind_failed, m->n_autobind_failed,
                                   sizeof(*m->autobind_failed), a, compare_address);

        *ret_found = i < m->n_autobind_failed && iom_address_equal(&m->autobind_failed[i], a);
        return i;
}

void manager_autobind_failed(struct manager *m, const char *device, int error) {
        struct iom_address a;
        bool found;
        size_t i;

        /* Under load, not in the device: the next event of the device tries again. */
        if (error == -ETIMEDOUT || error == -EBUSY || error == -EAGAIN || error == -ENOMEM) {
                (void) log_full_errno(LOG_INFO, error,
                                      "Policy: the autobind of %s failed (%m); trying again on "
                                      "its next event.",
                                      device);
                return;
        }
        if (iom_address_parse(device, &a, NULL) < 0)
                return;
        i = autobind_failed_position(m, &a, &found);
        if (found)
                return;
        if (GREEDY_REALLOC(m->autobind_failed, m->n_autobind_failed + 1) < 0)
                return (void) log_oom();
        memmove(m->autobind_failed + i + 1, m->autobind_failed + i,
                (m->n_autobind_failed - i) * sizeof(*m->autobind_failed));
        m->autobind_failed[i] = a;
        m->n_autobind_failed++;
        log_notice("Policy: the autobind of %s failed; not trying again until the device is "
                   "re-added or the policy reloaded.",
                   device);
}

void manager_autobind_forget(struct manager *m, const struct iom_address *a) {
        bool found;
        size_t i = autobind_failed_position(m, a, &found);

        if (found) {
                memmove(m->autobind_failed + i, m->autobind_failed + i + 1,
                        (m->n_autobind_failed - i - 1) * sizeof(*m->autobind_failed));
                m->n_autobind_failed--;
        }
}

static bool autobind_failed(struct manager *m, const struct iom_address *a) {
        bool found;

        (void) autobind_failed_position(m, a, &found);
        return found;
}

void manager_autobind_device(struct manager *m, const struct iom_device *d) {
        const struct iom_policy_rule *rule;
        char a[IOM_ADDRESS_STRING_MAX];

        if (iom_driver_is_vfio(d->driver) || iom_device_is_bridge(d) ||
            (d->group && d->group->owner) || binder_device_busy(m, &d->address) ||
            autobind_failed(m, &d->address))
                return;
        rule = device_rule(m, d, iom_policy_autobind);
        if (!rule)
                return;
        iom_address_format(&d->address, a);
        log_info("Policy: rule '%s' (%s:%u) binds %s to vfio-pci.", rule->id, rule->file,
                 rule->line, a);
        struct binder_request req = {
                .op = IOM_PLAN_REBIND,
                .driver = strdup(IOM_VFIO_DRIVER),
                .autobind = true,
        };
        (void) submit_for(m, &req, req.driver, a);
}

void manager_autobind(struct manager *m) {
        for (size_t i = 0; i < m->inventory->n_devices; i++)
                manager_autobind_device(m, m->inventory->devices[i]);
}

int manager_sriov_vfio_vfs(struct manager *m, const struct iom_device *pf, unsigned vfs,
                           char ***ret) {
        _cleanup_(iom_strv_done) struct iom_strv found = {};
        struct iom_policy_subject subject;
        char dsn[IOM_DSN_STRING_MAX];
        int r;

        iom_policy_subject_from_device(m->inventory, pf, &subject, dsn);
        subject.physfn = &pf->address;
        subject.device = pf->sriov_vf_device;
        subject.dsn = NULL;
        subject.group = -1;
        subject.driver = subject.host_driver = NULL;
        for (unsigned k = 0; k < vfs; k++) {
                char a[IOM_ADDRESS_STRING_MAX];

                if (iom_device_vf_address(pf, k, &subject.address) < 0)
                        break;
                if (!iom_policy_autobind(m->policy, &subject))
                        continue;
                r = iom_strv_push_copy(&found, iom_address_format(&subject.address, a));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(found.v);
        return 0;
}

void manager_sriov_by_policy(struct manager *m) {
        for (size_t i = 0; i < m->inventory->n_devices; i++) {
                const struct iom_device *d = m->inventory->devices[i];
                const struct iom_policy_rule *rule;
                char a[IOM_ADDRESS_STRING_MAX];

                if (!d->sriov || d->is_vf)
                        continue;
                rule = device_rule(m, d, iom_policy_sriov);
                if (!rule || rule->sriov_numvfs == d->sriov_num_vfs)
                        continue;
                iom_address_format(&d->address, a);
                if (rule->sriov_numvfs > d->sriov_total_vfs) {
                        log_warning("Policy: rule '%s' (%s:%u) asks %u VFs of %s, which has at "
                                    "most %u, ignoring.",
                                    rule->id, rule->file, rule->line, rule->sriov_numvfs, a,
                                    d->sriov_total_vfs);
                        continue;
                }
                log_info("Policy: rule '%s' (%s:%u) gives %s %u VFs.", rule->id, rule->file,
                         rule->line, a, rule->sriov_numvfs);
                struct binder_request req = {.sriov = true, .vfs = rule->sriov_numvfs};
                if (submit_for(m, &req, "", a) < 0)
                        return;
        }
}

int manager_resolve_aliases(struct manager *m, char **names) {
        for (char **n = names; n && *n; n++) {
                const struct iom_address *a = iom_policy_alias(m->policy, *n);
                char buf[IOM_ADDRESS_STRING_MAX], *copy;

                if (!a)
                        continue;
                copy = strdup(iom_address_format(a, buf));
                if (!copy)
                        return -ENOMEM;
                free(*n);
                *n = copy;
        }
        return 0;
}
