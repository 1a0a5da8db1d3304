/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NULL-terminated string vectors (free them with strv_free() from macro.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A vector being built: @v stays NULL-terminated (NULL while empty), @n counts its strings, so
 * appending is amortized O(1) (GREEDY_REALLOC) instead of a strlen or an asprintf each time. */
struct iom_strv {
        char **v;
        size_t n;
};

/* Frees the strings and the vector, for _cleanup_(iom_strv_done). */
void iom_strv_done(struct iom_strv *l);

/* Appends @s, which it takes (and frees on failure). */
int iom_strv_push(struct iom_strv *l, char *s);
/* Appends a copy of @s. */
int iom_strv_push_copy(struct iom_strv *l, const char *s);

bool iom_strv_contains(char *const *l, const char *s);
/* Same strings in the same order; NULL is the empty vector. */
bool iom_strv_equal(char *const *a, char *const *b);

/* The strings of @l joined with @separator, in one allocation: a new string ("" for an empty
 * or NULL vector), or NULL on OOM. */
char *iom_strv_join(char *const *l, const char *separator);

/* Splits @s at blanks and newlines into a new vector (empty for an empty string). */
int iom_strv_split(const char *s, char ***ret);

/* Keeps only the strings @keep says yes to, in order, freeing the others. */
void iom_strv_filter(char **l, int (*keep)(const char *s));
