/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading policy files: strict validation, every error located, all of them reported. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "iom-json.h"
#include "iom-owner.h"
#include "iom-policy.h"
#include "iom-sysfs.h"
#include "iom-strv.h"
#include "iom-utf8.h"

/* Collects errors, one per line. */
struct reader {
        struct iom_json_doc *doc;
        char **errors;
        unsigned n_errors;
};

_printf_(4, 5) static void complain(struct reader *rd, const char *path, int key,
                                    const char *format, ...) {
        _cleanup_free_ char *message = NULL, *located = NULL;
        va_list ap;
        char *grown;

        va_start(ap, format);
        if (vasprintf(&message, format, ap) < 0)
                message = NULL;
        va_end(ap);
        (void) iom_json_error(rd->doc, path, key, &located, "%s", strempty(message));
        rd->n_errors++;
        if (!located ||
            asprintf(&grown, "%s%s%s", strempty(*rd->errors), *rd->errors ? "\n" : "", located) < 0)
                return;
        free(*rd->errors);
        *rd->errors = grown;
}

static void rule_clear(struct iom_policy_rule *r) {
        free(r->id);
        free(r->file);
        free(r->match.address);
        free(r->match.driver);
        free(r->match.host_driver);
        free(r->match.same_group_as);
        free(r->match.vfs_of);
        free(r->match.dsn);
        strv_free(r->guests);
        free(r->host_driver_option);
}

struct iom_policy *iom_policy_new(void) {
        struct iom_policy *p = calloc(1, sizeof(*p));
        if (p && !(p->files = calloc(1, sizeof(char *))))
                p = mfree(p);
        return p;
}

struct iom_policy *iom_policy_free(struct iom_policy *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_rules; i++)
                rule_clear(&p->rules[i]);
        free(p->rules);
        for (size_t i = 0; i < p->n_aliases; i++)
                free(p->aliases[i].name);
        free(p->aliases);
        strv_free(p->files);
        free(p);
        return NULL;
}

static bool check_type(struct reader *rd, json_object *v, const char *path, json_type type,
                       const char *what) {
        if (json_object_is_type(v, type))
                return true;
        complain(rd, path, 0, "expected %s", what);
        return false;
}

static void check_keys(struct reader *rd, json_object *o, const char *path,
                       const char *const *allowed) {
        json_object_object_foreach(o, key, value) {
                char child[512];
                bool known = false;

                (void) value;
                for (const char *const *a = allowed; *a; a++)
                        known = known || streq(*a, key);
                if (known)
                        continue;
                (void) snprintf(child, sizeof(child), "%s%s%s", path, *path ? "." : "", key);
                complain(rd, child, 1, "unknown key '%s'", IOM_ESCAPE(key));
        }
}

static char *get_string(struct reader *rd, json_object *v, const char *path) {
        if (!check_type(rd, v, path, json_type_string, "a string"))
                return NULL;
        const char *s = json_object_get_string(v);
        if (strlen(s) > IOM_POLICY_STRING_MAX) {
                complain(rd, path, 0, "longer than %d bytes", IOM_POLICY_STRING_MAX);
                return NULL;
        }
        return strdup(s);
}

/* "10de": exactly four hex digits, lower case. */
static int get_id(struct reader *rd, json_object *v, const char *path) {
        _cleanup_free_ char *s = get_string(rd, v, path);

        if (!s)
                return -1;
        if (strlen(s) != 4 || strspn(s, "0123456789abcdef") != 4) {
                complain(rd, path, 0,
                         "'%s' is not a PCI id: four lower-case hex digits, as in "
                         "'10de'",
                         IOM_ESCAPE(s));
                return -1;
        }
        return (int) strtol(s, NULL, 16);
}

