/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* String vectors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iom-strv.h"
#include "macro.h"

int iom_strv_split(const char *s, char ***ret) {
        _cleanup_strv_free_ char **v = NULL;
        _cleanup_free_ char *copy = NULL;
        size_t n = 0;
        char *save = NULL;

        if (!s || !ret)
                return -EINVAL;
        copy = strdup(s);
        v = calloc(1, sizeof(char *));
        if (!copy || !v)
                return -ENOMEM;
        for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
                if (GREEDY_REALLOC(v, n + 2) < 0)
                        return -ENOMEM;
                v[n + 1] = NULL;
                v[n] = strdup(w);
                if (!v[n])
                        return -ENOMEM;
                n++;
        }
        *ret = TAKE_PTR(v);
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
