/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Human tables: columns sized to their widest cell, colour only on a terminal. */
#pragma once

#include <stdio.h>

#include "macro.h"

struct table;

struct table *table_new(size_t n_columns, const char *const *headers);
struct table *table_free(struct table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct table *, table_free);

/* Adds a row of @n_columns cells (NULL prints "-"); @color (an ANSI SGR code such as "31",
 * or NULL) applies to the cell of @color_column. */
int table_add_row(struct table *t, const char *const *cells, const char *color);

/* Which column a row's colour applies to (default: the last). */
void table_set_color_column(struct table *t, size_t column);

int table_print(const struct table *t, FILE *f);

#define ANSI_RED "31"
#define ANSI_GREEN "32"
#define ANSI_YELLOW "33"