static int64_t get_hex24(struct reader *rd, json_object *v, const char *path, bool short_ok) {
        _cleanup_free_ char *s = get_string(rd, v, path);
        size_t n;

        if (!s)
                return -1;
        n = strlen(s);
        if ((n != 6 && !(short_ok && n == 4)) || strspn(s, "0123456789abcdef") != n) {
                complain(rd, path, 0,
                         "'%s' is not a class: %s lower-case hex digits, as in "
                         "'030000'",
                         IOM_ESCAPE(s), short_ok ? "four or six" : "six");
                return -1;
        }
        return strtol(s, NULL, 16) << (n == 4 ? 8 : 0);
}

static const struct {
        const char *name;
        uint32_t value, mask;
} class_names[] = {
        {"storage", 0x010000, 0xff0000},     {"nvme", 0x010802, 0xffffff},
        {"network", 0x020000, 0xff0000},     {"ethernet", 0x020000, 0xffff00},
        {"display", 0x030000, 0xff0000},     {"vga", 0x030000, 0xffff00},
        {"multimedia", 0x040000, 0xff0000},  {"audio", 0x040300, 0xffff00},
        {"bridge", 0x060000, 0xff0000},      {"usb", 0x0c0300, 0xffff00},
        {"accelerator", 0x120000, 0xff0000},
};

/* A glob over canonical addresses: lower-case hex, ':', '.', and the wildcards. One without
 * wildcards must be an address itself. */
static char *get_address_glob(struct reader *rd, json_object *v, const char *path) {
        _cleanup_free_ char *s = get_string(rd, v, path);
        struct iom_address a;
        const char *why;

        if (!s)
                return NULL;
        if (!strpbrk(s, "*?[")) {
                if (iom_address_parse(s, &a, &why) < 0) {
                        complain(rd, path, 0, "'%s' is not a PCI address: %s", IOM_ESCAPE(s), why);
                        return NULL;
                }
                char canonical[IOM_ADDRESS_STRING_MAX];
                return strdup(iom_address_format(&a, canonical));
        }
        if (strspn(s, "0123456789abcdef:.*?[]-!") != strlen(s)) {
                complain(rd, path, 0,
                         "'%s' can never match: addresses are lower-case hex with "
                         "':' and '.', as in '0000:01:00.*'",
                         IOM_ESCAPE(s));
                return NULL;
        }
        if (fnmatch(s, "0000:00:00.0", 0) == FNM_NOMATCH && !strchr(s, ':')) {
                complain(rd, path, 0, "'%s' can never match: an address has ':'", IOM_ESCAPE(s));
                return NULL;
        }
        return TAKE_PTR(s);
}

static char *get_driver(struct reader *rd, json_object *v, const char *path) {
        _cleanup_free_ char *s = get_string(rd, v, path);
        const char *why;

        if (s && iom_driver_name_validate(s, &why) < 0) {
                complain(rd, path, 0, "'%s' is not a driver name: %s", IOM_ESCAPE(s), why);
                return NULL;
        }
        return TAKE_PTR(s);
}

