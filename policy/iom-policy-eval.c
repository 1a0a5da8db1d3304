/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Evaluating the policy: the most specific applicable rule decides, deny wins ties, and
 * nothing applicable is a deny. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iom-policy.h"
#include "iom-strv.h"
#include "macro.h"

static bool rule_matches(const struct iom_policy_match *m, const struct iom_policy_subject *s) {
        if (m->dsn && (!s->dsn || !streq(m->dsn, s->dsn)))
                return false;
        if (m->vfs_of && (!s->physfn || !iom_address_equal(s->physfn, &m->vfs_of_address)))
                return false;
        if (m->same_group_as && (s->group < 0 || !s->group_of ||
                                 s->group_of(&m->same_group_as_address, s->userdata) != s->group))
                return false;
        char address[IOM_ADDRESS_STRING_MAX];

        if (m->address && fnmatch(m->address, iom_address_format(&s->address, address), 0) != 0)
                return false;
        if ((m->vendor >= 0 && m->vendor != s->vendor) ||
            (m->device >= 0 && m->device != s->device) ||
            (m->subsystem_vendor >= 0 && m->subsystem_vendor != s->subsystem_vendor) ||
            (m->subsystem_device >= 0 && m->subsystem_device != s->subsystem_device))
                return false;
        if (m->class_mask > 0 && (s->class & m->class_mask) != m->class_value)
                return false;
        if (m->driver && (!s->driver || !streq(m->driver, s->driver)))
                return false;
        if (m->host_driver && (!s->host_driver || !streq(m->host_driver, s->host_driver)))
                return false;
        return true;
}

/* 2: @guest is named exactly; 1: a glob or "*" covers it; 0: the rule is not for it. */
static int guest_applies(char *const *guests, const char *guest) {
        int best = 0;

        for (char *const *g = guests; g && *g; g++) {
                if (streq(*g, guest))
                        return 2;
                if (fnmatch(*g, guest, 0) == 0)
                        best = 1;
        }
        return best;
}

void iom_policy_evaluate(const struct iom_policy *p, const struct iom_policy_subject *s,
                         const char *guest, struct iom_policy_decision *ret) {
        const struct iom_policy_rule *best = NULL;
        unsigned best_score = 0;

        for (size_t i = 0; p && i < p->n_rules; i++) {
                const struct iom_policy_rule *r = &p->rules[i];
                int applies = guest_applies(r->guests, guest);

                if (!applies || !rule_matches(&r->match, s))
                        continue;
                /* Device keys weigh more than the guest's exactness. */
                unsigned score = r->match.n_keys * 4 + (unsigned) applies;
                if (!best || score > best_score ||
                    (score == best_score && r->action == IOM_POLICY_DENY &&
                     best->action == IOM_POLICY_ALLOW)) {
                        best = r;
                        best_score = score;
                }
        }
        *ret = (struct iom_policy_decision){
                .action = best ? best->action : IOM_POLICY_DENY,
                .rule = best,
        };
}

bool iom_policy_rule_matches(const struct iom_policy_rule *r, const struct iom_policy_subject *s) {
        return rule_matches(&r->match, s);
}

/* The first rule in file order that @wanted accepts and whose match holds for @s. */
static const struct iom_policy_rule *first_rule(const struct iom_policy *p,
                                                const struct iom_policy_subject *s,
                                                bool (*wanted)(const struct iom_policy_rule *r)) {
        for (size_t i = 0; p && i < p->n_rules; i++)
                if (wanted(&p->rules[i]) && rule_matches(&p->rules[i].match, s))
                        return &p->rules[i];
        return NULL;
}

static bool has_autobind(const struct iom_policy_rule *r) {
        return r->action == IOM_POLICY_ALLOW && r->autobind;
}

static bool has_resource_name(const struct iom_policy_rule *r) {
        return r->action == IOM_POLICY_ALLOW && r->resource_name;
}

static bool has_sriov_numvfs(const struct iom_policy_rule *r) {
        return r->sriov_numvfs > 0;
}

const struct iom_policy_rule *iom_policy_autobind(const struct iom_policy *p,
                                                  const struct iom_policy_subject *s) {
        return first_rule(p, s, has_autobind);
}

const struct iom_policy_rule *iom_policy_sriov(const struct iom_policy *p,
                                               const struct iom_policy_subject *s) {
        return first_rule(p, s, has_sriov_numvfs);
}

const struct iom_policy_rule *iom_policy_resource_name(const struct iom_policy *p,
                                                       const struct iom_policy_subject *s) {
        return first_rule(p, s, has_resource_name);
}

static int group_of(const struct iom_address *a, void *userdata) {
        const struct iom_device *d = iom_inventory_find_device(userdata, a);
        return d ? d->iommu_group : -1;
}

