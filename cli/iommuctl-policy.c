/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iommuctl policy check [FILE...]: validates policy files without a daemon. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "iom-policy.h"
#include "iom-strv.h"
#include "iommuctl.h"
#include "json-print.h"
#include "macro.h"
#include "table.h"

/* {"version", "valid", "rules": n | null, "aliases": n | null, "files": [...], "errors": [...]};
 * @p is NULL when the policy is not valid, @errors then holds one error per line. */
static int print_check_json(const struct iom_policy *p, char *errors) {
        _cleanup_(json_object_putp) json_object *o = json_document_new();
        json_object *list = json_object_new_array();

        if (!o || !list) {
                json_object_put(list);
                return log_oom();
        }
        json_object_object_add(o, "valid", json_object_new_boolean(p != NULL));
        json_object_object_add(o, "rules", p ? json_object_new_int64(p->n_rules) : NULL);
        json_object_object_add(o, "aliases", p ? json_object_new_int64(p->n_aliases) : NULL);
        json_object_object_add(o, "files", json_strv(p ? p->files : NULL));
        json_object_object_add(o, "errors", list);
        for (char *line = errors, *next; line && *line; line = next) {
                next = strchrnul(line, '\n');
                json_object_array_add(list, json_object_new_string_len(line, next - line));
                if (*next)
                        next++;
        }
        return json_print(o);
}

static int policy_check(int argc, char *argv[]) {
        _cleanup_(iom_policy_freep) struct iom_policy *p = NULL;
        _cleanup_free_ char *errors = NULL;
        size_t n_files = 0;
        int r;

        r = argc > 2 ? iom_policy_load_files(argv + 2, &p, &errors)
                     : iom_policy_load_dir(IOMMUD_POLICYDIR, &p, &errors);
        if (r < 0 && !errors) {
                fprintf(stderr, "iommuctl: cannot read the policy %s: %s\n",
                        argc > 2 ? "files" : IOMMUD_POLICYDIR, strerror(-r));
                return r;
        }
        if (arg_json) {
                int q = print_check_json(r < 0 ? NULL : p, errors);
                return q < 0 ? q : r;
        }
        if (r < 0) {
                fprintf(stderr, "%s\n", errors);
                return r;
        }
        for (char **f = p->files; *f; f++)
                n_files++;
        printf("The policy is valid: %zu rules and %zu aliases in %zu files%s%s.\n", p->n_rules,
               p->n_aliases, n_files, argc > 2 ? "" : " of ", argc > 2 ? "" : IOMMUD_POLICYDIR);
        return 0;
}

/* Asks the daemon to read its policy again; a broken one is refused and the old one stays. */
static int policy_reload(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        uint32_t rules;
        int r;

        if (argc > 2)
                return usage_error("policy reload takes no arguments");
        r = iommuctl_bus_open(&bus);
        if (r >= 0)
                r = sd_bus_call_method(bus, "org.iommud1", "/org/iommud1", "org.iommud1.Manager",
                                       "ReloadPolicy", &error, &reply, "");
        if (r >= 0)
                r = sd_bus_message_read(reply, "u", &rules);
        if (r < 0)
                return bus_error("policy reload", &error, r);
        if (arg_json) {
                _cleanup_(json_object_putp) json_object *o = json_document_new();
                if (!o)
                        return log_oom();
                json_object_object_add(o, "rules", json_object_new_int64(rules));
                return json_print(o);
        }
        printf("The daemon now enforces %u rules.\n", rules);
        return 0;
}

struct shown_rule {
        char *id, *file, *action, *match, *options;
        uint32_t line;
        char **guests;
};

static void shown_rules_free(struct shown_rule *rules, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(rules[i].id);
                free(rules[i].file);
                free(rules[i].action);
                free(rules[i].match);
                free(rules[i].options);
                strv_free(rules[i].guests);
        }
        free(rules);
}

