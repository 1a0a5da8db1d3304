/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.iommud1.Manager at /org/iommud1: what the host is, as a whole. */
#include <inttypes.h>
#include <stdlib.h>

#include "auth.h"
#include "binder.h"
#include "iom-bind.h"
#include "bus-error.h"
#include "bus-util.h"
#include "explain.h"
#include "export.h"
#include "iom-bus-ranges.h"
#include "iom-domain.h"
#include "iom-owner.h"
#include "iom-plan.h"
#include "iom-policy.h"
#include "iom-utf8.h"
#include "manager.h"
#include "policy.h"
#include "space.h"
#include "worker.h"

/* Assign and Release name at most this many devices: more than a host's groups would be
 * unusual, and the cost of a call stays bounded. */
#define MANAGER_DEVICES_MAX 4096u
/* Explain is open to everyone; its in-use scans run off the loop, this many at a time. */
#define EXPLAIN_CONCURRENT_MAX 4u

struct change_options {
        bool dry_run;
        bool force;
        char *uuid; /* assign: the guest's libvirt UUID, normalized */
};

/* The "uuid" option's variant: a UUID in any spelling libvirt accepts. */
static int read_uuid_option(sd_bus_message *m, char **ret, sd_bus_error *error) {
        const char *s;
        int r;

        r = sd_bus_message_read(m, "v", "s", &s);
        if (r < 0)
                return sd_bus_error_setf(error, IOMMUD_ERROR_INVALID_ARGUMENT,
                                         "Option 'uuid' takes a string");
        free(*ret);
        *ret = NULL;
        r = iom_uuid_normalize(s, ret);
        if (r == -EINVAL)
                return sd_bus_error_setf(error, IOMMUD_ERROR_INVALID_ARGUMENT,
                                         "Option 'uuid': '%.64s' is not a UUID", s);
        return r;
}

struct change_options_reader {
        struct change_options *options;
        sd_bus_error *error;
};

static int read_change_option(sd_bus_message *m, const char *key, void *userdata) {
        struct change_options_reader *rd = userdata;
        bool *target;
        int b, r;

        if (streq(key, "uuid"))
                return read_uuid_option(m, &rd->options->uuid, rd->error);
        if (streq(key, "dry-run"))
                target = &rd->options->dry_run;
        else if (streq(key, "force"))
                target = &rd->options->force;
        else
                return sd_bus_error_setf(rd->error, IOMMUD_ERROR_INVALID_ARGUMENT,
                                         "Unknown option '%s'", IOM_ESCAPE(key));
        r = sd_bus_message_read(m, "v", "b", &b);
        if (r < 0)
                return sd_bus_error_setf(rd->error, IOMMUD_ERROR_INVALID_ARGUMENT,
                                         "Option '%s' takes a boolean", key);
        *target = b;
        return 0;
}

/* a{sv}: "dry-run" (b), "force" (b) and "uuid" (s); anything else is refused, never ignored.
 * On failure the caller still frees ret->uuid. */
static int read_change_options(sd_bus_message *m, struct change_options *ret, sd_bus_error *error) {
        *ret = (struct change_options){};
        return iom_bus_read_dict(m, read_change_option,
                                 &(struct change_options_reader){ret, error});
}

/* The plan as a(sss(ss)(ssu)(sss)), one struct per step: address, driver it had, driver it
 * gets ("" for none), why it is included (kind "named" or "peer", and for a peer the named
 * device that brought it along, else ""), the policy rule that allowed it (id, file, line; all
 * empty for release and rebind), and the reset on the way home (method, "ok" or what failed,
 * and why the group was quarantined instead; all empty when no reset was tried). Data, not
 * prose: clients word it. */
