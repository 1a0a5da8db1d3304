/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* String vectors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iom-strv.h"
#include "macro.h"

void iom_strv_done(struct iom_strv *l) {
        l->v = strv_free(l->v);
        l->n = 0;
}

int iom_strv_push(struct iom_strv *l, char *s) {
        if (!s || GREEDY_REALLOC(l->v, l->n + 2) < 0) {
                free(s);
                return -ENOMEM;
        }
        l->v[l->n++] = s;
        l->v[l->n] = NULL;
        return 0;
}

int iom_strv_push_copy(struct iom_strv *l, const char *s) {
        return iom_strv_push(l, strdup(s));
}

bool iom_strv_contains(char *const *l, const char *s) {
        for (; l && *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

bool iom_strv_equal(char *const *a, char *const *b) {
        for (; a && b && *a && *b; a++, b++)
                if (!streq(*a, *b))
                        return false;
        return (!a || !*a) && (!b || !*b);
}

char *iom_strv_join(char *const *l, const char *separator) {
        size_t len = 1, n = strlen(separator);
        char *joined, *p;

        for (char *const *i = l; i && *i; i++)
                len += strlen(*i) + (i == l ? 0 : n);
        p = joined = malloc(len);
        if (!joined)
                return NULL;
        for (char *const *i = l; i && *i; i++) {
                if (i != l)
                        p = stpcpy(p, separator);
                p = stpcpy(p, *i);
        }
        *p = '\0';
        return joined;
}

int iom_strv_split(const char *s, char ***ret) {
        _cleanup_(iom_strv_done) struct iom_strv v = {};
        _cleanup_free_ char *copy = NULL;
        char *save = NULL;
        int r = 0;

        if (!s || !ret)
                return -EINVAL;
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, " \t\n", &save); r >= 0 && w;
             w = strtok_r(NULL, " \t\n", &save))
                r = iom_strv_push_copy(&v, w);
        if (r < 0)
                return r;
        if (!v.v && !(v.v = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(v.v);
        return 0;
}

void iom_strv_filter(char **l, int (*keep)(const char *s)) {
        char **out = l;

        for (char **i = l; i && *i; i++) {
                if (keep(*i))
                        *out++ = *i;
                else
                        free(*i);
        }
        if (l)
                *out = NULL;
}
