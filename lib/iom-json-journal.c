/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state journal's JSON form, read strictly: every error names the path in the file. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iom-journal.h"
#include "iom-json.h"
#include "iom-owner.h"
#include "iom-utf8.h"
#include "macro.h"

/* ---- writing ---- */

static json_object *string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static json_object *address_json(const struct iom_address *a) {
        char buf[IOM_ADDRESS_STRING_MAX];
        return json_object_new_string(iom_address_format(a, buf));
}

static json_object *steps_json(const struct iom_plan_step *steps, size_t n) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < n; i++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "address", address_json(&steps[i].address));
                json_object_object_add(o, "from", string_or_null(steps[i].from));
                json_object_object_add(o, "to", string_or_null(steps[i].to));
                json_object_object_add(o, "from_override", string_or_null(steps[i].from_override));
                json_object_array_add(a, o);
        }
        return a;
}

/* A claim, or a quarantine record (with "reason" and no "owner"). Optional keys are left out
 * when unset, so a journal without the features reads as before. */
static json_object *claims_json(const struct iom_claim *claims, size_t n) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < n; i++) {
                const struct iom_claim *c = &claims[i];
                json_object *o = json_object_new_object(), *devices = json_object_new_array();

                json_object_object_add(o, "group", json_object_new_int64(c->group));
                if (c->owner)
                        json_object_object_add(o, "owner", json_object_new_string(c->owner));
                if (c->reason)
                        json_object_object_add(o, "reason", json_object_new_string(c->reason));
                if (c->uuid)
                        json_object_object_add(o, "uuid", json_object_new_string(c->uuid));
                if (c->quarantine_after)
                        json_object_object_add(o, "quarantine_after",
                                               json_object_new_boolean(true));
                for (size_t k = 0; k < c->n_devices; k++) {
                        const struct iom_claim_device *cd = &c->devices[k];
                        const char *d3cold_was = iom_d3cold_to_string(cd->d3cold_was);
                        json_object *d = json_object_new_object();
                        json_object_object_add(d, "address", address_json(&cd->address));
                        json_object_object_add(d, "host_driver", string_or_null(cd->host_driver));
                        if (cd->reset_method)
                                json_object_object_add(d, "reset_method",
                                                       json_object_new_string(cd->reset_method));
                        if (d3cold_was) /* not when untouched */
                                json_object_object_add(d, "d3cold_was",
                                                       json_object_new_string(d3cold_was));
                        json_object_array_add(devices, d);
                }
                json_object_object_add(o, "devices", devices);
                json_object_array_add(a, o);
        }
        return a;
}

static json_object *resets_json(const struct iom_reset_record *resets, size_t n) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < n; i++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "address", address_json(&resets[i].address));
                json_object_object_add(o, "method", json_object_new_string(resets[i].method));
                json_object_object_add(o, "result", json_object_new_string(resets[i].result));
                json_object_array_add(a, o);
        }
        return a;
}

char *iom_journal_to_json(const struct iom_journal *j) {
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        json_object *claims = claims_json(j->claims, j->n_claims),
                    *intents = json_object_new_array();

        if (!root || !claims || !intents) {
                json_object_put(claims);
                json_object_put(intents);
                return NULL;
        }
        json_object_object_add(root, "version", json_object_new_int(IOM_JOURNAL_VERSION));
        json_object_object_add(root, "claims", claims);
        for (size_t i = 0; i < j->n_intents; i++) {
                const struct iom_intent *in = &j->intents[i];
                json_object *o = json_object_new_object();

                json_object_object_add(o, "group", json_object_new_int64(in->group));
                json_object_object_add(o, "op",
                                       json_object_new_string(iom_plan_op_to_string(in->op)));
                json_object_object_add(o, "owner", string_or_null(in->owner));
                json_object_object_add(o, "steps", steps_json(in->steps, in->n_steps));
                json_object_array_add(intents, o);
        }
        json_object_object_add(root, "intents", intents);
        if (j->n_quarantined > 0)
                json_object_object_add(root, "quarantined",
                                       claims_json(j->quarantined, j->n_quarantined));
        if (j->n_resets > 0)
                json_object_object_add(root, "resets", resets_json(j->resets, j->n_resets));

        return iom_json_format(root);
}

/* ---- reading ---- */

/* The first problem ends the reading: a journal is the daemon's own file. */
struct reader {
        struct iom_json_doc *doc;
        char **error;
};

