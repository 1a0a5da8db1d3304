/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Errors with a sentence: the negative errno a function returns, and what a person reads. */
#pragma once

#include <stdarg.h>

#include "macro.h"

/* The one way a message leaves a function below main() and the bus edge: a last parameter
 * "char **ret_error" that the caller may pass as NULL, starts NULL and frees; it is written
 * only on failure. A report of several problems (a policy's) is the same parameter, one
 * problem per line.
 *
 * Sets *@ret_error (when @ret_error is non-NULL) to the formatted sentence, freeing the one it
 * held, and returns @error; -ENOMEM, with *@ret_error NULL, when the sentence cannot be
 * made, so that out-of-memory is never reported as the problem it interrupted. */
int iom_error(char **ret_error, int error, const char *format, ...) _printf_(3, 4);

/* iom_error() with the arguments as a va_list, for functions that take a format of their own. */
int iom_verror(char **ret_error, int error, const char *format, va_list ap);

/* Appends the formatted sentence to *@ret_error (when non-NULL) as a new line and returns
 * @error, or -ENOMEM (keeping what *@ret_error held) when it cannot. */
int iom_error_append(char **ret_error, int error, const char *format, ...) _printf_(3, 4);