static int read_rules(sd_bus_message *m, struct shown_rule **ret, size_t *ret_n) {
        struct shown_rule *rules = NULL;
        const char *id, *file, *action, *match, *options;
        uint32_t line;
        size_t n = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "(ssusssas)");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'r', "ssusssas")) > 0) {
                if (GREEDY_REALLOC(rules, n + 1) < 0) {
                        r = -ENOMEM;
                        break;
                }
                rules[n] = (struct shown_rule){};
                r = sd_bus_message_read(m, "ssusss", &id, &file, &line, &action, &match, &options);
                if (r >= 0) {
                        rules[n] = (struct shown_rule){.id = strdup(id),
                                                       .file = strdup(file),
                                                       .action = strdup(action),
                                                       .match = strdup(match),
                                                       .options = strdup(options),
                                                       .line = line};
                        r = sd_bus_message_read_strv(m, &rules[n].guests);
                }
                n++;
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r < 0) {
                shown_rules_free(rules, n);
                return r;
        }
        *ret = rules;
        *ret_n = n;
        return 0;
}

/* {"version", "files": [...], "rules": [{"id", "file", "line", "action", "match", "options",
 * "guests"}]} */
static int print_rules_json(char **files, const struct shown_rule *rules, size_t n) {
        _cleanup_(json_object_putp) json_object *o = json_document_new();
        json_object *list = json_object_new_array();

        if (!o || !list) {
                json_object_put(list);
                return -ENOMEM;
        }
        json_object_object_add(o, "files", json_strv(files));
        json_object_object_add(o, "rules", list);
        for (size_t i = 0; i < n; i++) {
                json_object *r = json_object_new_object();
                json_object_object_add(r, "id", json_object_new_string(rules[i].id));
                json_object_object_add(r, "file", json_object_new_string(rules[i].file));
                json_object_object_add(r, "line", json_object_new_int64(rules[i].line));
                json_object_object_add(r, "action", json_object_new_string(rules[i].action));
                json_object_object_add(r, "match", json_object_new_string(rules[i].match));
                json_object_object_add(r, "options", json_object_new_string(rules[i].options));
                json_object_object_add(r, "guests", json_strv(rules[i].guests));
                json_object_array_add(list, r);
        }
        return json_print(o);
}

static int print_rules(char **files, const struct shown_rule *rules, size_t n) {
        static const char *const headers[] = {"ID",    "ACTION",  "GUESTS",
                                              "MATCH", "OPTIONS", "SOURCE"};
        _cleanup_(table_freep) struct table *t = NULL;
        int r;

        if (arg_json)
                return print_rules_json(files, rules, n);
        t = table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *guests = iom_strv_join(rules[i].guests, ","), *source = NULL;

                if (!guests || asprintf(&source, "%s:%u", rules[i].file, rules[i].line) < 0)
                        return -ENOMEM;
                const char *cells[] = {rules[i].id,
                                       rules[i].action,
                                       *guests ? guests : NULL,
                                       rules[i].match,
                                       *rules[i].options ? rules[i].options : NULL,
                                       source};
                r = table_add_row(t, cells, NULL);
                if (r < 0)
                        return r;
        }
        r = table_print(t, stdout);
        if (r >= 0 && n == 0)
                printf("No rules: every assignment is denied.\n");
        return r;
}

/* The policy in force in the daemon, with its sources. */
static int policy_show(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **files = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        struct shown_rule *rules = NULL;
        size_t n = 0;
        int r;

        if (argc > 2)
                return usage_error("policy show takes no arguments");
        r = iommuctl_bus_open(&bus);
        if (r >= 0)
                r = sd_bus_get_property_strv(bus, "org.iommud1", "/org/iommud1",
                                             "org.iommud1.Manager", "PolicyFiles", &error, &files);
        if (r >= 0)
                r = sd_bus_get_property(bus, "org.iommud1", "/org/iommud1", "org.iommud1.Manager",
                                        "PolicyRules", &error, &reply, "a(ssusssas)");
        if (r < 0)
                return bus_error("policy show", &error, r);
        r = read_rules(reply, &rules, &n);
        if (r >= 0)
                r = print_rules(files, rules, n);
        shown_rules_free(rules, n);
        if (r < 0)
                fprintf(stderr, "iommuctl: cannot show the policy in force: %s\n", strerror(-r));
        return r;
}

int verb_policy(int argc, char *argv[]) {
        if (streq(argv[1], "check"))
                return policy_check(argc, argv);
        if (streq(argv[1], "reload"))
                return policy_reload(argc, argv);
        if (streq(argv[1], "show"))
                return policy_show(argc, argv);
        return usage_error("unknown policy command '%s'; usage: iommuctl policy check [FILE...] | "
                           "policy reload | policy show",
                           argv[1]);
}