#define bad(rd, path, ...) iom_json_error((rd)->doc, path, 0, (rd)->error, __VA_ARGS__)

/* An owner as iom_owner_validate() has it: the daemon logs and publishes what it reads. */
static int get_owner(struct reader *rd, json_object *o, const char *path, bool nullable,
                     char **ret) {
        _cleanup_free_ char *why = NULL;
        int r = iom_json_member_string(rd->doc, o, path, "owner", nullable, ret, rd->error);

        if (r < 0 || !*ret)
                return r;
        r = iom_owner_validate(*ret, &why);
        return r == -EINVAL ? bad(rd, path, "'owner': %s", why) : r;
}

static int get_group(struct reader *rd, json_object *o, const char *path, unsigned *ret) {
        json_object *v;
        int r = iom_json_member(rd->doc, o, path, "group", json_type_int, false, &v, rd->error);
        if (r < 0)
                return r;
        int64_t g = json_object_get_int64(v);
        if (g < 0 || g > UINT32_MAX)
                return bad(rd, path, "'group' is out of range");
        *ret = (unsigned) g;
        return 0;
}

static int get_address(struct reader *rd, json_object *o, const char *path,
                       struct iom_address *ret) {
        _cleanup_free_ char *why = NULL;
        json_object *v;
        int r = iom_json_member(rd->doc, o, path, "address", json_type_string, false, &v,
                                rd->error);
        if (r < 0)
                return r;
        r = iom_address_parse(json_object_get_string(v), ret, &why);
        return r == -EINVAL ? bad(rd, path, "'address': %s", why) : r;
}

/* An optional string: NULL when the key is absent. */
static int get_optional_string(struct reader *rd, json_object *o, const char *path,
                               const char *key, char **ret) {
        if (!json_object_object_get_ex(o, key, NULL))
                return 0;
        return iom_json_member_string(rd->doc, o, path, key, false, ret, rd->error);
}

/* "0" or "1", as d3cold_allowed reads; untouched when absent. */
static int get_d3cold(struct reader *rd, json_object *o, const char *path, enum iom_d3cold *ret) {
        _cleanup_free_ char *s = NULL;
        int r = get_optional_string(rd, o, path, "d3cold_was", &s);
        if (r < 0 || !s)
                return r;
        *ret = iom_d3cold_from_string(s);
        if (*ret < 0)
                return bad(rd, path, "'d3cold_was' must be \"0\" or \"1\"");
        return 0;
}

/* A claim (with an owner), or a quarantine record (@quarantine: with a reason, no owner). */
static int read_claim(struct reader *rd, json_object *o, const char *path, bool quarantine,
                      struct iom_claim *c) {
        static const char *const keys[] = {"group", "owner", "uuid", "quarantine_after",
                                           "devices", NULL};
        static const char *const quarantine_keys[] = {"group", "reason", "devices", NULL};
        static const char *const device_keys[] = {"address", "host_driver", "reset_method",
                                                  "d3cold_was", NULL};
        json_object *devices, *v = NULL;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return bad(rd, path, "must be an object");
        if ((r = iom_json_check_keys(rd->doc, o, path, quarantine ? quarantine_keys : keys,
                                     rd->error)) < 0 ||
            (r = get_group(rd, o, path, &c->group)) < 0 ||
            (quarantine && (r = iom_json_member_string(rd->doc, o, path, "reason", false,
                                                       &c->reason, rd->error)) < 0) ||
            (!quarantine && (r = get_owner(rd, o, path, false, &c->owner)) < 0) ||
            /* Optional: journals from before libvirt's UUIDs were recorded lack it. */
            (r = get_optional_string(rd, o, path, "uuid", &c->uuid)) < 0 ||
            (json_object_object_get_ex(o, "quarantine_after", NULL) &&
             (r = iom_json_member(rd->doc, o, path, "quarantine_after", json_type_boolean, false,
                                  &v, rd->error)) < 0) ||
            (r = iom_json_member(rd->doc, o, path, "devices", json_type_array, false, &devices,
                                 rd->error)) < 0)
                return r;
        c->quarantine_after = v && json_object_get_boolean(v);
        size_t n = json_object_array_length(devices);
        c->devices = calloc(n ? n : 1, sizeof(*c->devices));
        if (!c->devices)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *d = json_object_array_get_idx(devices, i);
                struct iom_claim_device *cd = &c->devices[i];
                char sub[128];

                (void) snprintf(sub, sizeof(sub), "%s.devices[%zu]", path, i);
                if (!json_object_is_type(d, json_type_object))
                        return bad(rd, sub, "must be an object");
                c->n_devices++;
                if ((r = iom_json_check_keys(rd->doc, d, sub, device_keys, rd->error)) < 0 ||
                    (r = get_address(rd, d, sub, &cd->address)) < 0 ||
                    (r = iom_json_member_string(rd->doc, d, sub, "host_driver", true,
                                                &cd->host_driver, rd->error)) < 0 ||
                    (r = get_optional_string(rd, d, sub, "reset_method", &cd->reset_method)) <
                            0 ||
                    (r = get_d3cold(rd, d, sub, &cd->d3cold_was)) < 0)
                        return r;
        }
        return 0;
}

