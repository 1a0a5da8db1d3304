/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NULL-terminated string vectors (free them with strv_free() from macro.h). */
#pragma once

#include <stddef.h>

/* Splits @s at blanks and newlines into a new vector (empty for an empty string). */
int iom_strv_split(const char *s, char ***ret);

/* Keeps only the strings @keep says yes to, in order, freeing the others. */
void iom_strv_filter(char **l, int (*keep)(const char *s));
