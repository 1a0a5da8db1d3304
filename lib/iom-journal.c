/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state journal: the model, and atomic persistence. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iom-bind.h"
#include "iom-error.h"
#include "iom-file.h"
#include "iom-journal.h"
#include "iom-log.h"
#include "iom-sysfs.h"
#include "macro.h"

struct iom_journal *iom_journal_new(void) {
        return calloc(1, sizeof(struct iom_journal));
}

static void steps_free(struct iom_plan_step *steps, size_t n) {
        for (size_t i = 0; i < n; i++)
                iom_plan_step_clear(&steps[i]);
        free(steps);
}

static void claim_device_clear(struct iom_claim_device *d) {
        free(d->host_driver);
        free(d->reset_method);
}

static void claim_clear(struct iom_claim *c) {
        for (size_t i = 0; i < c->n_devices; i++)
                claim_device_clear(&c->devices[i]);
        free(c->devices);
        free(c->owner);
        free(c->uuid);
        free(c->reason);
}

static void intent_clear(struct iom_intent *in) {
        steps_free(in->steps, in->n_steps);
        free(in->owner);
}

struct iom_journal *iom_journal_free(struct iom_journal *j) {
        if (!j)
                return NULL;
        for (size_t i = 0; i < j->n_claims; i++)
                claim_clear(&j->claims[i]);
        free(j->claims);
        for (size_t i = 0; i < j->n_intents; i++)
                intent_clear(&j->intents[i]);
        free(j->intents);
        for (size_t i = 0; i < j->n_quarantined; i++)
                claim_clear(&j->quarantined[i]);
        free(j->quarantined);
        for (size_t i = 0; i < j->n_resets; i++) {
                free(j->resets[i].method);
                free(j->resets[i].result);
        }
        free(j->resets);
        free(j);
        return NULL;
}

static struct iom_claim *find_in(struct iom_claim *claims, size_t n, unsigned group) {
        for (size_t i = 0; i < n; i++)
                if (claims[i].group == group)
                        return &claims[i];
        return NULL;
}

const struct iom_claim *iom_journal_find_claim(const struct iom_journal *j, unsigned group) {
        return j ? find_in(j->claims, j->n_claims, group) : NULL;
}

const struct iom_claim *iom_journal_find_quarantine(const struct iom_journal *j, unsigned group) {
        return j ? find_in(j->quarantined, j->n_quarantined, group) : NULL;
}

/* The first of @j's resets, sorted by address, whose address is not below @a: its record, or
 * where it goes. */
static int reset_compare_key(const void *key, const void *element) {
        const struct iom_reset_record *r = element;
        return iom_address_compare(key, &r->address);
}

static size_t reset_index(const struct iom_journal *j, const struct iom_address *a) {
        return sorted_position(j->resets, j->n_resets, sizeof(*j->resets), a, reset_compare_key);
}

const struct iom_reset_record *iom_journal_find_reset(const struct iom_journal *j,
                                                      const struct iom_address *a) {
        size_t i;

        if (!j || !a)
                return NULL;
        i = reset_index(j, a);
        return i < j->n_resets && iom_address_equal(&j->resets[i].address, a) ? &j->resets[i]
                                                                              : NULL;
}

int iom_journal_reset_record(struct iom_journal *j, const struct iom_address *a,
                             struct iom_reset_record **ret) {
        size_t i;

        if (!j || !a || !ret)
                return -EINVAL;
        i = reset_index(j, a);
        if (i < j->n_resets && iom_address_equal(&j->resets[i].address, a)) {
                *ret = &j->resets[i];
                return 0;
        }
        if (GREEDY_REALLOC(j->resets, j->n_resets + 1) < 0)
                return -ENOMEM;
        memmove(j->resets + i + 1, j->resets + i, (j->n_resets - i) * sizeof(*j->resets));
        j->resets[i] = (struct iom_reset_record){.address = *a};
        j->n_resets++;
        *ret = &j->resets[i];
        return 1;
}

const struct iom_intent *iom_journal_find_intent(const struct iom_journal *j, unsigned group) {
        for (size_t i = 0; j && i < j->n_intents; i++)
                if (j->intents[i].group == group)
                        return &j->intents[i];
        return NULL;
}