int bus_append_plan(sd_bus_message *reply, const struct iom_plan *plan) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sss(ss)(ssu)(sss))");
        if (r < 0)
                return r;
        for (size_t i = 0; i < plan->n_steps; i++) {
                const struct iom_plan_step *s = &plan->steps[i];
                char a[IOM_ADDRESS_STRING_MAX], by[IOM_ADDRESS_STRING_MAX];

                r = sd_bus_message_append(
                        reply, "(sss(ss)(ssu)(sss))", iom_address_format(&s->address, a),
                        strempty(s->from), strempty(s->to), iom_plan_step_reason(s),
                        s->named ? "" : iom_address_format(&s->named_by, by), strempty(s->rule.id),
                        strempty(s->rule.file), s->rule.line,
                        !s->reset_result  ? ""
                        : s->reset_method ? s->reset_method
                                          : IOM_RESET_DEFAULT,
                        strempty(s->reset_result), strempty(s->quarantine));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* iommud itself holds a group that backs a space (its VFIO container): taking the group from
 * vfio-pci would wait on ourselves. The space's creator must destroy it first. */
static int check_no_space(struct manager *m, const struct iom_plan *plan, sd_bus_error *error) {
        if (plan->op == IOM_PLAN_ASSIGN)
                return 0;
        for (size_t i = 0; i < plan->n_groups; i++) {
                const struct space *s = space_find_by_group(m, plan->groups[i]);
                if (s)
                        return sd_bus_error_setf(error, IOMMUD_ERROR_IN_USE,
                                                 "IOMMU group %u backs the I/O address space %s "
                                                 "of %s (created by %s); destroy it first",
                                                 plan->groups[i], s->path, s->guest, s->creator);
        }
        return 0;
}

/* The shape every change method shares, once the filter (daemon/auth.c) let the caller
 * through: read the options, plan (which validates every argument), then hand the request to
 * the binder, which replies once the groups have moved; a dry run goes the same way, so that
 * the same checks refuse it (the in-use scan reads /proc, off the loop), and stops before the
 * journal and sysfs. */
static int run_change(struct manager *m, sd_bus_message *message, struct binder_request *req,
                      sd_bus_error *error) {
        _cleanup_(iom_plan_freep) struct iom_plan *plan = NULL;
        _cleanup_free_ char *why = NULL;
        struct change_options options;
        int r;

        r = read_change_options(message, &options, error);
        req->uuid = TAKE_PTR(options.uuid); /* freed with the request */
        if (r < 0)
                return r;
        if (req->uuid && req->op != IOM_PLAN_ASSIGN)
                return sd_bus_error_setf(error, IOMMUD_ERROR_INVALID_ARGUMENT,
                                         "Option 'uuid' goes with Assign only");
        if (options.force && req->sriov)
                return sd_bus_error_setf(error, IOMMUD_ERROR_INVALID_ARGUMENT,
                                         "Option 'force' does not go with SetVFs");
        r = manager_resolve_aliases(m, req->devices);
        if (r < 0)
                return r;
        r = binder_plan(m, req, &plan, &why);
        if (r < 0)
                return bus_error_set_errno(error, r, why);
        r = check_no_space(m, plan, error);
        if (r < 0)
                return r;
        if (options.force) {
                r = auth_sender_is_root(m->auth, message);
                if (r <= 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                                 "Only an administrator may force a change");
        }
        req->dry_run = options.dry_run;
        req->force = options.force;
        return binder_submit(m, req, message, error);
}

/* Assign and Release: (s guest, as devices, a{sv} options). */
static int method_owner_change(sd_bus_message *message, void *userdata, sd_bus_error *error,
                               enum iom_plan_op op) {
        struct binder_request req = {.op = op};
        const char *guest;
        int r;

        r = sd_bus_message_read(message, "s", &guest);
        if (r >= 0 && !(req.owner = strdup(guest)))
                r = -ENOMEM;
        if (r >= 0)
                r = bus_read_strv(message, MANAGER_DEVICES_MAX, &req.devices);
        if (r == -E2BIG)
                r = sd_bus_error_setf(error, IOMMUD_ERROR_INVALID_ARGUMENT,
                                      "At most %u devices in one call", MANAGER_DEVICES_MAX);
        if (r >= 0)
                r = run_change(userdata, message, &req, error);
        binder_request_done(&req);
        return r;
}

static int method_assign(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_owner_change(message, userdata, error, IOM_PLAN_ASSIGN);
}

static int method_release(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_owner_change(message, userdata, error, IOM_PLAN_RELEASE);
}

/* Rebind (s device, s driver, a{sv} options) and ReleaseQuarantine (s device, a{sv} options):
 * an administrator's change of one device's group. */
static int method_device_change(sd_bus_message *message, void *userdata, sd_bus_error *error,
                                struct binder_request *req) {
        const char *device, *driver = NULL;
        int r;

        r = sd_bus_message_read(message, "s", &device);
        if (r >= 0 && req->op == IOM_PLAN_REBIND)
                r = sd_bus_message_read(message, "s", &driver);
        if (r >= 0 &&
            (!(req->devices = calloc(2, sizeof(char *))) || !(req->devices[0] = strdup(device)) ||
             (driver && !(req->driver = strdup(driver)))))
                r = -ENOMEM;
        if (r >= 0)
                r = run_change(userdata, message, req, error);
        binder_request_done(req);
        return r;
}

/* SetVFs: (s device, u count, a{sv} options). */
static int method_set_vfs(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        struct binder_request req = {.op = IOM_PLAN_REBIND, .sriov = true};
        const char *device;
        int r;

        r = sd_bus_message_read(message, "su", &device, &req.vfs);
        if (r >= 0 && (!(req.devices = calloc(2, sizeof(char *))) ||
                       !(req.devices[0] = strdup(device))))
                r = -ENOMEM;
        if (r >= 0)
                r = run_change(userdata, message, &req, error);
        binder_request_done(&req);
        return r;
}

static int method_rebind(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_device_change(message, userdata, error,
                                    &(struct binder_request){.op = IOM_PLAN_REBIND});
}

static int method_release_quarantine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_device_change(
                message, userdata, error,
                &(struct binder_request){.op = IOM_PLAN_RELEASE, .from_quarantine = true});
}