static int read_intent(struct reader *rd, json_object *o, const char *path, struct iom_intent *in) {
        static const char *const keys[] = {"group", "op", "owner", "steps", NULL};
        static const char *const step_keys[] = {"address", "from", "to", "from_override", NULL};
        _cleanup_free_ char *op = NULL;
        json_object *steps;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return bad(rd, path, "must be an object");
        if ((r = iom_json_check_keys(rd->doc, o, path, keys, rd->error)) < 0 ||
            (r = get_group(rd, o, path, &in->group)) < 0 ||
            (r = iom_json_member_string(rd->doc, o, path, "op", false, &op, rd->error)) < 0 ||
            (r = get_owner(rd, o, path, true, &in->owner)) < 0 ||
            (r = iom_json_member(rd->doc, o, path, "steps", json_type_array, false, &steps,
                                 rd->error)) < 0)
                return r;
        in->op = iom_plan_op_from_string(op);
        if (in->op < 0)
                return bad(rd, path, "'op' must be assign, release or rebind, not '%s'",
                           IOM_ESCAPE(op));
        size_t n = json_object_array_length(steps);
        in->steps = calloc(n ? n : 1, sizeof(*in->steps));
        if (!in->steps)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *s = json_object_array_get_idx(steps, i);
                struct iom_plan_step *step = &in->steps[i];
                char sub[128];

                (void) snprintf(sub, sizeof(sub), "%s.steps[%zu]", path, i);
                if (!json_object_is_type(s, json_type_object))
                        return bad(rd, sub, "must be an object");
                step->group = in->group;
                step->named = true;
                in->n_steps++;
                if ((r = iom_json_check_keys(rd->doc, s, sub, step_keys, rd->error)) < 0 ||
                    (r = get_address(rd, s, sub, &step->address)) < 0 ||
                    (r = iom_json_member_string(rd->doc, s, sub, "from", true, &step->from,
                                                rd->error)) < 0 ||
                    (r = iom_json_member_string(rd->doc, s, sub, "to", true, &step->to,
                                                rd->error)) < 0 ||
                    (r = iom_json_member_string(rd->doc, s, sub, "from_override", true,
                                                &step->from_override, rd->error)) < 0)
                        return r;
                step->named_by = step->address;
        }
        return 0;
}

/* An array of the top level that journals from before it lack: *@ret_n elements of @size
 * allocated in *@ret, none when absent. */
static int get_optional_array(struct reader *rd, json_object *root, const char *key, size_t size,
                              json_object **ret_array, void **ret, size_t *ret_n) {
        int r;

        *ret_array = NULL;
        *ret_n = 0;
        if (!json_object_object_get_ex(root, key, NULL))
                return 0;
        r = iom_json_member(rd->doc, root, "", key, json_type_array, false, ret_array, rd->error);
        if (r < 0)
                return r;
        *ret_n = json_object_array_length(*ret_array);
        *ret = calloc(*ret_n ? *ret_n : 1, size);
        return *ret ? 0 : -ENOMEM;
}

static int read_quarantined(struct reader *rd, json_object *root, struct iom_journal *j) {
        json_object *a;
        size_t n;
        int r;

        r = get_optional_array(rd, root, "quarantined", sizeof(*j->quarantined), &a,
                               (void **) &j->quarantined, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                char path[64];
                (void) snprintf(path, sizeof(path), "quarantined[%zu]", i);
                j->n_quarantined++;
                r = read_claim(rd, json_object_array_get_idx(a, i), path, true, &j->quarantined[i]);
                if (r < 0)
                        return r;
                if (iom_journal_find_quarantine(j, j->quarantined[i].group) != &j->quarantined[i] ||
                    iom_journal_find_claim(j, j->quarantined[i].group))
                        return bad(rd, path, "group %u is recorded twice", j->quarantined[i].group);
        }
        return 0;
}

