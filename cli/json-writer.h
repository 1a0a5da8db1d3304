/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A --json document written as it is walked, for the inventory's thousands of objects: the
 * same bytes json_print() makes of a json-c tree, without building one. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "iom-address.h"

#define JSON_WRITER_DEPTH_MAX 16
#define JSON_WRITER_BUFFER 8192

/* The document goes through its own buffer, handed to @f a block at a time: the 2 MB of the
 * big hosts' lists as a few hundred fwrite() calls rather than millions of stdio calls. */
struct json_writer {
        FILE *f;
        unsigned depth;
        bool has_members[JSON_WRITER_DEPTH_MAX]; /* per open container */
        size_t n;                                /* bytes in buffer */
        bool failed;                             /* a block did not go to @f */
        char buffer[JSON_WRITER_BUFFER];
};

/* Each value takes @key inside an object, NULL inside an array or at the top. Containers
 * nest up to JSON_WRITER_DEPTH_MAX deep (an assertion: the documents are ours). */
void json_writer_begin_object(struct json_writer *w, const char *key);
/* The object @key when @present (true: write its members and end it), else null (false). */
bool json_writer_begin_object_or_null(struct json_writer *w, const char *key, bool present);
void json_writer_begin_array(struct json_writer *w, const char *key);
void json_writer_end(struct json_writer *w, char close);
/* NULL writes null (for a string or an address). */
void json_writer_string(struct json_writer *w, const char *key, const char *s);
void json_writer_int(struct json_writer *w, const char *key, int64_t v);
void json_writer_uint(struct json_writer *w, const char *key, uint64_t v);
void json_writer_bool(struct json_writer *w, const char *key, bool v);
void json_writer_null(struct json_writer *w, const char *key);
void json_writer_address(struct json_writer *w, const char *key, const struct iom_address *a);
/* An array of the strings of the NULL-terminated @l; NULL writes []. */
void json_writer_strv(struct json_writer *w, const char *key, char *const *l);

/* A member written straight from a field of a struct, as an SD_BUS_PROPERTY without a getter
 * is: a table of them writes the plain members of an object, in order. */
enum json_field_kind {
        JSON_FIELD_STRING, /* char * */
        JSON_FIELD_STRV,   /* char **, NULL-terminated */
        JSON_FIELD_BOOL,
        JSON_FIELD_UINT, /* an unsigned integer of 1, 2, 4 or 8 bytes */
        JSON_FIELD_INT,  /* an int */
};

struct json_field {
        const char *key;
        enum json_field_kind kind;
        size_t offset, size;
};

#define JSON_FIELD(key, kind, type, member)                                                        \
        { key, kind, offsetof(type, member), sizeof(((type *) NULL)->member) }

/* Writes the members @fields (@n of them) of the struct at @object. */
void json_writer_fields(struct json_writer *w, const struct json_field *fields, size_t n,
                        const void *object);
/* The document's "version", first in every document (json-print.h). */
void json_writer_begin_document(struct json_writer *w);
/* Ends the document with a newline and flushes: -EIO when stdout could not take it. */
int json_writer_finish(struct json_writer *w);