static int property_get_sleep_inhibitor(sd_bus *bus, const char *path, const char *interface,
                                        const char *property, sd_bus_message *reply, void *userdata,
                                        sd_bus_error *error) {
        struct manager *m = userdata;
        return sd_bus_message_append(reply, "s", m->inhibit_fd >= 0 ? m->inhibit_mode : "");
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int property_get_host(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error) {
        struct manager *m = userdata;
        const struct iom_host *h = m->inventory->host;

        if (streq(property, "IommuPresent"))
                return sd_bus_message_append(reply, "b", h->n_units > 0 || h->groups_present);
        if (streq(property, "InterruptRemapping"))
                return sd_bus_message_append(reply, "b", h->interrupt_remapping);
        if (streq(property, "AllowUnsafeInterrupts"))
                return sd_bus_message_append(reply, "b", h->allow_unsafe_interrupts);
        if (streq(property, "AcsOverride"))
                return sd_bus_message_append(reply, "b", h->acs_override);
        if (streq(property, "KernelParameters"))
                return sd_bus_message_append_strv(reply, h->kernel_parameters);
        if (streq(property, "Notice"))
                return sd_bus_message_append(reply, "s", strempty(h->notice));
        if (streq(property, "GroupCount"))
                return sd_bus_message_append(reply, "u", (uint32_t) m->inventory->n_groups);
        if (streq(property, "DeviceCount"))
                return sd_bus_message_append(reply, "u", (uint32_t) m->inventory->n_devices);
        return -ENOENT;
}

static int property_get_units(sd_bus *bus, const char *path, const char *interface,
                              const char *property, sd_bus_message *reply, void *userdata,
                              sd_bus_error *error) {
        struct manager *m = userdata;
        const struct iom_host *h = m->inventory->host;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < h->n_units; i++) {
                r = sd_bus_message_append(reply, "(ss)", h->units[i].name, h->units[i].type);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* An Explain whose in-use part runs off the loop. */
struct explain_call {
        struct manager *manager;
        sd_bus_message *message;
        struct explanation explanation;
        int result;
};

static void explain_reply(sd_bus_message *message, const struct explanation *e, int result) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = result;

        if (r >= 0)
                r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "b", e->allowed);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ss)");
        for (size_t i = 0; r >= 0 && i < e->n_reasons; i++)
                r = sd_bus_message_append(reply, "(ss)", e->reasons[i].kind, e->reasons[i].text);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0)
                (void) sd_bus_reply_method_errno(message, r, NULL);
}

