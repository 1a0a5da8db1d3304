/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A --json document written as it is walked, in json-c's pretty, spaced format. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>

#include "json-print.h"
#include "json-writer.h"

static void indent(struct json_writer *w) {
        fputc('\n', w->f);
        for (unsigned i = 0; i < w->depth; i++)
                fputs("  ", w->f);
}

/* What precedes a value: the separator, the line break and indentation, the key. */
static void member(struct json_writer *w, const char *key) {
        if (w->depth == 0)
                return;
        if (w->has_members[w->depth - 1])
                fputc(',', w->f);
        w->has_members[w->depth - 1] = true;
        indent(w);
        if (key)
                fprintf(w->f, "\"%s\": ", key);
}

static void begin(struct json_writer *w, const char *key, char open) {
        member(w, key);
        fputc(open, w->f);
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
        fputc(close, w->f);
}

/* As json-c escapes (with JSON_C_TO_STRING_NOSLASHESCAPE): quotes, backslashes, the named
 * control characters, the others as \u00xx. */
static const char *const escapes[UCHAR_MAX + 1] = {
        ['"'] = "\\\"", ['\\'] = "\\\\", ['\b'] = "\\b", ['\f'] = "\\f",
        ['\n'] = "\\n", ['\r'] = "\\r",  ['\t'] = "\\t",
};

void json_writer_string(struct json_writer *w, const char *key, const char *s) {
        if (!s) {
                json_writer_null(w, key);
                return;
        }
        member(w, key);
        fputc('"', w->f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (escapes[*p])
                        fputs(escapes[*p], w->f);
                else if (*p < ' ')
                        fprintf(w->f, "\\u%04x", *p);
                else
                        fputc(*p, w->f);
        fputc('"', w->f);
}

void json_writer_int(struct json_writer *w, const char *key, int64_t v) {
        member(w, key);
        fprintf(w->f, "%" PRId64, v);
}

void json_writer_uint(struct json_writer *w, const char *key, uint64_t v) {
        member(w, key);
        fprintf(w->f, "%" PRIu64, v);
}

void json_writer_bool(struct json_writer *w, const char *key, bool v) {
        member(w, key);
        fputs(v ? "true" : "false", w->f);
}

void json_writer_null(struct json_writer *w, const char *key) {
        member(w, key);
        fputs("null", w->f);
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
        fputc('\n', w->f);
        return fflush(w->f) == 0 && !ferror(w->f) ? 0 : -EIO;
}
