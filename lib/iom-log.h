/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libiom's logging: debug-level messages through a callback the application sets. */
#pragma once

#include <stdarg.h>

#include "macro.h"

/* The application's sink for library messages; NULL (the default) drops them. */
typedef void (*iom_log_func_t)(int priority, const char *file, int line, const char *func,
                               const char *format, va_list ap);

void iom_log_set_func(iom_log_func_t func);

void iom_log_internal(int priority, const char *file, int line, const char *func,
                      const char *format, ...) _printf_(5, 6);

/* Logs at debug and returns @error, so "return iom_debug_errno(r, ...)" reads like systemd. */
#define iom_debug(...) iom_log_internal(7, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define iom_debug_errno(error, ...)                                                                \
        ({                                                                                         \
                int _e_ = (error);                                                                 \
                errno = _e_ < 0 ? -_e_ : _e_;                                                      \
                iom_debug(__VA_ARGS__);                                                            \
                _e_ < 0 ? _e_ : -_e_;                                                              \
        })