static void explain_work(void *userdata) {
        struct explain_call *c = userdata;

        c->result = explanation_scan_in_use(&c->explanation);
}

static void explain_done(void *userdata) {
        struct explain_call *c = userdata;

        c->manager->n_explaining--;
        explain_reply(c->message, &c->explanation, c->result);
        explanation_done(&c->explanation);
        sd_bus_message_unref(c->message);
        free(c);
}

static int method_explain(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        struct manager *m = userdata;
        struct explain_call *c;
        const char *device, *guest;
        int r;

        r = sd_bus_message_read(message, "ss", &device, &guest);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **names = calloc(2, sizeof(char *));
        if (!names || !(names[0] = strdup(device)))
                return -ENOMEM;
        r = manager_resolve_aliases(m, names);
        if (r < 0)
                return r;
        /* Anyone may ask: the scans that read /proc, off the loop, are few at a time. */
        if (m->n_explaining >= EXPLAIN_CONCURRENT_MAX)
                return sd_bus_error_setf(error, IOMMUD_ERROR_BUSY,
                                         "%u explanations are being composed; ask again later",
                                         EXPLAIN_CONCURRENT_MAX);
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->manager = m;
        r = manager_explain(m, names[0], guest, &c->explanation);
        if (r >= 0 && c->explanation.n_to_scan > 0) {
                c->message = sd_bus_message_ref(message);
                r = worker_run(m->worker, WORKER_ABANDON, explain_work, explain_done, c);
                if (r >= 0) {
                        m->n_explaining++;
                        return 1; /* the reply comes when the scan is done */
                }
                sd_bus_message_unref(c->message);
        }
        if (r >= 0)
                explain_reply(message, &c->explanation, 0);
        explanation_done(&c->explanation);
        free(c);
        return r < 0 ? r : 1;
}

/* Export(s format) -> s: what iommuctl export prints (iommud.export(7)). */
static int method_export(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        struct manager *m = userdata;
        _cleanup_free_ char *text = NULL;
        enum iom_export_format format;
        const char *name;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        format = iom_export_format_from_string(name);
        if (format < 0)
                return sd_bus_error_setf(error, IOMMUD_ERROR_INVALID_ARGUMENT,
                                         "Unknown export format '%s' (known: kubevirt, "
                                         "kubevirt-yaml, nova, nfd, prometheus)",
                                         IOM_ESCAPE(name));
        r = manager_export(m, format, &text);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, "s", text);
}

static int method_reload_policy(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        struct manager *m = userdata;
        _cleanup_free_ char *errors = NULL, *text = NULL;
        int r;

        r = manager_load_policy(m, &errors);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if (asprintf(&text, "The policy in %s is broken; the policy in force stays:\n%s",
                             m->policy_dir, strempty(errors)) < 0)
                        return -ENOMEM;
                return bus_error_set_errno(error, -EINVAL, text);
        }
        return sd_bus_reply_method_return(message, "u", (uint32_t) m->policy->n_rules);
}

static int property_get_policy_files(sd_bus *bus, const char *path, const char *interface,
                                     const char *property, sd_bus_message *reply, void *userdata,
                                     sd_bus_error *error) {
        struct manager *m = userdata;
        return sd_bus_message_append_strv(reply, m->policy->files);
}

static int property_get_policy_rule_count(sd_bus *bus, const char *path, const char *interface,
                                          const char *property, sd_bus_message *reply,
                                          void *userdata, sd_bus_error *error) {
        struct manager *m = userdata;
        return sd_bus_message_append(reply, "u", (uint32_t) m->policy->n_rules);
}

