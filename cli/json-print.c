/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The --json document: schema version, value builders, the one finisher. */
#include <stdio.h>

#include "json-print.h"

json_object *json_string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

json_object *json_reset(const char *method, const char *result) {
        json_object *o;

        if (!method || !(o = json_object_new_object()))
                return NULL;
        json_object_object_add(o, "method", json_object_new_string(method));
        json_object_object_add(o, "result", json_string_or_null(result));
        return o;
}

json_object *json_address(const struct iom_address *a) {
        char buf[IOM_ADDRESS_STRING_MAX];
        return json_object_new_string(iom_address_format(a, buf));
}

json_object *json_strv(char *const *l) {
        json_object *a = json_object_new_array();
        for (char *const *i = l; a && i && *i; i++)
                json_object_array_add(a, json_object_new_string(*i));
        return a;
}

json_object *json_document_new(void) {
        json_object *o = json_object_new_object();
        if (o)
                json_object_object_add(o, "version", json_object_new_int(JSON_SCHEMA_VERSION));
        return o;
}

static int print_with(json_object *o, char *(*format)(json_object *o)) {
        _cleanup_free_ char *s = NULL;

        if (!o)
                return -ENOMEM;
        s = format(o);
        if (!s)
                return -ENOMEM;
        return puts(s) < 0 ? -EIO : 0;
}

int json_print(json_object *o) {
        return print_with(o, iom_json_format);
}

int json_print_line(json_object *o) {
        int r = print_with(o, iom_json_format_line);
        return r < 0 ? r : fflush(stdout) == 0 ? 0 : -EIO;
}
