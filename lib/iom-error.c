/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Errors with a sentence. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "iom-error.h"

int iom_error(char **ret_error, int error, const char *format, ...) {
        va_list ap;

        if (!ret_error)
                return error;
        free(*ret_error);
        va_start(ap, format);
        if (vasprintf(ret_error, format, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return error;
}
