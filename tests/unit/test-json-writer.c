/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli/json-writer.c makes the same bytes as json-c (json_print()) of the same document:
 * escapes, UTF-8, nesting, empty containers, the extreme numbers. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "json-print.h"
#include "json-writer.h"
#include "macro.h"
#include "tests.h"

/* The document @write makes, finished as iommuctl finishes it; NULL when it could not be. */
static char *written(void (*write)(struct json_writer *w)) {
        struct json_writer *w = calloc(1, sizeof(*w));
        char *text = NULL;
        size_t size;
        int r;

        if (!w || !(w->f = open_memstream(&text, &size))) {
                free(w);
                return NULL;
        }
        json_writer_begin_document(w);
        write(w);
        json_writer_end(w, '}');
        r = json_writer_finish(w);
        if (fclose(w->f) != 0)
                r = -EIO;
        free(w);
        return r < 0 ? mfree(text) : text;
}

/* json-c's text of @o (which it takes), as json_print() puts it; NULL when it could not be. */
static char *built(json_object *o) {
        _cleanup_free_ char *s = iom_json_format(o);
        char *text;

        json_object_put(o);
        return s && asprintf(&text, "%s\n", s) > 0 ? text : NULL;
}

static const char *const strings[] = {
        "",
        "plain",
        "\"quoted\" and \\back\\slashed",
        "a/slash, kept",
        "\b\f\n\r\t",
        "\x01\x02\x1b\x1f and \x7f",
        "UTF-8 as it is: żółć, 日本, 😀",
        "a \"run\" long enough to cross the writer's pieces \n again \t and again",
};

static void write_strings(struct json_writer *w) {
        json_writer_begin_array(w, "strings");
        for (size_t i = 0; i < ELEMENTSOF(strings); i++)
                json_writer_string(w, NULL, strings[i]);
        json_writer_end(w, ']');
        json_writer_string(w, "null", NULL);
}

static void test_strings(void) {
        _cleanup_free_ char *mine = written(write_strings), *theirs = NULL;
        json_object *o = json_document_new(), *a = json_object_new_array();

        for (size_t i = 0; i < ELEMENTSOF(strings); i++)
                json_object_array_add(a, json_object_new_string(strings[i]));
        json_object_object_add(o, "strings", a);
        json_object_object_add(o, "null", NULL);
        theirs = built(o);
        ASSERT_STREQ(mine, theirs);
}

static void write_nested(struct json_writer *w) {
        char *strv[] = {"a", "b", NULL};
        struct iom_address address = {.domain = 0x10000, .bus = 0xff, .slot = 0x1f, .function = 7};

        json_writer_begin_object(w, "empty_object");
        json_writer_end(w, '}');
        json_writer_begin_array(w, "empty_array");
        json_writer_end(w, ']');
        json_writer_strv(w, "no_strings", NULL);
        json_writer_strv(w, "strv", strv);
        json_writer_begin_array(w, "nested");
        json_writer_begin_object(w, NULL);
        json_writer_begin_array(w, "arrays");
        json_writer_begin_array(w, NULL);
        json_writer_end(w, ']');
        json_writer_begin_array(w, NULL);
        json_writer_null(w, NULL);
        json_writer_end(w, ']');
        json_writer_end(w, ']');
        json_writer_begin_object(w, "objects");
        if (json_writer_begin_object_or_null(w, "present", true)) {
                json_writer_address(w, "address", &address);
                json_writer_address(w, "none", NULL);
                json_writer_end(w, '}');
        }
        (void) json_writer_begin_object_or_null(w, "absent", false);
        json_writer_end(w, '}');
        json_writer_end(w, '}');
        json_writer_begin_object(w, NULL);
        json_writer_end(w, '}');
        json_writer_end(w, ']');
}

static void test_nested_and_empty(void) {
        _cleanup_free_ char *mine = written(write_nested), *theirs = NULL;
        char *strv[] = {"a", "b", NULL};
        json_object *o = json_document_new(), *nested = json_object_new_array(),
                    *inner = json_object_new_object(), *arrays = json_object_new_array(),
                    *with_null = json_object_new_array(), *objects = json_object_new_object(),
                    *present = json_object_new_object();

        json_object_object_add(o, "empty_object", json_object_new_object());
        json_object_object_add(o, "empty_array", json_object_new_array());
        json_object_object_add(o, "no_strings", json_strv(NULL));
        json_object_object_add(o, "strv", json_strv(strv));
        json_object_array_add(arrays, json_object_new_array());
        json_object_array_add(with_null, NULL);
        json_object_array_add(arrays, with_null);
        json_object_object_add(inner, "arrays", arrays);
        json_object_object_add(present, "address", json_string_or_null("10000:ff:1f.7"));
        json_object_object_add(present, "none", NULL);
        json_object_object_add(objects, "present", present);
        json_object_object_add(objects, "absent", NULL);
        json_object_object_add(inner, "objects", objects);
        json_object_array_add(nested, inner);
        json_object_array_add(nested, json_object_new_object());
        json_object_object_add(o, "nested", nested);
        theirs = built(o);
        ASSERT_STREQ(mine, theirs);
}

static void write_numbers(struct json_writer *w) {
        json_writer_int(w, "zero", 0);
        json_writer_int(w, "minus_one", -1);
        json_writer_int(w, "int64_min", INT64_MIN);
        json_writer_int(w, "int64_max", INT64_MAX);
        json_writer_uint(w, "uint64_max", UINT64_MAX);
        json_writer_uint(w, "ten", 10);
        json_writer_bool(w, "yes", true);
        json_writer_bool(w, "no", false);
        json_writer_null(w, "nothing");
}

static void test_numbers(void) {
        _cleanup_free_ char *mine = written(write_numbers), *theirs = NULL;
        json_object *o = json_document_new();

        json_object_object_add(o, "zero", json_object_new_int64(0));
        json_object_object_add(o, "minus_one", json_object_new_int64(-1));
        json_object_object_add(o, "int64_min", json_object_new_int64(INT64_MIN));
        json_object_object_add(o, "int64_max", json_object_new_int64(INT64_MAX));
        json_object_object_add(o, "uint64_max", json_object_new_uint64(UINT64_MAX));
        json_object_object_add(o, "ten", json_object_new_uint64(10));
        json_object_object_add(o, "yes", json_object_new_boolean(true));
        json_object_object_add(o, "no", json_object_new_boolean(false));
        json_object_object_add(o, "nothing", NULL);
        theirs = built(o);
        ASSERT_STREQ(mine, theirs);
}

IOM_TEST_MAIN(IOM_TEST(test_strings), IOM_TEST(test_nested_and_empty), IOM_TEST(test_numbers))
