/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iommuctl assign, release, rebind: ask the daemon to move groups, print the plan it ran;
 * iommuctl sriov: set a PF's number of VFs, print the sysfs writes it made. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "iom-plan.h"
#include "iommuctl.h"
#include "json-print.h"
#include "macro.h"
#include "table.h"

/* Rebinding waits for drivers (with deadlines of its own in the daemon): allow for them. */
#define CHANGE_TIMEOUT_USEC (180ULL * 1000 * 1000)

static int new_call(sd_bus **ret_bus, sd_bus_message **ret, const char *verb, const char *method) {
        int r;

        r = iommuctl_bus_open(ret_bus);
        if (r < 0)
                return bus_error(verb, NULL, r);
        r = sd_bus_message_new_method_call(*ret_bus, ret, "org.iommud1", "/org/iommud1",
                                           "org.iommud1.Manager", method);
        return r < 0 ? log_oom() : 0;
}

static int append_options(sd_bus_message *m) {
        int r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        if (arg_dry_run && (r = sd_bus_message_append(m, "{sv}", "dry-run", "b", 1)) < 0)
                return r;
        if (arg_force && (r = sd_bus_message_append(m, "{sv}", "force", "b", 1)) < 0)
                return r;
        return sd_bus_message_close_container(m);
}

#define NULL_IF_EMPTY(s) (*(s) ? (char *) (s) : NULL)

/* Reads the plan of a change's reply, a(sss(ss)(ssu)(sss)) (iommud.dbus(7)). */
static int read_plan(sd_bus_message *reply, struct iom_plan **ret) {
        _cleanup_(iom_plan_freep) struct iom_plan *plan = NULL;
        const char *address, *from, *to, *kind, *of, *rule_id, *rule_file, *reset, *result,
                *quarantine;
        uint32_t rule_line;
        int r;

        r = iom_plan_new(IOM_PLAN_ASSIGN, NULL, &plan);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(sss(ss)(ssu)(sss))");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(sss(ss)(ssu)(sss))", &address, &from, &to, &kind,
                                        &of, &rule_id, &rule_file, &rule_line, &reset, &result,
                                        &quarantine)) > 0) {
                struct iom_plan_step s = {
                        .group = UINT32_MAX,
                        .from = NULL_IF_EMPTY(from),
                        .to = NULL_IF_EMPTY(to),
                        .rule = {.id = NULL_IF_EMPTY(rule_id),
                                 .file = *rule_id ? (char *) rule_file : NULL,
                                 .line = rule_line},
                        .reset_method = NULL_IF_EMPTY(reset),
                        .reset_result = *reset ? (char *) result : NULL,
                        .quarantine = NULL_IF_EMPTY(quarantine),
                };

                if (iom_address_parse(address, &s.address, NULL) < 0 ||
                    iom_plan_step_set_reason(&s, kind, of) < 0)
                        return -EBADMSG;
                r = iom_plan_append_step(plan, &s);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(plan);
        return 0;
}

/* {"version", "dry_run": bool, "plan": [{"address", "from", "to", "reason": {"kind", "of"},
 * "rule": {"id", "file", "line"} | null, "reset": {"method", "result"} | null,
 * "quarantine": reason | null}]} */
static int print_plan_json(const struct iom_plan *plan) {
        _cleanup_(json_object_putp) json_object *o = json_document_new();
        json_object *steps = json_object_new_array();

        if (!o || !steps) {
                json_object_put(steps);
                return -ENOMEM;
        }
        json_object_object_add(o, "dry_run", json_object_new_boolean(arg_dry_run));
        json_object_object_add(o, "plan", steps);
        for (size_t i = 0; i < plan->n_steps; i++) {
                const struct iom_plan_step *step = &plan->steps[i];
                json_object *row = json_object_new_object(), *reason = json_object_new_object(),
                            *rule = NULL;

                json_object_object_add(row, "address", json_address(&step->address));
                json_object_object_add(row, "from", json_string_or_null(step->from));
                json_object_object_add(row, "to", json_string_or_null(step->to));
                json_object_object_add(reason, "kind",
                                       json_object_new_string(iom_plan_step_reason(step)));
                json_object_object_add(reason, "of",
                                       step->named ? NULL : json_address(&step->named_by));
                json_object_object_add(row, "reason", reason);
                if (step->rule.id) {
                        rule = json_object_new_object();
                        json_object_object_add(rule, "id", json_object_new_string(step->rule.id));
                        json_object_object_add(rule, "file",
                                               json_object_new_string(step->rule.file));
                        json_object_object_add(rule, "line",
                                               json_object_new_int64(step->rule.line));
                }
                json_object_object_add(row, "rule", rule);
                json_object_object_add(row, "reset",
                                       json_reset(step->reset_result ? step->reset_method : NULL,
                                                  step->reset_result));
                json_object_object_add(row, "quarantine", json_string_or_null(step->quarantine));
                json_object_array_add(steps, row);
        }
        return json_print(o);
}

