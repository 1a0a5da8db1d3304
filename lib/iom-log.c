/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libiom's logging callback. */
#include <errno.h>
#include <stdarg.h>

#include "iom-log.h"

static iom_log_func_t log_func;

void iom_log_set_func(iom_log_func_t func) {
        log_func = func;
}

void iom_log_internal(int priority, const char *file, int line, const char *func,
                      const char *format, ...) {
        va_list ap;
        int saved = errno;

        if (!log_func)
                return;
        va_start(ap, format);
        errno = saved;
        log_func(priority, file, line, func, format, ap);
        va_end(ap);
        errno = saved;
}