/* PolicyRules: a(ssusssas): id, file, line, action, match, options, guests. */
static int property_get_policy_rules(sd_bus *bus, const char *path, const char *interface,
                                     const char *property, sd_bus_message *reply, void *userdata,
                                     sd_bus_error *error) {
        struct manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ssusssas)");
        for (size_t i = 0; r >= 0 && i < m->policy->n_rules; i++) {
                const struct iom_policy_rule *rule = &m->policy->rules[i];
                _cleanup_free_ char *match = iom_policy_match_describe(&rule->match),
                                    *options = iom_policy_options_describe(rule);
                if (!match || !options)
                        return -ENOMEM;
                r = sd_bus_message_open_container(reply, 'r', "ssusssas");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "ssusss", rule->id, rule->file, rule->line,
                                                  iom_policy_action_to_string(rule->action), match,
                                                  options);
                if (r >= 0)
                        r = sd_bus_message_append_strv(reply, rule->guests);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/* Manager.Spaces (ao): every space, in creation order. */
static int property_get_spaces(sd_bus *bus, const char *path, const char *interface,
                               const char *property, sd_bus_message *reply, void *userdata,
                               sd_bus_error *error) {
        struct manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "o");
        for (size_t i = 0; r >= 0 && i < m->n_spaces; i++)
                r = sd_bus_message_append(reply, "o", m->spaces[i]->path);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

struct space_options_reader {
        struct space_request *req;
        sd_bus_error *error;
};

static int read_space_option(sd_bus_message *m, const char *key, void *userdata) {
        static const struct {
                const char *key;
                const char *type;
        } known[] = {
                {"aperture_start", "t"},   {"aperture_end", "t"}, {"max_mappings", "t"},
                {"max_pinned_bytes", "t"}, {"reserved", "a(tt)"}, {"group", "u"},
                {"memory", "h"},
        };
        struct space_options_reader *rd = userdata;
        struct space_request *req = rd->req;
        const char *type = NULL;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(known); i++)
                if (streq(known[i].key, key))
                        type = known[i].type;
        if (!type)
                return sd_bus_error_setf(rd->error, IOMMUD_ERROR_INVALID_ARGUMENT,
                                         "Unknown option '%s' (known: aperture_start, "
                                         "aperture_end, max_mappings, max_pinned_bytes, "
                                         "reserved, group, memory)",
                                         IOM_ESCAPE(key));
        if (streq(key, "reserved"))
                r = iom_bus_read_ranges(m, SPACE_RESERVED_MAX, &req->reserved, &req->n_reserved);
        else if (streq(key, "group"))
                r = sd_bus_message_read(m, "v", "u", &req->group);
        else if (streq(key, "memory"))
                r = sd_bus_message_read(m, "v", "h", &req->memory_fd);
        else {
                uint64_t v;
                r = sd_bus_message_read(m, "v", "t", &v);
                if (r >= 0 && streq(key, "aperture_start"))
                        req->aperture_start = v, req->has_aperture_start = true;
                else if (r >= 0 && streq(key, "aperture_end"))
                        req->aperture_end = v, req->has_aperture_end = true;
                else if (r >= 0 && streq(key, "max_mappings"))
                        req->max_mappings = v;
                else if (r >= 0)
                        req->max_pinned_bytes = v;
        }
        if (r == -ENOMEM)
                return r;
        if (r == -E2BIG)
                return sd_bus_error_setf(rd->error, IOMMUD_ERROR_INVALID_ARGUMENT,
                                         "At most %u reserved ranges", SPACE_RESERVED_MAX);
        if (r < 0)
                return sd_bus_error_setf(rd->error, IOMMUD_ERROR_INVALID_ARGUMENT,
                                         "Option '%s' takes a value of type '%s'", key, type);
        req->has_group = req->has_group || streq(key, "group");
        return 0;
}

/* a{sv}: aperture_start, aperture_end, max_mappings, max_pinned_bytes (t); reserved (a(tt));
 * group (u); memory (h). Unknown keys and wrong types are refused, never ignored. */
static int read_space_options(sd_bus_message *m, struct space_request *req, sd_bus_error *error) {
        return iom_bus_read_dict(m, read_space_option, &(struct space_options_reader){req, error});
}