static void read_match(struct reader *rd, json_object *o, const char *path,
                       struct iom_policy_match *m) {
        static const char *const keys[] = {
                "address",
                "vendor",
                "device",
                "subsystem_vendor",
                "subsystem_device",
                "class",
                "class_mask",
                "class_name",
                "driver",
                "host_driver",
                "same_group_as",
                "vfs_of",
                "dsn",
                NULL,
        };
        json_object *v;
        char sub[512];

        *m = (struct iom_policy_match){
                .vendor = -1, .device = -1, .subsystem_vendor = -1, .subsystem_device = -1};
        if (!check_type(rd, o, path, json_type_object, "an object"))
                return;
        check_keys(rd, o, path, keys);
#define SUB(key) (snprintf(sub, sizeof(sub), "%s.%s", path, key), sub)
        if (json_object_object_get_ex(o, "address", &v) &&
            (m->address = get_address_glob(rd, v, SUB("address"))))
                m->n_keys++;
        static const char *const id_keys[] = {"vendor", "device", "subsystem_vendor",
                                              "subsystem_device"};
        int *id_fields[] = {&m->vendor, &m->device, &m->subsystem_vendor, &m->subsystem_device};
        for (size_t i = 0; i < ELEMENTSOF(id_keys); i++)
                if (json_object_object_get_ex(o, id_keys[i], &v) &&
                    (*id_fields[i] = get_id(rd, v, SUB(id_keys[i]))) >= 0)
                        m->n_keys++;
        if (json_object_object_get_ex(o, "class", &v)) {
                m->class_value = get_hex24(rd, v, SUB("class"), true);
                bool short_form = json_object_is_type(v, json_type_string) &&
                                  strlen(json_object_get_string(v)) == 4;
                m->class_mask = short_form ? 0xffff00 : 0xffffff;
                if (json_object_object_get_ex(o, "class_mask", &v))
                        m->class_mask = get_hex24(rd, v, SUB("class_mask"), false);
                if (m->class_value >= 0 && m->class_mask > 0) {
                        if (m->class_value & ~m->class_mask)
                                complain(rd, SUB("class"), 0,
                                         "the class has bits the mask "
                                         "clears: it can never match");
                        m->n_keys++;
                }
        } else if (json_object_object_get_ex(o, "class_mask", &v))
                complain(rd, SUB("class_mask"), 1, "class_mask without class");
        if (json_object_object_get_ex(o, "class_name", &v)) {
                _cleanup_free_ char *name = get_string(rd, v, SUB("class_name"));
                size_t i;
                for (i = 0; name && i < ELEMENTSOF(class_names); i++)
                        if (streq(class_names[i].name, name))
                                break;
                if (name && i == ELEMENTSOF(class_names))
                        complain(rd, sub, 0,
                                 "unknown class name '%s' (known: storage, nvme, "
                                 "network, ethernet, display, vga, multimedia, audio, bridge, "
                                 "usb, accelerator)",
                                 IOM_ESCAPE(name));
                else if (name && json_object_object_get_ex(o, "class", NULL))
                        complain(rd, sub, 1, "class_name and class together");
                else if (name) {
                        m->class_value = class_names[i].value;
                        m->class_mask = class_names[i].mask;
                        m->n_keys++;
                }
        }
        if (json_object_object_get_ex(o, "driver", &v) &&
            (m->driver = get_driver(rd, v, SUB("driver"))))
                m->n_keys++;
        if (json_object_object_get_ex(o, "host_driver", &v) &&
            (m->host_driver = get_driver(rd, v, SUB("host_driver"))))
                m->n_keys++;
        if (json_object_object_get_ex(o, "dsn", &v) && (m->dsn = get_string(rd, v, SUB("dsn")))) {
                bool ok = strlen(m->dsn) == 23;
                for (size_t i = 0; ok && i < 23; i++)
                        ok = i % 3 == 2 ? m->dsn[i] == '-'
                                        : !!strchr("0123456789abcdef", m->dsn[i]);
                if (ok)
                        m->n_keys++;
                else {
                        complain(rd, sub, 0,
                                 "'%s' is not a serial number: eight lower-case hex "
                                 "bytes joined by '-', as in '00-11-22-33-44-55-66-77'",
                                 IOM_ESCAPE(m->dsn));
                        m->dsn = mfree(m->dsn);
                }
        }
        /* A device named by address or alias; aliases are resolved once all files are read. */
        if (json_object_object_get_ex(o, "same_group_as", &v) &&
            (m->same_group_as = get_string(rd, v, SUB("same_group_as"))))
                m->n_keys++;
        if (json_object_object_get_ex(o, "vfs_of", &v) &&
            (m->vfs_of = get_string(rd, v, SUB("vfs_of"))))
                m->n_keys++;
#undef SUB
}