/* The plan as a table; the reasons and rules are worded here. */
static int print_plan(const struct iom_plan *plan) {
        static const char *const headers[] = {"DEVICE", "FROM", "TO", "WHY", "ALLOWED BY", "RESET"};
        _cleanup_(table_freep) struct table *t = NULL;
        int r;

        if (arg_json)
                return print_plan_json(plan);
        t = table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < plan->n_steps; i++) {
                const struct iom_plan_step *s = &plan->steps[i];
                _cleanup_free_ char *why = NULL, *rule = NULL, *reset = NULL;
                char a[IOM_ADDRESS_STRING_MAX], by[IOM_ADDRESS_STRING_MAX];

                if (asprintf(&why, "%s%s", s->named ? "named" : "group peer of ",
                             s->named ? "" : iom_address_format(&s->named_by, by)) < 0 ||
                    (s->rule.id && asprintf(&rule, "rule '%s' (%s:%u)", s->rule.id, s->rule.file,
                                            s->rule.line) < 0) ||
                    (s->reset_result &&
                     asprintf(&reset, "%s: %s", s->reset_method, s->reset_result) < 0))
                        return -ENOMEM;
                const char *cells[] = {iom_address_format(&s->address, a),
                                       s->from ? s->from : "(none)",
                                       s->to ? s->to : "(none)",
                                       why,
                                       rule,
                                       reset};
                r = table_add_row(t, cells, NULL);
                if (r < 0)
                        return r;
        }
        if (arg_dry_run)
                printf("Dry run: nothing was changed. The plan:\n");
        r = table_print(t, stdout);
        for (size_t i = 0; r >= 0 && i < plan->n_steps; i++) {
                char a[IOM_ADDRESS_STRING_MAX];
                if (plan->steps[i].quarantine)
                        printf("%s stays on vfio-pci, quarantined: %s\n",
                               iom_address_format(&plan->steps[i].address, a),
                               plan->steps[i].quarantine);
        }
        return r;
}

static int send_change(sd_bus *bus, sd_bus_message *call, const char *verb) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(iom_plan_freep) struct iom_plan *plan = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = append_options(call);
        if (r < 0)
                return log_oom();
        r = sd_bus_call(bus, call, CHANGE_TIMEOUT_USEC, &error, &reply);
        if (r < 0)
                return bus_error(verb, &error, r);
        r = read_plan(reply, &plan);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                /* The change was made: only its plan cannot be shown. */
                fprintf(stderr,
                        "iommuctl: %s was done, but iommud's plan is not in the form this "
                        "iommuctl reads (%s): are iommud and iommuctl of the same version? "
                        "Restart iommud after an upgrade ('systemctl restart iommud').\n",
                        verb, strerror(-r));
                return r;
        }
        r = print_plan(plan);
        if (r < 0)
                fprintf(stderr, "iommuctl: %s was done, but its plan cannot be printed: %s\n", verb,
                        strerror(-r));
        return r;
}

/* assign and release: GUEST DEVICE... */
static int guest_change(const char *verb, const char *method, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        int r;

        r = new_call(&bus, &call, verb, method);
        if (r < 0)
                return r;
        if (sd_bus_message_append(call, "s", argv[1]) < 0 ||
            sd_bus_message_append_strv(call, argv + 2) < 0)
                return log_oom();
        return send_change(bus, call, verb);
}

