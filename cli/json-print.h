/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every --json output of iommuctl shares: the document's schema version, the small value
 * builders and the one finisher that prints a document. */
#pragma once

#include "iom-address.h"
#include "iom-json.h"
#include "macro.h"

/* The schema version every document carries as its "version" (iommuctl(1), JSON OUTPUT).
 * Raised when a key changes type or meaning; 2: every number is a JSON number, plan reasons
 * and rules are objects. */
#define JSON_SCHEMA_VERSION 2

/* json-c takes NULL values in object_add and array_add as null; OOM while building just yields
 * nulls, and json_print() reports it. */
json_object *json_string_or_null(const char *s);
json_object *json_address(const struct iom_address *a);
/* A reset as iommuctl(1) has it, { "method", "result" }, or null when @method is NULL. */
json_object *json_reset(const char *method, const char *result);
json_object *json_strv(char *const *l);

/* A new top-level object that holds "version" already, or NULL on OOM. */
json_object *json_document_new(void);

/* Prints @o on stdout, pretty, one line per value. -ENOMEM when it cannot be rendered. */
int json_print(json_object *o);
/* Prints @o on one line and flushes stdout: a record of a stream (monitor). */
int json_print_line(json_object *o);
