/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Errors with a sentence. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iom-error.h"

int iom_verror(char **ret_error, int error, const char *format, va_list ap) {
        char *text;

        if (!ret_error)
                return error;
        if (vasprintf(&text, format, ap) < 0)
                text = NULL;
        free(*ret_error);
        *ret_error = text;
        return text ? error : -ENOMEM;
}

int iom_error(char **ret_error, int error, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = iom_verror(ret_error, error, format, ap);
        va_end(ap);
        return r;
}

int iom_error_append(char **ret_error, int error, const char *format, ...) {
        _cleanup_free_ char *line = NULL;
        size_t n, m;
        char *grown;
        va_list ap;

        if (!ret_error)
                return error;
        va_start(ap, format);
        (void) iom_verror(&line, error, format, ap);
        va_end(ap);
        if (!line)
                return -ENOMEM;
        if (!*ret_error) {
                *ret_error = TAKE_PTR(line);
                return error;
        }
        n = strlen(*ret_error);
        m = strlen(line);
        grown = realloc(*ret_error, n + 1 + m + 1);
        if (!grown)
                return -ENOMEM;
        grown[n] = '\n';
        memcpy(grown + n + 1, line, m + 1);
        *ret_error = grown;
        return error;
}