static char *strdup_or_null(const char *s, bool *oom) {
        char *c = s ? strdup(s) : NULL;
        if (s && !c)
                *oom = true;
        return c;
}

void iom_journal_end(struct iom_journal *j, unsigned group) {
        for (size_t i = 0; i < j->n_intents; i++)
                if (j->intents[i].group == group) {
                        intent_clear(&j->intents[i]);
                        j->intents[i] = j->intents[--j->n_intents];
                        return;
                }
}

int iom_journal_begin(struct iom_journal *j, const struct iom_plan *plan, unsigned group) {
        struct iom_intent in = {.group = group, .op = plan->op};
        size_t first, n = iom_plan_group_steps(plan, group, &first);
        bool oom = false;

        in.owner = strdup_or_null(plan->owner, &oom);
        in.steps = calloc(n ? n : 1, sizeof(*in.steps));
        if (!in.steps)
                oom = true;
        for (size_t i = 0; !oom && i < n; i++) {
                if (iom_plan_step_copy(&in.steps[i], &plan->steps[first + i]) < 0)
                        oom = true;
                else
                        in.n_steps++;
        }
        struct iom_intent *grown =
                oom ? NULL : realloc(j->intents, (j->n_intents + 1) * sizeof(*grown));
        if (!grown) {
                intent_clear(&in);
                return -ENOMEM;
        }
        j->intents = grown;
        iom_journal_end(j, group);
        j->intents[j->n_intents++] = in;
        return 0;
}

/* Removes @group's record from @claims. */
static void remove_from(struct iom_claim *claims, size_t *n, unsigned group) {
        struct iom_claim *c = find_in(claims, *n, group);

        if (!c)
                return;
        claim_clear(c);
        *c = claims[--*n];
}

void iom_journal_unclaim(struct iom_journal *j, unsigned group) {
        remove_from(j->claims, &j->n_claims, group);
}

void iom_journal_unquarantine(struct iom_journal *j, unsigned group) {
        remove_from(j->quarantined, &j->n_quarantined, group);
}

int iom_journal_unquarantine_device(struct iom_journal *j, unsigned group,
                                    const struct iom_address *a) {
        struct iom_claim *c;

        if (!j || !a)
                return -EINVAL;
        c = find_in(j->quarantined, j->n_quarantined, group);
        for (size_t k = 0; c && k < c->n_devices; k++) {
                if (!iom_address_equal(&c->devices[k].address, a))
                        continue;
                claim_device_clear(&c->devices[k]);
                memmove(c->devices + k, c->devices + k + 1,
                        (c->n_devices - k - 1) * sizeof(*c->devices));
                if (--c->n_devices > 0)
                        return 0;
                iom_journal_unquarantine(j, group);
                return 1;
        }
        return -ENOENT;
}

/* A record of @plan's steps for @group, added to @claims (replacing the one for @group).
 * Where each device goes home: a release's "to", else the rule's host_driver or its "from". */
static int add_record(struct iom_claim **claims, size_t *n_claims, const struct iom_plan *plan,
                      unsigned group, const char *reason) {
        struct iom_claim c = {.group = group};
        size_t first, n = iom_plan_group_steps(plan, group, &first);
        bool oom = false;

        c.owner = strdup_or_null(reason ? NULL : plan->owner, &oom);
        c.uuid = strdup_or_null(reason ? NULL : plan->owner_uuid, &oom);
        c.reason = strdup_or_null(reason, &oom);
        c.devices = calloc(n ? n : 1, sizeof(*c.devices));
        if (!c.devices)
                oom = true;
        for (size_t i = 0; !oom && i < n; i++) {
                const struct iom_plan_step *step = &plan->steps[first + i];
                struct iom_claim_device *d = &c.devices[i];

                d->address = step->address;
                d->host_driver = strdup_or_null(plan->op == IOM_PLAN_RELEASE ? step->to
                                                : step->release_to           ? step->release_to
                                                                             : step->from,
                                                &oom);
                d->reset_method = strdup_or_null(step->reset_method, &oom);
                d->d3cold_was = step->d3cold_was;
                /* A quarantine record has done what quarantine_after asks. */
                c.quarantine_after = !reason && (c.quarantine_after || step->quarantine_after);
                c.n_devices++;
        }
        struct iom_claim *grown = oom ? NULL : realloc(*claims, (*n_claims + 1) * sizeof(*grown));
        if (!grown) {
                claim_clear(&c);
                return -ENOMEM;
        }
        *claims = grown;
        remove_from(*claims, n_claims, group);
        (*claims)[(*n_claims)++] = c;
        return 0;
}

