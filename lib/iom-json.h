/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON input with located errors: json-c parses, a small scanner of our own remembers where
 * each value and key stands, so every complaint reads "file:line:column: message". */
#pragma once

#include <stddef.h>

#include "macro.h"

struct json_object;
struct iom_json_doc;

/* Parses @text, @name standing for its file in messages. Syntax errors give -EBADMSG with
 * *@ret_error "file:line:column: message". */
int iom_json_parse(const char *name, const char *text, struct iom_json_doc **ret, char **ret_error);
struct iom_json_doc *iom_json_doc_free(struct iom_json_doc *doc);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct iom_json_doc *, iom_json_doc_free);

struct json_object *iom_json_root(const struct iom_json_doc *doc);
const char *iom_json_name(const struct iom_json_doc *doc);

/* Where the value at @path ("rules[2].match.vendor") starts, or with @key its member name;
 * 1-based, 0:0 when unknown. */
void iom_json_locate(const struct iom_json_doc *doc, const char *path, int key, unsigned *ret_line,
                     unsigned *ret_column);

/* Sets *@ret_error to "file:line:column: message" for the value at @path (its key with @key)
 * and returns -EINVAL. */
int iom_json_error(const struct iom_json_doc *doc, const char *path, int key, char **ret_error,
                   const char *format, ...) _printf_(5, 6);
