/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Errors with a sentence: the negative errno a function returns, and what a person reads. */
#pragma once

#include "macro.h"

/* Sets *@ret_error (when @ret_error is non-NULL) to the formatted sentence, freeing the one it
 * held (so it must start NULL), and returns @error. On OOM the sentence is NULL. */
int iom_error(char **ret_error, int error, const char *format, ...) _printf_(3, 4);
