/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON input with located ret_error: json-c parses, a small scanner of our own remembers where
 * each value and key stands, so every complaint reads "file:line:column: message". */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "macro.h"

struct iom_json_doc;

/* Parses @text, @name standing for its file in messages. Syntax ret_error give -EBADMSG with
 * "file:line:column: message" appended to *@ret_error as a line. */
int iom_json_parse(const char *name, const char *text, struct iom_json_doc **ret, char **ret_error);
struct iom_json_doc *iom_json_doc_free(struct iom_json_doc *doc);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct iom_json_doc *, iom_json_doc_free);

struct json_object *iom_json_root(const struct iom_json_doc *doc);
const char *iom_json_name(const struct iom_json_doc *doc);

/* Where the value at @path ("rules[2].match.vendor") starts, or with @key its member name;
 * 1-based, 0:0 when unknown. */
void iom_json_locate(const struct iom_json_doc *doc, const char *path, int key, unsigned *ret_line,
                     unsigned *ret_column);

/* Every problem a document's getters find is appended to *@ret_error (when non-NULL) as one
 * line "file:line:column: message", or "file: path: message" for a document located by path
 * (the top level is "(top)"); they return 0, -EINVAL for a problem, or -ENOMEM. A reader
 * that reports every problem goes on after -EINVAL; one that reports the first stops. */

/* Makes the document's problems read "file: path: message": for files the daemon writes,
 * where the path says more than the place. */
void iom_json_locate_by_path(struct iom_json_doc *doc);

/* Reports the formatted problem at the value at @path (with @key, at its member name). */
int iom_json_error(const struct iom_json_doc *doc, const char *path, int key, char **ret_error,
                   const char *format, ...) _printf_(5, 6);

/* "expected @what" unless @v is of @type. */
int iom_json_check_type(const struct iom_json_doc *doc, json_object *v, const char *path,
                        json_type type, const char *what, char **ret_error);

/* "unknown key 'K'" for every member of the object @o that @allowed (NULL-terminated) lacks. */
int iom_json_check_keys(const struct iom_json_doc *doc, json_object *o, const char *path,
                        const char *const *allowed, char **ret_error);

/* A copy of the string @v, at most @max bytes long. */
int iom_json_get_string(const struct iom_json_doc *doc, json_object *v, const char *path,
                        size_t max, char **ret, char **ret_error);

/* The member @key of the object @o at @path, of @type, or with @nullable null (*@ret NULL):
 * "'K' is missing", "'K' must be a string or null". */
int iom_json_member(const struct iom_json_doc *doc, json_object *o, const char *path,
                    const char *key, json_type type, bool nullable, json_object **ret,
                    char **ret_error);
/* The same for a string member, copied; NULL for null. */
int iom_json_member_string(const struct iom_json_doc *doc, json_object *o, const char *path,
                           const char *key, bool nullable, char **ret, char **ret_error);

/* The one way a document is written: pretty, one member per line, "/" unescaped. A new
 * string, NULL on OOM. */
char *iom_json_format(json_object *o);
/* The same on one line, for a stream of records (iommuctl monitor --json). */
char *iom_json_format_line(json_object *o);

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
