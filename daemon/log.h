/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's logging: to the journal under systemd, to stderr otherwise. */
#pragma once

#include <errno.h>
#include <syslog.h>

#include "iom-utf8.h" /* IOM_ESCAPE() for the strings callers chose */
#include "macro.h"

void log_setup(void);
void log_set_max_level(int level);

/* Logs @format at @level (to the journal with the code location, else to stderr) and returns
 * -abs(@error), so "return log_error_errno(r, ...)" works and %m names @error. */
int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(6, 7);

#define log_full_errno(level, error, ...)                                                          \
        log_internal(level, error, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, error, __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, error, __VA_ARGS__)
#define log_notice_errno(error, ...) log_full_errno(LOG_NOTICE, error, __VA_ARGS__)
#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, error, __VA_ARGS__)
#define log_oom() log_error_errno(ENOMEM, "Out of memory.")

/* A refusal of a caller's request, at LOG_NOTICE: at most LOG_REFUSED_BURST of them in
 * LOG_REFUSED_INTERVAL_SEC, so a caller refused in a loop cannot flood the journal; how many
 * were left out is said with the next one logged. Callable from any thread. */
#define LOG_REFUSED_BURST 10u
#define LOG_REFUSED_INTERVAL_SEC 10u
void log_refused_internal(const char *file, int line, const char *func, const char *format, ...)
        _printf_(4, 5);
#define log_refused(...) log_refused_internal(__FILE__, __LINE__, __func__, __VA_ARGS__)
