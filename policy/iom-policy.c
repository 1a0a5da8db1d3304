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

#include "iom-bind.h"
#include "iom-json.h"
#include "iom-owner.h"
#include "iom-policy.h"
#include "iom-sysfs.h"
#include "iom-strv.h"
#include "iom-utf8.h"

/* Reads one file and reports every problem, one per line: a problem is counted and the
 * reading goes on; out-of-memory ends it (every reading function returns 0 or -ENOMEM, a value
 * it could not read left unset). */
struct reader {
        struct iom_json_doc *doc;
        char **error;
        unsigned n_errors;
};

static int note(struct reader *rd, int r) {
        if (r != -EINVAL)
                return r;
        rd->n_errors++;
        return 0;
}

#define complain(rd, path, key, ...)                                                               \
        note(rd, iom_json_error((rd)->doc, path, key, (rd)->error, __VA_ARGS__))

/* The path of the member @key of the object at the reading function's path, written to its
 * buffer sub[]: "rules[0].match" and "vendor" make "rules[0].match.vendor". */
#define SUB(key) (snprintf(sub, sizeof(sub), "%s.%s", path, key), sub)

/* Reports the string *@s at @path as not being @what ("'value' is not @what") and drops it, so
 * that a wrong value never stays in the rule; returns what complain() returns. */