int iom_journal_claim(struct iom_journal *j, const struct iom_plan *plan, unsigned group) {
        if (!plan->owner)
                return -EINVAL;
        return add_record(&j->claims, &j->n_claims, plan, group, NULL);
}

int iom_journal_quarantine(struct iom_journal *j, const struct iom_plan *plan, unsigned group,
                           const char *reason) {
        if (!reason)
                return -EINVAL;
        return add_record(&j->quarantined, &j->n_quarantined, plan, group, reason);
}

int iom_journal_record_resets(struct iom_journal *j, const struct iom_plan *plan, unsigned group) {
        size_t first, n = iom_plan_group_steps(plan, group, &first);

        for (size_t i = first; i < first + n; i++) {
                const struct iom_plan_step *s = &plan->steps[i];
                struct iom_reset_record *rec;
                char *method, *result;

                if (!s->reset_result)
                        continue;
                /* Copied before a new record takes its place: it is never left half made. */
                method = strdup(s->reset_method ? s->reset_method : IOM_RESET_DEFAULT);
                result = strdup(s->reset_result);
                if (!method || !result || iom_journal_reset_record(j, &s->address, &rec) < 0) {
                        free(method);
                        free(result);
                        return -ENOMEM;
                }
                free(rec->method);
                free(rec->result);
                rec->method = method;
                rec->result = result;
        }
        return 0;
}

int iom_journal_copy(const struct iom_journal *j, struct iom_journal **ret) {
        _cleanup_free_ char *json = NULL;

        if (!j || !ret)
                return -EINVAL;
        /* Through the file format: the copy holds exactly what a save and a load would. */
        json = iom_journal_to_json(j);
        if (!json)
                return -ENOMEM;
        return iom_journal_from_json(json, "journal copy", ret, NULL);
}

int iom_journal_load(const char *path, struct iom_journal **ret, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        int r;

        if (!path || !ret)
                return -EINVAL;
        iom_file_remove_stale_temporaries(path);
        r = iom_read_file(path, IOM_JOURNAL_SIZE_MAX, &text, NULL);
        if (r == -ENOENT) {
                *ret = iom_journal_new();
                return *ret ? 0 : -ENOMEM;
        }
        if (r == -EFBIG)
                return iom_error(ret_error, -EBADMSG, "%s: larger than %d bytes", path,
                                 IOM_JOURNAL_SIZE_MAX);
        if (r < 0)
                return r;
        return iom_journal_from_json(text, path, ret, ret_error);
}

int iom_journal_save(const struct iom_journal *j, const char *path) {
        _cleanup_free_ char *json = NULL;

        if (!j || !path)
                return -EINVAL;
        json = iom_journal_to_json(j);
        if (!json)
                return -ENOMEM;
        return iom_file_replace(path, json, 0644, true);
}

int iom_journal_move_aside(const char *path, char **ret_new_path) {
        _cleanup_free_ char *aside = NULL;

        if (asprintf(&aside, "%s.corrupt-%lld", path, (long long) time(NULL)) < 0)
                return -ENOMEM;
        if (rename(path, aside) < 0)
                return negative_errno();
        if (ret_new_path)
                *ret_new_path = TAKE_PTR(aside);
        return 0;
}

int iom_journal_intent_plan(const struct iom_journal *j, unsigned group, struct iom_plan **ret) {
        const struct iom_intent *in = iom_journal_find_intent(j, group);
        struct iom_plan *p = NULL;
        int r;

        if (!in)
                return -ENOENT;
        r = iom_plan_new(in->op, in->owner, &p);
        for (size_t i = 0; r >= 0 && i < in->n_steps; i++)
                r = iom_plan_append_step(p, &in->steps[i]);
        if (r < 0) {
                iom_plan_free(p);
                return r;
        }
        *ret = p;
        return 0;
}
