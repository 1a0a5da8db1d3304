/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A --json document written as it is walked, in json-c's pretty, spaced format. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "json-print.h"
#include "json-writer.h"
#include "macro.h"

static void flush(struct json_writer *w) {
        if (w->n > 0 && fwrite(w->buffer, 1, w->n, w->f) != w->n)
                w->failed = true;
        w->n = 0;
}

static void put(struct json_writer *w, const char *s, size_t n) {
        while (n > 0) {
                size_t k;

                if (w->n == sizeof(w->buffer))
                        flush(w);
                k = MIN(n, sizeof(w->buffer) - w->n);
                memcpy(w->buffer + w->n, s, k);
                w->n += k;
                s += k;
                n -= k;
        }
}

static void put_char(struct json_writer *w, char c) {
        if (w->n == sizeof(w->buffer))
                flush(w);
        w->buffer[w->n++] = c;
}

static void put_string(struct json_writer *w, const char *s) {
        put(w, s, strlen(s));
}

static void indent(struct json_writer *w) {
        put_char(w, '\n');
        for (unsigned i = 0; i < w->depth; i++)
                put(w, "  ", 2);
}

/* What precedes a value: the separator, the line break and indentation, the key. */
static void member(struct json_writer *w, const char *key) {
        if (w->depth == 0)
                return;
        if (w->has_members[w->depth - 1])
                put_char(w, ',');
        w->has_members[w->depth - 1] = true;
        indent(w);
        if (key) {
                put_char(w, '"');
                put_string(w, key);
                put(w, "\": ", 3);
        }
}

static void begin(struct json_writer *w, const char *key, char open) {
        member(w, key);
        put_char(w, open);
        assert(w->depth < JSON_WRITER_DEPTH_MAX);
        w->has_members[w->depth++] = false;
}

void json_writer_begin_object(struct json_writer *w, const char *key) {
        begin(w, key, '{');
}

bool json_writer_begin_object_or_null(struct json_writer *w, const char *key, bool present) {
        if (present)
                json_writer_begin_object(w, key);
        else
                json_writer_null(w, key);
        return present;
}

void json_writer_begin_array(struct json_writer *w, const char *key) {
        begin(w, key, '[');
}

void json_writer_end(struct json_writer *w, char close) {
        assert(w->depth > 0);
        w->depth--;
        indent(w);
        put_char(w, close);
}

/* As json-c escapes (with JSON_C_TO_STRING_NOSLASHESCAPE): quotes, backslashes, the named
 * control characters, the others as \u00xx. */
static const char *const escapes[UCHAR_MAX + 1] = {
        ['"'] = "\\\"", ['\\'] = "\\\\", ['\b'] = "\\b", ['\f'] = "\\f",
        ['\n'] = "\\n", ['\r'] = "\\r",  ['\t'] = "\\t",
};

void json_writer_string(struct json_writer *w, const char *key, const char *s) {
        const unsigned char *plain;

        if (!s) {
                json_writer_null(w, key);
                return;
        }
        member(w, key);
        put_char(w, '"');
        /* Runs of characters that need no escape go in one piece. */
        plain = (const unsigned char *) s;
        for (const unsigned char *p = plain;; p++) {
                if (*p >= ' ' && !escapes[*p])
                        continue;
                put(w, (const char *) plain, p - plain);
                if (!*p)
                        break;
                if (escapes[*p])
                        put_string(w, escapes[*p]);
                else {
                        static const char hex[] = "0123456789abcdef";
                        put(w, "\\u00", 4);
                        put_char(w, hex[*p >> 4]);
                        put_char(w, hex[*p & 0xf]);
                }
                plain = p + 1;
        }
        put_char(w, '"');
}

/* Decimal digits of @v, as printf's %llu. */
static void put_decimal(struct json_writer *w, uint64_t v) {
        char digits[20];
        size_t i = sizeof(digits);

        do
                digits[--i] = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        put(w, digits + i, sizeof(digits) - i);
}

void json_writer_int(struct json_writer *w, const char *key, int64_t v) {
        member(w, key);
        if (v < 0) {
                put_char(w, '-');
                put_decimal(w, -(uint64_t) v);
        } else
                put_decimal(w, (uint64_t) v);
}

void json_writer_uint(struct json_writer *w, const char *key, uint64_t v) {
        member(w, key);
        put_decimal(w, v);
}

void json_writer_bool(struct json_writer *w, const char *key, bool v) {
        member(w, key);
        put_string(w, v ? "true" : "false");
}

void json_writer_null(struct json_writer *w, const char *key) {
        member(w, key);
        put(w, "null", 4);
}

void json_writer_address(struct json_writer *w, const char *key, const struct iom_address *a) {
        char buf[IOM_ADDRESS_STRING_MAX];

        json_writer_string(w, key, a ? iom_address_format(a, buf) : NULL);
}

void json_writer_strv(struct json_writer *w, const char *key, char *const *l) {
        json_writer_begin_array(w, key);
        for (char *const *i = l; i && *i; i++)
                json_writer_string(w, NULL, *i);
        json_writer_end(w, ']');
}

/* The unsigned integer of @size bytes at @p. */
static uint64_t field_uint(const void *p, size_t size) {
        switch (size) {
        case 1:
                return *(const uint8_t *) p;
        case 2:
                return *(const uint16_t *) p;
        case 4:
                return *(const uint32_t *) p;
        default:
                assert(size == sizeof(uint64_t));
                return *(const uint64_t *) p;
        }
}

void json_writer_fields(struct json_writer *w, const struct json_field *fields, size_t n,
                        const void *object) {
        for (const struct json_field *f = fields; f < fields + n; f++) {
                const void *p = (const char *) object + f->offset;

                switch (f->kind) {
                case JSON_FIELD_STRING:
                        assert(f->size == sizeof(char *));
                        json_writer_string(w, f->key, *(char *const *) p);
                        break;
                case JSON_FIELD_STRV:
                        assert(f->size == sizeof(char **));
                        json_writer_strv(w, f->key, *(char *const *const *) p);
                        break;
                case JSON_FIELD_BOOL:
                        assert(f->size == sizeof(bool));
                        json_writer_bool(w, f->key, *(const bool *) p);
                        break;
                case JSON_FIELD_UINT:
                        json_writer_uint(w, f->key, field_uint(p, f->size));
                        break;
                case JSON_FIELD_INT:
                        assert(f->size == sizeof(int));
                        json_writer_int(w, f->key, *(const int *) p);
                        break;
                }
        }
}

void json_writer_begin_document(struct json_writer *w) {
        json_writer_begin_object(w, NULL);
        json_writer_int(w, "version", JSON_SCHEMA_VERSION);
}

int json_writer_finish(struct json_writer *w) {
        assert(w->depth == 0);
        put_char(w, '\n');
        flush(w);
        return !w->failed && fflush(w->f) == 0 && !ferror(w->f) ? 0 : -EIO;
}