void iom_policy_subject_from_device(const struct iom_inventory *inv, const struct iom_device *d,
                                    struct iom_policy_subject *ret,
                                    char dsn[static IOM_DSN_STRING_MAX]) {
        *ret = (struct iom_policy_subject){
                .dsn = d->has_dsn ? iom_dsn_format(d->dsn, dsn) : NULL,
                .physfn = d->is_vf ? &d->physfn : NULL,
                .group = d->iommu_group,
                .group_of = group_of,
                .userdata = (void *) inv,
                .address = d->address,
                .vendor = d->vendor_id,
                .device = d->device_id,
                .subsystem_vendor = d->subsystem_vendor_id,
                .subsystem_device = d->subsystem_device_id,
                .class = d->class,
                .driver = d->driver,
                .host_driver = d->host_driver ? d->host_driver : d->driver,
        };
}

const struct iom_address *iom_policy_alias(const struct iom_policy *p, const char *name) {
        for (size_t i = 0; p && name && i < p->n_aliases; i++)
                if (streq(p->aliases[i].name, name))
                        return &p->aliases[i].address;
        return NULL;
}

static const char *const iom_policy_action_table[_IOM_POLICY_ACTION_MAX] = {
        [IOM_POLICY_ALLOW] = "allow",
        [IOM_POLICY_DENY] = "deny",
};

DEFINE_STRING_TABLE_LOOKUP(iom_policy_action, enum iom_policy_action);

static const char *const iom_sleep_inhibit_table[_IOM_SLEEP_INHIBIT_MAX] = {
        [IOM_SLEEP_INHIBIT_BLOCK] = "block",
        [IOM_SLEEP_INHIBIT_DELAY] = "delay",
        [IOM_SLEEP_INHIBIT_NONE] = "none",
};

DEFINE_STRING_TABLE_LOOKUP(iom_sleep_inhibit, enum iom_sleep_inhibit);

/* "key=value" words joined by blanks; out-of-memory is remembered until the end. */
struct words {
        struct iom_strv l;
        int r;
};

/* Adds "key=value", or "key" without a value. */
static void describe(struct words *w, const char *key, const char *value) {
        char *word;

        if (w->r < 0)
                return;
        if (asprintf(&word, "%s%s%s", key, value ? "=" : "", strempty(value)) < 0)
                w->r = -ENOMEM;
        else
                w->r = iom_strv_push(&w->l, word);
}

/* The words joined, @none when there is none, NULL on OOM. */
static char *words_join(struct words *w, const char *none) {
        char *s = w->r < 0 ? NULL : w->l.v ? iom_strv_join(w->l.v, " ") : strdup(none);

        iom_strv_done(&w->l);
        return s;
}

char *iom_policy_match_describe(const struct iom_policy_match *m) {
        static const char *const id_keys[] = {"vendor", "device", "subsystem_vendor",
                                              "subsystem_device"};
        const int ids[] = {m->vendor, m->device, m->subsystem_vendor, m->subsystem_device};
        struct words s = {};
        char buf[32];

        if (m->address)
                describe(&s, "address", m->address);
        for (size_t i = 0; i < ELEMENTSOF(id_keys); i++)
                if (ids[i] >= 0) {
                        (void) snprintf(buf, sizeof(buf), "%04x", (unsigned) ids[i]);
                        describe(&s, id_keys[i], buf);
                }
        if (m->class_mask > 0) {
                (void) snprintf(buf, sizeof(buf), "%06llx/%06llx",
                                (unsigned long long) m->class_value,
                                (unsigned long long) m->class_mask);
                describe(&s, "class", buf);
        }
        if (m->driver)
                describe(&s, "driver", m->driver);
        if (m->host_driver)
                describe(&s, "host_driver", m->host_driver);
        if (m->dsn)
                describe(&s, "dsn", m->dsn);
        if (m->same_group_as)
                describe(&s, "same_group_as", m->same_group_as);
        if (m->vfs_of)
                describe(&s, "vfs_of", m->vfs_of);
        return words_join(&s, "any device");
}

char *iom_policy_options_describe(const struct iom_policy_rule *r) {
        struct words s = {};
        char buf[16];

        if (r->autobind)
                describe(&s, "autobind", NULL);
        if (r->allow_in_use)
                describe(&s, "allow_in_use", NULL);
        if (r->require_isolation)
                describe(&s, "require_isolation", NULL);
        if (r->host_driver_option)
                describe(&s, "host_driver", r->host_driver_option);
        if (r->max_per_guest > 0) {
                (void) snprintf(buf, sizeof(buf), "%u", r->max_per_guest);
                describe(&s, "max_per_guest", buf);
        }
        if (r->resource_name)
                describe(&s, "resource_name", r->resource_name);
        if (r->sriov_numvfs > 0) {
                (void) snprintf(buf, sizeof(buf), "%u", r->sriov_numvfs);
                describe(&s, "sriov_numvfs", buf);
        }
        if (r->reset_method)
                describe(&s, "reset_method", r->reset_method);
        if (r->quarantine_after)
                describe(&s, "quarantine_after", NULL);
        if (r->disable_d3cold)
                describe(&s, "disable_d3cold", NULL);
        return words_join(&s, "");
}
