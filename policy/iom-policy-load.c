/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loading a policy from files or a directory, and the checks across rules and files. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iom-error.h"
#include "iom-policy.h"
#include "iom-strv.h"
#include "iom-sysfs.h"
#include "iom-utf8.h"
#include "macro.h"

static bool same_match(const struct iom_policy_match *a, const struct iom_policy_match *b) {
#define SAME_STR(x, y) ((!(x) && !(y)) || ((x) && (y) && streq((x), (y))))
        return SAME_STR(a->address, b->address) && a->vendor == b->vendor &&
               a->device == b->device && a->subsystem_vendor == b->subsystem_vendor &&
               a->subsystem_device == b->subsystem_device && a->class_value == b->class_value &&
               a->class_mask == b->class_mask && SAME_STR(a->driver, b->driver) &&
               SAME_STR(a->host_driver, b->host_driver) && SAME_STR(a->dsn, b->dsn) &&
               SAME_STR(a->same_group_as, b->same_group_as) && SAME_STR(a->vfs_of, b->vfs_of);
#undef SAME_STR
}

/* A device reference of a match: an alias of the policy, or an address. */
static int resolve_reference(const struct iom_policy *p, const struct iom_policy_rule *rule,
                             const char *key, const char *name, struct iom_address *ret,
                             char **ret_error) {
        const struct iom_address *alias = iom_policy_alias(p, name);
        _cleanup_free_ char *why = NULL;
        int r;

        if (alias) {
                *ret = *alias;
                return 0;
        }
        r = iom_address_parse(name, ret, &why);
        if (r != -EINVAL)
                return r;
        return iom_error_append(ret_error, -EINVAL,
                                "%s:%u:%u: rule '%s': %s '%s' is neither an alias nor a PCI "
                                "address (%s)",
                                rule->file, rule->line, rule->column, strempty(rule->id), key,
                                IOM_ESCAPE(name), why);
}

/* The first error of @r and @k, out-of-memory before a problem. */
static int worst(int r, int k) {
        return r == -ENOMEM || k >= 0 ? r : k;
}

static int resolve_references(struct iom_policy *p, char **ret_error) {
        int r = 0;

        for (size_t i = 0; i < p->n_rules && r != -ENOMEM; i++) {
                struct iom_policy_rule *rule = &p->rules[i];
                if (rule->match.same_group_as)
                        r = worst(r, resolve_reference(
                                             p, rule, "same_group_as", rule->match.same_group_as,
                                             &rule->match.same_group_as_address, ret_error));
                if (rule->match.vfs_of)
                        r = worst(r, resolve_reference(p, rule, "vfs_of", rule->match.vfs_of,
                                                       &rule->match.vfs_of_address, ret_error));
        }
        return r;
}

/* Duplicate ids, and two rules that match the same devices for the same guests but disagree:
 * neither is more specific, and the file order must not decide silently. */
static int check_rules(const struct iom_policy *p, char **ret_error) {
        int r = 0;

        for (size_t i = 0; i < p->n_rules && r != -ENOMEM; i++) {
                const struct iom_policy_rule *b = &p->rules[i];
                for (size_t k = 0; k < i; k++) {
                        const struct iom_policy_rule *a = &p->rules[k];
                        if (a->id && b->id && streq(a->id, b->id)) {
                                r = worst(r, iom_error_append(
                                                     ret_error, -EINVAL,
                                                     "%s:%u:%u: duplicate rule id '%s' (first at "
                                                     "%s:%u)",
                                                     b->file, b->id_line, b->id_column, b->id,
                                                     a->file, a->id_line));
                        } else if (a->action != b->action && same_match(&a->match, &b->match) &&
                                   iom_strv_equal(a->guests, b->guests)) {
                                r = worst(r, iom_error_append(
                                                     ret_error, -EINVAL,
                                                     "%s:%u:%u: rule '%s' conflicts with rule "
                                                     "'%s' (%s:%u): the same devices and guests, "
                                                     "the opposite action",
                                                     b->file, b->line, b->column, strempty(b->id),
                                                     strempty(a->id), a->file, a->line));
                        }
                }
        }
        for (size_t i = 0; i < p->n_aliases; i++)
                for (size_t k = 0; k < i; k++)
                        if (streq(p->aliases[i].name, p->aliases[k].name))
                                r = worst(r, iom_error_append(ret_error, -EINVAL,
                                                              "alias '%s' is defined twice",
                                                              p->aliases[i].name));
        return r;
}

int iom_policy_load_files(char *const *paths, struct iom_policy **ret, char **ret_error) {
        _cleanup_(iom_policy_freep) struct iom_policy *p = iom_policy_new();
        _cleanup_(iom_strv_done) struct iom_strv files = {};
        int r = 0;

        if (!p)
                return -ENOMEM;
        for (char *const *path = paths; path && *path && r != -ENOMEM; path++) {
                _cleanup_free_ char *text = NULL;
                int k = iom_read_file(*path, IOM_POLICY_FILE_SIZE_MAX, &text, NULL);

                if (k == -EFBIG)
                        k = iom_error_append(ret_error, -EINVAL,
                                             "%s:1:1: the file is larger than %d bytes", *path,
                                             IOM_POLICY_FILE_SIZE_MAX);
                else if (k == -EBADFD)
                        k = iom_error_append(ret_error, -EINVAL, "%s: not a regular file", *path);
                else if (k < 0)
                        k = iom_error_append(ret_error, -EINVAL, "%s: %s", *path, strerror(-k));
                else
                        k = iom_policy_add_text(p, *path, text, ret_error);
                r = worst(r, k);
                if (iom_strv_push_copy(&files, *path) < 0)
                        return -ENOMEM;
        }
        if (files.v) {
                strv_free(p->files);
                p->files = TAKE_PTR(files.v);
        }
        if (r < 0)
                return r;
        r = check_rules(p, ret_error);
        if (r < 0)
                return r;
        r = resolve_references(p, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int iom_policy_load_dir(const char *dir, struct iom_policy **ret, char **ret_error) {
        _cleanup_(iom_strv_done) struct iom_strv paths = {};
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *e;

        d = opendir(dir);
        if (!d && errno != ENOENT) {
                int r = -errno;
                return iom_error_append(ret_error, r, "%s: %s", dir, strerror(-r));
        }
        while (d && (e = readdir(d))) {
                size_t len = strlen(e->d_name);
                char *path;

                if (e->d_name[0] == '.' || len < 6 || !streq(e->d_name + len - 5, ".json"))
                        continue;
                if (asprintf(&path, "%s/%s", dir, e->d_name) < 0 || iom_strv_push(&paths, path) < 0)
                        return -ENOMEM;
        }
        if (paths.v)
                qsort(paths.v, paths.n, sizeof(char *), compare_names);
        return iom_policy_load_files(paths.v, ret, ret_error);
}
