/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A --json document written as it is walked, for the inventory's thousands of objects: the
 * same bytes json_print() makes of a json-c tree, without building one. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "iom-address.h"

#define JSON_WRITER_DEPTH_MAX 16

struct json_writer {
        FILE *f;
        unsigned depth;
        bool has_members[JSON_WRITER_DEPTH_MAX]; /* per open container */
};

/* Each value takes @key inside an object, NULL inside an array or at the top. Containers
 * nest up to JSON_WRITER_DEPTH_MAX deep (an assertion: the documents are ours). */
void json_writer_begin_object(struct json_writer *w, const char *key);
void json_writer_begin_array(struct json_writer *w, const char *key);
void json_writer_end(struct json_writer *w, char close);
/* NULL writes null. */
void json_writer_string(struct json_writer *w, const char *key, const char *s);
void json_writer_int(struct json_writer *w, const char *key, int64_t v);
void json_writer_uint(struct json_writer *w, const char *key, uint64_t v);
void json_writer_bool(struct json_writer *w, const char *key, bool v);
void json_writer_null(struct json_writer *w, const char *key);
void json_writer_address(struct json_writer *w, const char *key, const struct iom_address *a);
/* The document's "version", first in every document (json-print.h). */
void json_writer_begin_document(struct json_writer *w);
/* Ends the document with a newline and flushes: -EIO when stdout could not take it. */
int json_writer_finish(struct json_writer *w);