static void read_guests(struct reader *rd, json_object *a, const char *path,
                        struct iom_policy_rule *rule) {
        size_t n;

        if (!check_type(rd, a, path, json_type_array, "an array of guest names"))
                return;
        n = json_object_array_length(a);
        if (n == 0) {
                complain(rd, path, 0, "no guest: name at least one, or \"*\" for all");
                return;
        }
        rule->guests = calloc(n + 1, sizeof(char *));
        if (!rule->guests)
                return;
        for (size_t i = 0, k = 0; i < n; i++) {
                char sub[512];
                const char *why;
                (void) snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
                char *g = get_string(rd, json_object_array_get_idx(a, i), sub);
                if (!g)
                        continue;
                if (iom_owner_validate(g, &why) < 0) {
                        complain(rd, sub, 0, "'%s': %s", IOM_ESCAPE(g), why);
                        free(g);
                        continue;
                }
                rule->guests[k++] = g;
        }
}

static void read_options(struct reader *rd, json_object *o, const char *path,
                         struct iom_policy_rule *rule) {
        static const char *const keys[] = {"autobind",          "host_driver",   "allow_in_use",
                                           "require_isolation", "max_per_guest", NULL};
        static const char *const flag_keys[] = {"autobind", "allow_in_use", "require_isolation"};
        bool *flags[] = {&rule->autobind, &rule->allow_in_use, &rule->require_isolation};
        json_object *v;
        char sub[512];

        if (!check_type(rd, o, path, json_type_object, "an object"))
                return;
        check_keys(rd, o, path, keys);
        for (size_t i = 0; i < ELEMENTSOF(flag_keys); i++) {
                (void) snprintf(sub, sizeof(sub), "%s.%s", path, flag_keys[i]);
                if (json_object_object_get_ex(o, flag_keys[i], &v) &&
                    check_type(rd, v, sub, json_type_boolean, "true or false"))
                        *flags[i] = json_object_get_boolean(v);
        }
        (void) snprintf(sub, sizeof(sub), "%s.host_driver", path);
        if (json_object_object_get_ex(o, "host_driver", &v))
                rule->host_driver_option = get_driver(rd, v, sub);
        (void) snprintf(sub, sizeof(sub), "%s.max_per_guest", path);
        if (json_object_object_get_ex(o, "max_per_guest", &v) &&
            check_type(rd, v, sub, json_type_int, "a whole number")) {
                int64_t n = json_object_get_int64(v);
                if (n < 1 || n > 4096)
                        complain(rd, sub, 0, "must be 1-4096");
                else
                        rule->max_per_guest = (unsigned) n;
        }
}

static bool valid_id(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && !strchr("-_.", *s))
                        return false;
        return true;
}

static void read_rule(struct reader *rd, json_object *o, const char *path,
                      struct iom_policy_rule *rule) {
        static const char *const keys[] = {"id",     "description", "match", "guests",
                                           "action", "options",     NULL};
        static const char *const required[] = {"id", "match", "guests", "action"};
        json_object *v;
        char sub[512];

        if (!check_type(rd, o, path, json_type_object, "a rule object"))
                return;
        iom_json_locate(rd->doc, path, 0, &rule->line, &rule->column);
        rule->file = strdup(iom_json_name(rd->doc));
        check_keys(rd, o, path, keys);
        for (size_t i = 0; i < ELEMENTSOF(required); i++)
                if (!json_object_object_get_ex(o, required[i], NULL))
                        complain(rd, path, 0, "the rule has no '%s'", required[i]);
#define SUB(key) (snprintf(sub, sizeof(sub), "%s.%s", path, key), sub)
        iom_json_locate(rd->doc, SUB("id"), 0, &rule->id_line, &rule->id_column);
        if (json_object_object_get_ex(o, "id", &v) && (rule->id = get_string(rd, v, sub)) &&
            !valid_id(rule->id))
                complain(rd, sub, 0, "'%s' is not a rule id: letters, digits, '-', '_', '.'",
                         IOM_ESCAPE(rule->id));
        if (json_object_object_get_ex(o, "description", &v))
                (void) check_type(rd, v, SUB("description"), json_type_string, "a string");
        if (json_object_object_get_ex(o, "match", &v))
                read_match(rd, v, SUB("match"), &rule->match);
        if (json_object_object_get_ex(o, "guests", &v))
                read_guests(rd, v, SUB("guests"), rule);
        if (json_object_object_get_ex(o, "action", &v)) {
                _cleanup_free_ char *action = get_string(rd, v, SUB("action"));
                if (action && streq(action, "allow"))
                        rule->action = IOM_POLICY_ALLOW;
                else if (action && streq(action, "deny"))
                        rule->action = IOM_POLICY_DENY;
                else if (action)
                        complain(rd, sub, 0, "'%s' is not an action: allow or deny",
                                 IOM_ESCAPE(action));
        }
        if (json_object_object_get_ex(o, "options", &v))
                read_options(rd, v, SUB("options"), rule);
#undef SUB
}

