/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Human tables. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iommuctl.h"
#include "macro.h"
#include "table.h"

struct table {
        size_t n_columns, n_rows;
        size_t color_column;
        char **cells; /* n_columns * (n_rows + 1), headers first */
        char **colors;
};

struct table *table_new(size_t n_columns, const char *const *headers) {
        struct table *t = calloc(1, sizeof(*t));

        if (!t)
                return NULL;
        t->n_columns = n_columns;
        t->color_column = n_columns - 1;
        if (table_add_row(t, headers, NULL) < 0)
                return table_free(t);
        t->n_rows = 0; /* the header row is not counted */
        return t;
}

struct table *table_free(struct table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_columns * (t->n_rows + 1); i++)
                free(t->cells[i]);
        for (size_t i = 0; i <= t->n_rows; i++)
                free(t->colors[i]);
        free(t->cells);
        free(t->colors);
        free(t);
        return NULL;
}

int table_add_row(struct table *t, const char *const *cells, const char *color) {
        /* The header occupies slot 0; table_new calls this once before any row. */
        size_t slot = t->cells ? t->n_rows + 1 : 0;
        char **grown = realloc(t->cells, (slot + 1) * t->n_columns * sizeof(char *));

        if (!grown)
                return -ENOMEM;
        t->cells = grown;
        grown = realloc(t->colors, (slot + 1) * sizeof(char *));
        if (!grown)
                return -ENOMEM;
        t->colors = grown;
        t->colors[slot] = color ? strdup(color) : NULL;
        for (size_t c = 0; c < t->n_columns; c++) {
                t->cells[slot * t->n_columns + c] = strdup(cells[c] ? cells[c] : "-");
                if (!t->cells[slot * t->n_columns + c])
                        return -ENOMEM;
        }
        if (slot > 0)
                t->n_rows++;
        return 0;
}

void table_set_color_column(struct table *t, size_t column) {
        if (column < t->n_columns)
                t->color_column = column;
}

int table_print(const struct table *t, FILE *f) {
        _cleanup_free_ size_t *width = calloc(t->n_columns, sizeof(size_t));

        if (!width)
                return -ENOMEM;
        for (size_t row = 0; row <= t->n_rows; row++)
                for (size_t c = 0; c < t->n_columns; c++)
                        width[c] = MAX(width[c], strlen(t->cells[row * t->n_columns + c]));

        for (size_t row = 0; row <= t->n_rows; row++) {
                for (size_t c = 0; c < t->n_columns; c++) {
                        const char *cell = t->cells[row * t->n_columns + c];
                        bool last = c + 1 == t->n_columns;
                        bool colored =
                                arg_color && (row == 0 || (c == t->color_column && t->colors[row]));

                        if (colored)
                                fprintf(f, "\033[%sm", row == 0 ? "1" : t->colors[row]);
                        if (last)
                                fputs(cell, f);
                        else
                                fprintf(f, "%-*s  ", (int) width[c], cell);
                        if (colored)
                                fputs("\033[0m", f);
                }
                fputc('\n', f);
        }
        return 0;
}