/* CreateSpace(s guest, a{sv} options) -> o. */
static int method_create_space(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        struct manager *m = userdata;
        struct space_request req = {.memory_fd = -EBADF};
        _cleanup_free_ char *why = NULL, *bad = NULL;
        struct space *s;
        int r;

        r = sd_bus_message_read(message, "s", &req.guest);
        if (r < 0)
                return r;
        r = iom_owner_validate(req.guest, &bad);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_setf(error, IOMMUD_ERROR_INVALID_ARGUMENT, "Guest '%s': %s",
                                         IOM_ESCAPE(req.guest), bad);
        r = read_space_options(message, &req, error);
        if (r >= 0) {
                req.creator = sd_bus_message_get_sender(message);
                r = req.creator ? 0 : -EBADMSG;
        }
        if (r >= 0) {
                r = space_create(m, &req, &s, &why);
                if (r < 0)
                        r = bus_error_set_errno(error, r, why);
        }
        free(req.reserved);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, "o", s->path);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("IommuPresent", "b", property_get_host, 0, 0),
        SD_BUS_PROPERTY("IommuUnits", "a(ss)", property_get_units, 0, 0),
        SD_BUS_PROPERTY("InterruptRemapping", "b", property_get_host, 0, 0),
        SD_BUS_PROPERTY("AllowUnsafeInterrupts", "b", property_get_host, 0, 0),
        SD_BUS_PROPERTY("AcsOverride", "b", property_get_host, 0, 0),
        SD_BUS_PROPERTY("KernelParameters", "as", property_get_host, 0, 0),
        SD_BUS_PROPERTY("Notice", "s", property_get_host, 0, 0),
        SD_BUS_PROPERTY("GroupCount", "u", property_get_host, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DeviceCount", "u", property_get_host, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PolicyFiles", "as", property_get_policy_files, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PolicyRuleCount", "u", property_get_policy_rule_count, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PolicyRules", "a(ssusssas)", property_get_policy_rules, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Spaces", "ao", property_get_spaces, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("SleepInhibitor", "s", property_get_sleep_inhibitor, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Explain", SD_BUS_ARGS("s", device, "s", guest),
                                SD_BUS_RESULT("b", allowed, "a(ss)", reasons), method_explain,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Export", SD_BUS_ARGS("s", format), SD_BUS_RESULT("s", text),
                                method_export, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReloadPolicy", SD_BUS_NO_ARGS, SD_BUS_RESULT("u", rules),
                                method_reload_policy, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Assign", SD_BUS_ARGS("s", guest, "as", devices, "a{sv}", options),
                                SD_BUS_RESULT("a(sss(ss)(ssu)(sss))", plan), method_assign,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Release", SD_BUS_ARGS("s", guest, "as", devices, "a{sv}", options),
                                SD_BUS_RESULT("a(sss(ss)(ssu)(sss))", plan), method_release,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateSpace", SD_BUS_ARGS("s", guest, "a{sv}", options),
                                SD_BUS_RESULT("o", space), method_create_space,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetVFs", SD_BUS_ARGS("s", device, "u", count, "a{sv}", options),
                                SD_BUS_RESULT("a(ss)", writes), method_set_vfs,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Rebind", SD_BUS_ARGS("s", device, "s", driver, "a{sv}", options),
                                SD_BUS_RESULT("a(sss(ss)(ssu)(sss))", plan), method_rebind,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReleaseQuarantine", SD_BUS_ARGS("s", device, "a{sv}", options),
                                SD_BUS_RESULT("a(sss(ss)(ssu)(sss))", plan),
                                method_release_quarantine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("OwnershipConflict",
                                SD_BUS_ARGS("s", device, "s", owner, "s", claimant), 0),
        SD_BUS_SIGNAL_WITH_ARGS("OwnershipLost",
                                SD_BUS_ARGS("s", owner, "u", group, "as", devices, "s", reason),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("PolicyReloaded", SD_BUS_ARGS("u", rules), 0),
        SD_BUS_VTABLE_END,
};

int bus_manager_register(struct manager *m) {
        return sd_bus_add_object_vtable(m->bus, NULL, IOMMUD_PATH, "org.iommud1.Manager",
                                        manager_vtable, m);
}