int verb_assign(int argc, char *argv[]) {
        return guest_change("assign", "Assign", argv);
}

int verb_release(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        int r;

        if (!arg_from_quarantine)
                return guest_change("release", "Release", argv);
        if (argc != 2)
                return usage_error("release --from-quarantine takes one DEVICE, no guest: a "
                                   "quarantined group has no owner");
        r = new_call(&bus, &call, "release", "ReleaseQuarantine");
        if (r < 0)
                return r;
        if (sd_bus_message_append(call, "s", argv[1]) < 0)
                return log_oom();
        return send_change(bus, call, "release");
}

int verb_rebind(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        int r;

        /* An unset shell variable must not unbind a device: no driver is spelled 'none'. */
        if (argv[2][0] == '\0')
                return usage_error("rebind: the driver name is empty; write 'none' to leave the "
                                   "device without a driver");
        r = new_call(&bus, &call, "rebind", "Rebind");
        if (r < 0)
                return r;
        if (sd_bus_message_append(call, "ss", argv[1], argv[2]) < 0)
                return log_oom();
        return send_change(bus, call, "rebind");
}

/* SetVFs' reply, a(ss), as {"version", "dry_run", "writes": [{"path", "value"}]} or a table. */
static int print_writes(sd_bus_message *reply) {
        static const char *const headers[] = {"ATTRIBUTE", "VALUE"};
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(table_freep) struct table *t = NULL;
        json_object *writes = NULL;
        const char *path, *value;
        size_t n = 0;
        int r;

        if (arg_json) {
                o = json_document_new();
                writes = json_object_new_array();
                if (!o || !writes) {
                        json_object_put(writes);
                        return -ENOMEM;
                }
                json_object_object_add(o, "dry_run", json_object_new_boolean(arg_dry_run));
                json_object_object_add(o, "writes", writes);
        } else if (!(t = table_new(ELEMENTSOF(headers), headers)))
                return -ENOMEM;
        r = sd_bus_message_enter_container(reply, 'a', "(ss)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(ss)", &path, &value)) > 0) {
                _cleanup_free_ char *full = NULL;

                n++;
                if (asprintf(&full, "/sys/bus/pci/devices/%s", path) < 0)
                        return -ENOMEM;
                if (writes) {
                        json_object *row = json_object_new_object();
                        json_object_object_add(row, "path", json_object_new_string(full));
                        json_object_object_add(row, "value", json_object_new_string(value));
                        json_object_array_add(writes, row);
                } else if ((r = table_add_row(t, (const char *[]){full, value}, NULL)) < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (o)
                return json_print(o);
        if (n == 0) {
                printf("%s\n", arg_dry_run ? "Dry run: nothing would be written, the PF has "
                                             "that many VFs already."
                                           : "Nothing written: the PF has that many VFs already.");
                return 0;
        }
        printf("%s\n", arg_dry_run ? "Dry run: nothing was changed. The writes it would make:"
                                   : "Written, in this order:");
        return table_print(t, stdout);
}

int verb_sriov(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        unsigned long n;
        char *end;
        int r;

        if (arg_force)
                return usage_error("sriov: --force does not apply: a PF whose VFs are owned is "
                                   "never changed");
        errno = 0;
        n = strtoul(argv[2], &end, 10);
        if (!isdigit((unsigned char) argv[2][0]) || *end || errno != 0 || n > UINT32_MAX)
                return usage_error("sriov: '%s' is not a number of VFs (0, 1, 2, ...)", argv[2]);
        r = new_call(&bus, &call, "sriov", "SetVFs");
        if (r < 0)
                return r;
        if (sd_bus_message_append(call, "su", argv[1], (uint32_t) n) < 0 ||
            append_options(call) < 0)
                return log_oom();
        r = sd_bus_call(bus, call, CHANGE_TIMEOUT_USEC, &error, &reply);
        if (r < 0)
                return bus_error("sriov", &error, r);
        r = print_writes(reply);
        if (r < 0)
                fprintf(stderr, "iommuctl: sriov was done, but its writes cannot be printed: %s\n",
                        strerror(-r));
        return r;
}