static int read_resets(struct reader *rd, json_object *root, struct iom_journal *j) {
        static const char *const keys[] = {"address", "method", "result", NULL};
        json_object *a;
        size_t n;
        int r;

        r = get_optional_array(rd, root, "resets", sizeof(*j->resets), &a, (void **) &j->resets,
                               &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_array_get_idx(a, i);
                struct iom_reset_record *rec;
                struct iom_address address;
                char path[64];

                (void) snprintf(path, sizeof(path), "resets[%zu]", i);
                if (!json_object_is_type(o, json_type_object))
                        return bad(rd, path, "must be an object");
                if ((r = iom_json_check_keys(rd->doc, o, path, keys, rd->error)) < 0 ||
                    (r = get_address(rd, o, path, &address)) < 0 ||
                    (r = iom_journal_reset_record(j, &address, &rec)) < 0)
                        return r;
                if (r == 0)
                        return bad(rd, path, "a second record of the same device");
                if ((r = iom_json_member_string(rd->doc, o, path, "method", false, &rec->method,
                                                rd->error)) < 0 ||
                    (r = iom_json_member_string(rd->doc, o, path, "result", false, &rec->result,
                                                rd->error)) < 0)
                        return r;
        }
        return 0;
}

static int read_journal(struct reader *rd, json_object *root, struct iom_journal **ret) {
        static const char *const keys[] = {"version", "claims",      "intents",
                                           "resets",  "quarantined", NULL};
        _cleanup_(iom_journal_freep) struct iom_journal *j = NULL;
        json_object *v, *claims, *intents;
        int r;

        if (!json_object_is_type(root, json_type_object))
                return bad(rd, "", "must be an object");
        if ((r = iom_json_check_keys(rd->doc, root, "", keys, rd->error)) < 0 ||
            (r = iom_json_member(rd->doc, root, "", "version", json_type_int, false, &v,
                                 rd->error)) < 0)
                return r;
        if (json_object_get_int64(v) != IOM_JOURNAL_VERSION)
                return bad(rd, "version", "version %lld is not %d",
                           (long long) json_object_get_int64(v), IOM_JOURNAL_VERSION);
        if ((r = iom_json_member(rd->doc, root, "", "claims", json_type_array, false, &claims,
                                 rd->error)) < 0 ||
            (r = iom_json_member(rd->doc, root, "", "intents", json_type_array, false, &intents,
                                 rd->error)) < 0)
                return r;

        j = iom_journal_new();
        if (!j)
                return -ENOMEM;
        size_t n = json_object_array_length(claims);
        j->claims = calloc(n ? n : 1, sizeof(*j->claims));
        if (!j->claims)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char path[64];
                (void) snprintf(path, sizeof(path), "claims[%zu]", i);
                j->n_claims++;
                r = read_claim(rd, json_object_array_get_idx(claims, i), path, false,
                               &j->claims[i]);
                if (r < 0)
                        return r;
                if (iom_journal_find_claim(j, j->claims[i].group) != &j->claims[i])
                        return bad(rd, path, "group %u is claimed twice", j->claims[i].group);
        }
        n = json_object_array_length(intents);
        j->intents = calloc(n ? n : 1, sizeof(*j->intents));
        if (!j->intents)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char path[64];
                (void) snprintf(path, sizeof(path), "intents[%zu]", i);
                j->n_intents++;
                r = read_intent(rd, json_object_array_get_idx(intents, i), path, &j->intents[i]);
                if (r < 0)
                        return r;
        }
        r = read_quarantined(rd, root, j);
        if (r < 0)
                return r;
        r = read_resets(rd, root, j);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(j);
        return 0;
}

int iom_journal_from_json(const char *text, const char *name, struct iom_journal **ret,
                          char **ret_error) {
        _cleanup_(iom_json_doc_freep) struct iom_json_doc *doc = NULL;
        int r;

        /* Syntax, content after the document, a repeated key: "s.json:3:5: what". */
        r = iom_json_parse(name ? name : "journal", text, &doc, ret_error);
        if (r < 0)
                return r;
        /* The rest: "s.json: claims[0]: what". */
        iom_json_locate_by_path(doc);
        r = read_journal(&(struct reader){.doc = doc, .error = ret_error}, iom_json_root(doc), ret);
        return r == -EINVAL ? -EBADMSG : r;
}