static int reject_string(struct reader *rd, const char *path, char **s, const char *what) {
        int r = complain(rd, path, 0, "'%s' is not %s", IOM_ESCAPE(*s), what);

        *s = mfree(*s);
        return r;
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
        free(r->resource_name);
        free(r->reset_method);
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

/* 1 when @v is of @type, 0 when it is not (reported). */
static int check_type(struct reader *rd, json_object *v, const char *path, json_type type,
                      const char *what) {
        int r = iom_json_check_type(rd->doc, v, path, type, what, rd->error);

        return r < 0 ? note(rd, r) : 1;
}

/* 1 when @o is an object (whose keys not in @allowed are reported), 0 when it is not. */
static int check_object(struct reader *rd, json_object *o, const char *path, const char *what,
                        const char *const *allowed) {
        int r = check_type(rd, o, path, json_type_object, what);

        if (r <= 0)
                return r;
        r = note(rd, iom_json_check_keys(rd->doc, o, path, allowed, rd->error));
        return r < 0 ? r : 1;
}

static int get_string(struct reader *rd, json_object *v, const char *path, char **ret) {
        *ret = NULL;
        return note(rd,
                    iom_json_get_string(rd->doc, v, path, IOM_POLICY_STRING_MAX, ret, rd->error));
}

/* "10de": exactly four hex digits, lower case; *@ret -1 when it is not. */
static int get_id(struct reader *rd, json_object *v, const char *path, int *ret) {
        _cleanup_free_ char *s = NULL;
        int r = get_string(rd, v, path, &s);

        *ret = -1;
        if (r < 0 || !s)
                return r;
        if (strlen(s) != 4 || strspn(s, "0123456789abcdef") != 4)
                return complain(rd, path, 0,
                                "'%s' is not a PCI id: four lower-case hex digits, as in "
                                "'10de'",
                                IOM_ESCAPE(s));
        *ret = (int) strtol(s, NULL, 16);
        return 0;
}

/* A class, six hex digits or with @short_ok four (the prog-if 00); *@ret -1 when it is not. */
static int get_hex24(struct reader *rd, json_object *v, const char *path, bool short_ok,
                     int64_t *ret) {
        _cleanup_free_ char *s = NULL;
        int r = get_string(rd, v, path, &s);
        size_t n;

        *ret = -1;
        if (r < 0 || !s)
                return r;
        n = strlen(s);
        if ((n != 6 && !(short_ok && n == 4)) || strspn(s, "0123456789abcdef") != n)
                return complain(rd, path, 0,
                                "'%s' is not a class: %s lower-case hex digits, as in "
                                "'030000'",
                                IOM_ESCAPE(s), short_ok ? "four or six" : "six");
        *ret = strtol(s, NULL, 16) << (n == 4 ? 8 : 0);
        return 0;
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
static int get_address_glob(struct reader *rd, json_object *v, const char *path, char **ret) {
        _cleanup_free_ char *s = NULL, *why = NULL;
        struct iom_address a;
        int r = get_string(rd, v, path, &s);

        if (r < 0 || !s)
                return r;
        if (!strpbrk(s, "*?[")) {
                char canonical[IOM_ADDRESS_STRING_MAX];

                r = iom_address_parse(s, &a, &why);
                if (r == -EINVAL)
                        return complain(rd, path, 0, "'%s' is not a PCI address: %s", IOM_ESCAPE(s),
                                        why);
                if (r < 0)
                        return r;
                *ret = strdup(iom_address_format(&a, canonical));
                return *ret ? 0 : -ENOMEM;
        }
        if (strspn(s, "0123456789abcdef:.*?[]-!") != strlen(s))
                return complain(rd, path, 0,
                                "'%s' can never match: addresses are lower-case hex with "
                                "':' and '.', as in '0000:01:00.*'",
                                IOM_ESCAPE(s));
        if (fnmatch(s, "0000:00:00.0", 0) == FNM_NOMATCH && !strchr(s, ':'))
                return complain(rd, path, 0, "'%s' can never match: an address has ':'",
                                IOM_ESCAPE(s));
        *ret = TAKE_PTR(s);
        return 0;
}

static int get_driver(struct reader *rd, json_object *v, const char *path, char **ret) {
        _cleanup_free_ char *s = NULL, *why = NULL;
        int r = get_string(rd, v, path, &s);

        if (r < 0 || !s)
                return r;
        r = iom_driver_name_validate(s, &why);
        if (r == -EINVAL)
                return complain(rd, path, 0, "'%s' is not a driver name: %s", IOM_ESCAPE(s), why);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

/* "class_name" of the match object @o, instead of "class". */
static int read_class_name(struct reader *rd, json_object *o, json_object *v, const char *path,
                           struct iom_policy_match *m) {
        _cleanup_free_ char *name = NULL;
        int r = get_string(rd, v, path, &name);

        if (r < 0 || !name)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(class_names); i++)
                if (streq(class_names[i].name, name)) {
                        if (json_object_object_get_ex(o, "class", NULL))
                                return complain(rd, path, 1, "class_name and class together");
                        m->class_value = class_names[i].value;
                        m->class_mask = class_names[i].mask;
                        m->n_keys++;
                        return 0;
                }
        return complain(rd, path, 0,
                        "unknown class name '%s' (known: storage, nvme, network, ethernet, "
                        "display, vga, multimedia, audio, bridge, usb, accelerator)",
                        IOM_ESCAPE(name));
}

/* Reads the member @key of @o, when present, with @get; counts it as a key of the match when
 * it was read. */
#define MATCH_KEY(get, key, field)                                                                 \
        ({                                                                                         \
                int _r = 0;                                                                        \
                if (json_object_object_get_ex(o, key, &v)) {                                       \
                        _r = get(rd, v, SUB(key), field);                                          \
                        if (_r >= 0 && *(field))                                                   \
                                m->n_keys++;                                                       \
                }                                                                                  \
                _r;                                                                                \
        })

static int read_match(struct reader *rd, json_object *o, const char *path,
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
        int r;

        *m = (struct iom_policy_match){
                .vendor = -1, .device = -1, .subsystem_vendor = -1, .subsystem_device = -1};
        r = check_object(rd, o, path, "an object", keys);
        if (r <= 0)
                return r;
        r = MATCH_KEY(get_address_glob, "address", &m->address);
        if (r < 0)
                return r;
        const struct {
                const char *key;
                int *field;
        } ids[] = {
                {"vendor", &m->vendor},
                {"device", &m->device},
                {"subsystem_vendor", &m->subsystem_vendor},
                {"subsystem_device", &m->subsystem_device},
        };
        for (size_t i = 0; i < ELEMENTSOF(ids); i++)
                if (json_object_object_get_ex(o, ids[i].key, &v)) {
                        r = get_id(rd, v, SUB(ids[i].key), ids[i].field);
                        if (r < 0)
                                return r;
                        if (*ids[i].field >= 0)
                                m->n_keys++;
                }
        if (json_object_object_get_ex(o, "class", &v)) {
                r = get_hex24(rd, v, SUB("class"), true, &m->class_value);
                if (r < 0)
                        return r;
                bool short_form = json_object_is_type(v, json_type_string) &&
                                  strlen(json_object_get_string(v)) == 4;
                m->class_mask = short_form ? 0xffff00 : 0xffffff;
                if (json_object_object_get_ex(o, "class_mask", &v)) {
                        r = get_hex24(rd, v, SUB("class_mask"), false, &m->class_mask);
                        if (r < 0)
                                return r;
                }
                if (m->class_value >= 0 && m->class_mask > 0) {
                        if ((m->class_value & ~m->class_mask) &&
                            (r = complain(rd, SUB("class"), 0,
                                          "the class has bits the mask "
                                          "clears: it can never match")) < 0)
                                return r;
                        m->n_keys++;
                }
        } else if (json_object_object_get_ex(o, "class_mask", &v) &&
                   (r = complain(rd, SUB("class_mask"), 1, "class_mask without class")) < 0)
                return r;
        if (json_object_object_get_ex(o, "class_name", &v) &&
            (r = read_class_name(rd, o, v, SUB("class_name"), m)) < 0)
                return r;
        if ((r = MATCH_KEY(get_driver, "driver", &m->driver)) < 0 ||
            (r = MATCH_KEY(get_driver, "host_driver", &m->host_driver)) < 0)
                return r;
        if (json_object_object_get_ex(o, "dsn", &v)) {
                r = get_string(rd, v, SUB("dsn"), &m->dsn);
                if (r < 0)
                        return r;
                bool ok = m->dsn && strlen(m->dsn) == 23;
                for (size_t i = 0; ok && i < 23; i++)
                        ok = i % 3 == 2 ? m->dsn[i] == '-'
                                        : !!strchr("0123456789abcdef", m->dsn[i]);
                if (ok)
                        m->n_keys++;
                else if (m->dsn && (r = reject_string(rd, sub, &m->dsn,
                                                      "a serial number: eight lower-case hex "
                                                      "bytes joined by '-', as in "
                                                      "'00-11-22-33-44-55-66-77'")) < 0)
                        return r;
        }
        /* A device named by address or alias; aliases are resolved once all files are read. */
        if ((r = MATCH_KEY(get_string, "same_group_as", &m->same_group_as)) < 0 ||
            (r = MATCH_KEY(get_string, "vfs_of", &m->vfs_of)) < 0)
                return r;
        return 0;
}

static int read_guests(struct reader *rd, json_object *a, const char *path,
                       struct iom_policy_rule *rule) {
        size_t n;
        int r;

        r = check_type(rd, a, path, json_type_array, "an array of guest names");
        if (r <= 0)
                return r;
        n = json_object_array_length(a);
        if (n == 0)
                return complain(rd, path, 0, "no guest: name at least one, or \"*\" for all");
        rule->guests = calloc(n + 1, sizeof(char *));
        if (!rule->guests)
                return -ENOMEM;
        for (size_t i = 0, k = 0; i < n; i++) {
                _cleanup_free_ char *g = NULL, *why = NULL;
                char sub[512];

                (void) snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
                r = get_string(rd, json_object_array_get_idx(a, i), sub, &g);
                if (r < 0)
                        return r;
                if (!g)
                        continue;
                r = iom_owner_validate(g, &why);
                if (r == -EINVAL)
                        r = complain(rd, sub, 0, "'%s': %s", IOM_ESCAPE(g), why);
                else if (r >= 0)
                        rule->guests[k++] = TAKE_PTR(g);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A Kubernetes extended resource name (the API's IsExtendedResourceName): "prefix/name", the
 * prefix a lower-case DNS subdomain (RFC 1123) outside kubernetes.io, the name at most 63
 * letters, digits, '-', '_' or '.', starting and ending with a letter or digit. NULL when
 * @s is one, else what is wrong. */
static const char *resource_name_problem(const char *s) {
        const char *slash = strchr(s, '/'), *name;
        size_t prefix_len, name_len;

        if (!slash)
                return "needs a domain: 'vendor.example/name'";
        prefix_len = (size_t) (slash - s);
        name = slash + 1;
        name_len = strlen(name);
        if (prefix_len == 0 || prefix_len > 253 || !isalnum((unsigned char) s[0]) ||
            !isalnum((unsigned char) slash[-1]))
                return "the domain must start and end with a letter or digit";
        for (const char *c = s; c < slash; c++)
                if (!(islower((unsigned char) *c) || isdigit((unsigned char) *c) || *c == '-' ||
                      *c == '.'))
                        return "the domain may have only lower-case letters, digits, '-' and '.'";
        if ((prefix_len == 13 && strncmp(s, "kubernetes.io", 13) == 0) ||
            (prefix_len > 14 && strncmp(slash - 14, ".kubernetes.io", 14) == 0))
                return "kubernetes.io is Kubernetes' own domain";
        if (name_len == 0 || name_len > 63 || !isalnum((unsigned char) name[0]) ||
            !isalnum((unsigned char) name[name_len - 1]))
                return "the name must have 1-63 characters, starting and ending with a letter or "
                       "digit";
        for (const char *c = name; *c; c++)
                if (!isalnum((unsigned char) *c) && !strchr("-_.", *c))
                        return "the name may have only letters, digits, '-', '_' and '.'";
        return NULL;
}

/* The member @key of the options @o, when present: a whole number 1-@max. */
static int get_count(struct reader *rd, json_object *o, const char *path, const char *key,
                     unsigned max, unsigned *ret) {
        json_object *v;
        char sub[512];
        int r;

        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        r = check_type(rd, v, SUB(key), json_type_int, "a whole number");
        if (r <= 0)
                return r;
        int64_t n = json_object_get_int64(v);
        if (n < 1 || n > max)
                return complain(rd, sub, 0, "must be 1-%u", max);
        *ret = (unsigned) n;
        return 0;
}

static int read_options(struct reader *rd, json_object *o, const char *path,
                        struct iom_policy_rule *rule) {
        static const char *const keys[] = {"autobind",       "host_driver",
                                           "allow_in_use",   "require_isolation",
                                           "max_per_guest",  "resource_name",
                                           "sriov_numvfs",   "reset_method",
                                           "quarantine_after", "disable_d3cold",
                                           NULL};
        const struct {
                const char *key;
                bool *field;
        } flags[] = {
                {"autobind", &rule->autobind},
                {"allow_in_use", &rule->allow_in_use},
                {"require_isolation", &rule->require_isolation},
                {"quarantine_after", &rule->quarantine_after},
                {"disable_d3cold", &rule->disable_d3cold},
        };
        json_object *v;
        char sub[512];
        int r;

        r = check_object(rd, o, path, "an object", keys);
        if (r <= 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(flags); i++) {
                if (!json_object_object_get_ex(o, flags[i].key, &v))
                        continue;
                r = check_type(rd, v, SUB(flags[i].key), json_type_boolean, "true or false");
                if (r < 0)
                        return r;
                if (r > 0)
                        *flags[i].field = json_object_get_boolean(v);
        }
        if (json_object_object_get_ex(o, "host_driver", &v) &&
            (r = get_driver(rd, v, SUB("host_driver"), &rule->host_driver_option)) < 0)
                return r;
        r = get_count(rd, o, path, "max_per_guest", 4096, &rule->max_per_guest);
        if (r < 0)
                return r;
        r = get_count(rd, o, path, "sriov_numvfs", 65535, &rule->sriov_numvfs);
        if (r < 0)
                return r;
        if (rule->sriov_numvfs > 0 && rule->match.vfs_of)
                return complain(rd, SUB("sriov_numvfs"), 0,
                                "a rule matching VFs (vfs_of) cannot make VFs: a VF has none; "
                                "give sriov_numvfs to a rule matching the PF");
        if (json_object_object_get_ex(o, "reset_method", &v)) {
                r = get_string(rd, v, SUB("reset_method"), &rule->reset_method);
                if (r < 0)
                        return r;
                if (rule->reset_method && !iom_reset_method_is_known(rule->reset_method)) {
                        _cleanup_free_ char *known = NULL, *what = NULL;

                        known = iom_strv_join((char *const *) iom_reset_methods, ", ");
                        if (!known || asprintf(&what, "a reset method (known: %s)", known) < 0)
                                return -ENOMEM;
                        r = reject_string(rd, sub, &rule->reset_method, what);
                        if (r < 0)
                                return r;
                }
        }
        if (json_object_object_get_ex(o, "resource_name", &v)) {
                _cleanup_free_ char *name = NULL;
                const char *problem;

                r = get_string(rd, v, SUB("resource_name"), &name);
                if (r < 0 || !name)
                        return r;
                problem = resource_name_problem(name);
                if (problem)
                        return complain(rd, sub, 0, "'%s' is not a Kubernetes resource name: %s",
                                        IOM_ESCAPE(name), problem);
                rule->resource_name = TAKE_PTR(name);
        }
        return 0;
}

static bool valid_id(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && !strchr("-_.", *s))
                        return false;
        return true;
}

static int read_action(struct reader *rd, json_object *v, const char *path,
                       enum iom_policy_action *ret) {
        _cleanup_free_ char *action = NULL;
        int r = get_string(rd, v, path, &action);

        if (r < 0 || !action)
                return r;
        r = iom_policy_action_from_string(action);
        if (r < 0)
                return complain(rd, path, 0, "'%s' is not an action: allow or deny",
                                IOM_ESCAPE(action));
        *ret = r;
        return 0;
}

static int read_rule(struct reader *rd, json_object *o, const char *path,
                     struct iom_policy_rule *rule) {
        static const char *const keys[] = {"id",     "description", "match", "guests",
                                           "action", "options",     NULL};
        static const char *const required[] = {"id", "match", "guests", "action"};
        json_object *v;
        char sub[512];
        int r;

        r = check_object(rd, o, path, "a rule object", keys);
        if (r <= 0)
                return r;
        iom_json_locate(rd->doc, path, 0, &rule->line, &rule->column);
        rule->file = strdup(iom_json_name(rd->doc));
        if (!rule->file)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(required); i++)
                if (!json_object_object_get_ex(o, required[i], NULL) &&
                    (r = complain(rd, path, 0, "the rule has no '%s'", required[i])) < 0)
                        return r;
        iom_json_locate(rd->doc, SUB("id"), 0, &rule->id_line, &rule->id_column);
        if (json_object_object_get_ex(o, "id", &v)) {
                r = get_string(rd, v, sub, &rule->id);
                if (r >= 0 && rule->id && !valid_id(rule->id))
                        r = complain(rd, sub, 0,
                                     "'%s' is not a rule id: letters, digits, '-', '_', '.'",
                                     IOM_ESCAPE(rule->id));
                if (r < 0)
                        return r;
        }
        if ((json_object_object_get_ex(o, "description", &v) &&
             (r = check_type(rd, v, SUB("description"), json_type_string, "a string")) < 0) ||
            (json_object_object_get_ex(o, "match", &v) &&
             (r = read_match(rd, v, SUB("match"), &rule->match)) < 0) ||
            (json_object_object_get_ex(o, "guests", &v) &&
             (r = read_guests(rd, v, SUB("guests"), rule)) < 0) ||
            (json_object_object_get_ex(o, "action", &v) &&
             (r = read_action(rd, v, SUB("action"), &rule->action)) < 0) ||
            (json_object_object_get_ex(o, "options", &v) &&
             (r = read_options(rd, v, SUB("options"), rule)) < 0))
                return r;
        return 0;
}

static int read_aliases(struct reader *rd, json_object *o, struct iom_policy *p) {
        int r;

        r = check_type(rd, o, "aliases", json_type_object, "an object of name: address");
        if (r <= 0)
                return r;
        json_object_object_foreach(o, name, value) {
                _cleanup_free_ char *address = NULL, *why = NULL;
                struct iom_address a;
                char sub[512];

                (void) snprintf(sub, sizeof(sub), "aliases.%s", name);
                r = get_string(rd, value, sub, &address);
                if (r < 0)
                        return r;
                if (!address)
                        continue;
                if (!valid_id(name)) {
                        r = complain(rd, sub, 1,
                                     "'%s' is not an alias name: letters, digits, '-', "
                                     "'_', '.'",
                                     IOM_ESCAPE(name));
                        if (r < 0)
                                return r;
                        continue;
                }
                r = iom_address_parse(address, &a, &why);
                if (r == -EINVAL) {
                        r = complain(rd, sub, 0, "'%s' is not a PCI address: %s",
                                     IOM_ESCAPE(address), why);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (r < 0)
                        return r;
                if (GREEDY_REALLOC(p->aliases, p->n_aliases + 1) < 0)
                        return -ENOMEM;
                p->aliases[p->n_aliases] =
                        (struct iom_policy_alias){.name = strdup(name), .address = a};
                if (!p->aliases[p->n_aliases].name)
                        return -ENOMEM;
                p->n_aliases++;
        }
        return 0;
}

static int read_rules(struct reader *rd, json_object *rules, struct iom_policy *p) {
        size_t n;
        int r;

        r = check_type(rd, rules, "rules", json_type_array, "an array of rules");
        if (r <= 0)
                return r;
        n = json_object_array_length(rules);
        if (p->n_rules + n > IOM_POLICY_RULES_MAX)
                return complain(rd, "rules", 0, "more than %d rules", IOM_POLICY_RULES_MAX);
        if (GREEDY_REALLOC(p->rules, p->n_rules + n) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char path[64];

                (void) snprintf(path, sizeof(path), "rules[%zu]", i);
                p->rules[p->n_rules] = (struct iom_policy_rule){};
                p->n_rules++;
                r = read_rule(rd, json_object_array_get_idx(rules, i), path,
                              &p->rules[p->n_rules - 1]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int read_sleep_inhibit(struct reader *rd, json_object *v, struct iom_policy *p) {
        _cleanup_free_ char *mode = NULL;
        int r = get_string(rd, v, "sleep_inhibit", &mode);

        if (r < 0 || !mode)
                return r;
        r = iom_sleep_inhibit_from_string(mode);
        if (r < 0)
                return complain(rd, "sleep_inhibit", 0,
                                "'%s' is not an inhibitor mode: block, delay or none",
                                IOM_ESCAPE(mode));
        p->sleep_inhibit = r;
        return 0;
}

int iom_policy_add_text(struct iom_policy *p, const char *name, const char *text,
                        char **ret_error) {
        static const char *const keys[] = {"aliases", "rules", "sleep_inhibit", NULL};
        _cleanup_(iom_json_doc_freep) struct iom_json_doc *doc = NULL;
        json_object *root, *v;
        int r;

        r = iom_json_parse(name, text, &doc, ret_error);
        if (r < 0)
                return r == -EBADMSG ? -EINVAL : r;

        struct reader rd = {.doc = doc, .error = ret_error};
        root = iom_json_root(doc);
        r = check_object(&rd, root, "", "an object with \"rules\"", keys);
        if (r <= 0)
                return r < 0 ? r : -EINVAL;
        if ((json_object_object_get_ex(root, "aliases", &v) && (r = read_aliases(&rd, v, p)) < 0) ||
            (json_object_object_get_ex(root, "sleep_inhibit", &v) &&
             (r = read_sleep_inhibit(&rd, v, p)) < 0) ||
            (json_object_object_get_ex(root, "rules", &v) && (r = read_rules(&rd, v, p)) < 0))
                return r;
        return rd.n_errors > 0 ? -EINVAL : 0;
}