static void read_aliases(struct reader *rd, json_object *o, struct iom_policy *p) {
        if (!check_type(rd, o, "aliases", json_type_object, "an object of name: address"))
                return;
        json_object_object_foreach(o, name, value) {
                _cleanup_free_ char *address = NULL;
                struct iom_address a;
                const char *why;
                char sub[512];

                (void) snprintf(sub, sizeof(sub), "aliases.%s", name);
                address = get_string(rd, value, sub);
                if (!address)
                        continue;
                if (!valid_id(name)) {
                        complain(rd, sub, 1,
                                 "'%s' is not an alias name: letters, digits, '-', "
                                 "'_', '.'",
                                 IOM_ESCAPE(name));
                        continue;
                }
                if (iom_address_parse(address, &a, &why) < 0) {
                        complain(rd, sub, 0, "'%s' is not a PCI address: %s", IOM_ESCAPE(address),
                                 why);
                        continue;
                }
                if (GREEDY_REALLOC(p->aliases, p->n_aliases + 1) < 0)
                        return;
                p->aliases[p->n_aliases] =
                        (struct iom_policy_alias){.name = strdup(name), .address = a};
                p->n_aliases++;
        }
}

int iom_policy_add_text(struct iom_policy *p, const char *name, const char *text,
                        char **ret_errors) {
        static const char *const keys[] = {"aliases", "rules", NULL};
        _cleanup_(iom_json_doc_freep) struct iom_json_doc *doc = NULL;
        char *syntax = NULL;
        json_object *root, *rules;
        int r;

        r = iom_json_parse(name, text, &doc, &syntax);
        if (r < 0) {
                if (syntax && ret_errors) {
                        char *joined;
                        if (asprintf(&joined, "%s%s%s", strempty(*ret_errors),
                                     *ret_errors ? "\n" : "", syntax) >= 0) {
                                free(*ret_errors);
                                *ret_errors = joined;
                        }
                }
                free(syntax);
                return r == -EBADMSG ? -EINVAL : r;
        }

        struct reader rd = {.doc = doc, .errors = ret_errors};
        root = iom_json_root(doc);
        if (!check_type(&rd, root, "", json_type_object, "an object with \"rules\""))
                return -EINVAL;
        check_keys(&rd, root, "", keys);
        if (json_object_object_get_ex(root, "aliases", &rules))
                read_aliases(&rd, rules, p);
        if (json_object_object_get_ex(root, "rules", &rules) &&
            check_type(&rd, rules, "rules", json_type_array, "an array of rules")) {
                size_t n = json_object_array_length(rules);
                if (p->n_rules + n > IOM_POLICY_RULES_MAX) {
                        complain(&rd, "rules", 0, "more than %d rules", IOM_POLICY_RULES_MAX);
                        return -EINVAL;
                }
                struct iom_policy_rule *grown =
                        realloc(p->rules, (p->n_rules + n) * sizeof(*grown));
                if (!grown)
                        return -ENOMEM;
                p->rules = grown;
                for (size_t i = 0; i < n; i++) {
                        char path[64];
                        (void) snprintf(path, sizeof(path), "rules[%zu]", i);
                        p->rules[p->n_rules] = (struct iom_policy_rule){};
                        read_rule(&rd, json_object_array_get_idx(rules, i), path,
                                  &p->rules[p->n_rules]);
                        p->n_rules++;
                }
        }
        return rd.n_errors > 0 ? -EINVAL : 0;
}
