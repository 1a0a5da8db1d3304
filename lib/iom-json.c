/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Located JSON: json-c for the values, a position index for the messages. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iom-error.h"
#include "iom-json.h"
#include "iom-sysfs.h"
#include "iom-utf8.h"

/* Positions are recorded for paths up to this length; deeper ones report their parent's. */
#define PATH_MAX_LEN 256

struct position {
        char *path;
        unsigned line, column;         /* of the value */
        unsigned key_line, key_column; /* of the member name, for object members */
};

struct iom_json_doc {
        char *name;
        char *text;
        json_object *root;
        struct position *positions;
        size_t n_positions;
        bool by_path; /* problems read "file: path: message" */
};

/* A member name as json-c keys it (escapes decoded, cut at a NUL), and where it stands. */
struct member {
        char *name;
        size_t offset;
        unsigned line, column;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);

struct scanner {
        const char *s;
        size_t i, len;
        unsigned line, column;
        struct iom_json_doc *doc;
        int depth;
        json_tokener *tok; /* decodes member names */
        /* The repeated member name that comes first in the text, and its first place. */
        char *dup_name;
        size_t dup_offset;
        unsigned dup_line, dup_column, first_line, first_column;
};

static void advance(struct scanner *sc) {
        if (sc->s[sc->i] == '\n') {
                sc->line++;
                sc->column = 1;
        } else
                sc->column++;
        sc->i++;
}

/* Blanks, and the comments json-c accepts: // to the end of the line, and slash-star ones. */
static void skip_blank(struct scanner *sc) {
        while (sc->i < sc->len) {
                if (strchr(" \t\r\n", sc->s[sc->i]))
                        advance(sc);
                else if (sc->s[sc->i] == '/' && sc->i + 1 < sc->len && sc->s[sc->i + 1] == '/')
                        while (sc->i < sc->len && sc->s[sc->i] != '\n')
                                advance(sc);
                else if (sc->s[sc->i] == '/' && sc->i + 1 < sc->len && sc->s[sc->i + 1] == '*') {
                        advance(sc);
                        advance(sc);
                        while (sc->i + 1 < sc->len &&
                               !(sc->s[sc->i] == '*' && sc->s[sc->i + 1] == '/'))
                                advance(sc);
                        for (int k = 0; k < 2 && sc->i < sc->len; k++)
                                advance(sc);
                } else
                        return;
        }
}

static int record(struct scanner *sc, const char *path, unsigned line, unsigned column,
                  unsigned key_line, unsigned key_column) {
        if (GREEDY_REALLOC(sc->doc->positions, sc->doc->n_positions + 1) < 0)
                return -ENOMEM;
        sc->doc->positions[sc->doc->n_positions] = (struct position){
                .path = strdup(path),
                .line = line,
                .column = column,
                .key_line = key_line,
                .key_column = key_column,
        };
        if (!sc->doc->positions[sc->doc->n_positions].path)
                return -ENOMEM;
        sc->doc->n_positions++;
        return 0;
}

/* Reads a string token, in double quotes or (json-c's lenient mode) single ones; with
 * @ret_decoded, also its value as json-c decodes it. */
static int scan_string(struct scanner *sc, char **ret_decoded) {
        char quote = sc->s[sc->i];
        size_t start = sc->i;

        advance(sc);
        while (sc->i < sc->len && sc->s[sc->i] != quote) {
                if (sc->s[sc->i] == '\\')
                        advance(sc);
                if (sc->i < sc->len)
                        advance(sc);
        }
        if (sc->i >= sc->len)
                return -EBADMSG;
        advance(sc);
        if (!ret_decoded)
                return 0;

        json_tokener_reset(sc->tok);
        json_object *o = json_tokener_parse_ex(sc->tok, sc->s + start, (int) (sc->i - start));
        if (!o)
                return -EBADMSG;
        *ret_decoded = strdup(json_object_get_string(o));
        json_object_put(o);
        return *ret_decoded ? 0 : -ENOMEM;
}

static int compare_members(const void *a, const void *b) {
        const struct member *x = a, *y = b;
        int c = strcmp(x->name, y->name);

        return c != 0 ? c : x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* json-c keeps the last of two members with the same name, silently: a policy that says one
 * thing and then another is refused instead. Sorting finds the duplicates of an object in
 * O(n log n), whatever its size. */
static int find_duplicate(struct scanner *sc, struct member *members, size_t n) {
        qsort(members, n, sizeof(*members), compare_members);
        for (size_t i = 1, first = 0; i < n; i++) {
                const struct member *m = &members[i], *f = &members[first];
                char *name;

                if (!streq(m->name, f->name)) {
                        first = i;
                        continue;
                }
                if (sc->dup_name && sc->dup_offset < m->offset)
                        continue;
                name = strdup(m->name);
                if (!name)
                        return -ENOMEM;
                free(sc->dup_name);
                sc->dup_name = name;
                sc->dup_offset = m->offset;
                sc->dup_line = m->line;
                sc->dup_column = m->column;
                sc->first_line = f->line;
                sc->first_column = f->column;
        }
        return 0;
}

static int scan_value(struct scanner *sc, const char *path, unsigned key_line, unsigned key_column);

static int scan_container(struct scanner *sc, const char *path, bool object) {
        struct member *members = NULL;
        size_t index = 0, n_members = 0;
        int r = 0;

        advance(sc); /* { or [ */
        if (++sc->depth > 64)
                return -EBADMSG;
        for (;;) {
                char child[PATH_MAX_LEN * 2];
                unsigned kl = 0, kc = 0;

                skip_blank(sc);
                if (sc->i >= sc->len) {
                        r = -EBADMSG;
                        break;
                }
                if (sc->s[sc->i] == (object ? '}' : ']'))
                        break;
                if (object) {
                        struct member *m;

                        if (!strchr("\"'", sc->s[sc->i])) {
                                r = -EBADMSG;
                                break;
                        }
                        m = realloc(members, (n_members + 1) * sizeof(*members));
                        if (!m) {
                                r = -ENOMEM;
                                break;
                        }
                        members = m;
                        m = &members[n_members++];
                        *m = (struct member){
                                .offset = sc->i, .line = sc->line, .column = sc->column};
                        kl = sc->line;
                        kc = sc->column;
                        r = scan_string(sc, &m->name);
                        if (r < 0)
                                break;
                        skip_blank(sc);
                        if (sc->i >= sc->len || sc->s[sc->i] != ':') {
                                r = -EBADMSG;
                                break;
                        }
                        advance(sc);
                        (void) snprintf(child, sizeof(child), "%s%s%.*s", path, *path ? "." : "",
                                        PATH_MAX_LEN, m->name);
                } else
                        (void) snprintf(child, sizeof(child), "%s[%zu]", path, index);
                index++;
                r = scan_value(sc, child, kl, kc);
                if (r < 0)
                        break;
                skip_blank(sc);
                if (sc->i < sc->len && sc->s[sc->i] == ',')
                        advance(sc);
        }
        if (r >= 0) {
                advance(sc);
                sc->depth--;
                r = find_duplicate(sc, members, n_members);
        }
        for (size_t k = 0; k < n_members; k++)
                free(members[k].name);
        free(members);
        return r;
}
static int scan_value(struct scanner *sc, const char *path, unsigned key_line,
                      unsigned key_column) {
        int r;

        skip_blank(sc);
        if (sc->i >= sc->len)
                return -EBADMSG;
        r = record(sc, path, sc->line, sc->column, key_line, key_column);
        if (r < 0)
                return r;
        switch (sc->s[sc->i]) {
        case '{':
                return scan_container(sc, path, true);
        case '[':
                return scan_container(sc, path, false);
        case '"':
        case '\'':
                return scan_string(sc, NULL);
        default: {
                /* A number, true, false, null, NaN, Infinity; a comment may follow at once. */
                size_t start = sc->i;
                while (sc->i < sc->len && !strchr(",]}:/ \t\r\n", sc->s[sc->i]))
                        advance(sc);
                return sc->i > start ? 0 : -EBADMSG;
        }
        }
}

static void offset_to_position(const char *text, size_t offset, unsigned *line, unsigned *column) {
        *line = *column = 1;
        for (size_t i = 0; i < offset && text[i]; i++) {
                if (text[i] == '\n') {
                        (*line)++;
                        *column = 1;
                } else
                        (*column)++;
        }
}

int iom_json_parse(const char *name, const char *text, struct iom_json_doc **ret,
                   char **ret_error) {
        _cleanup_(iom_json_doc_freep) struct iom_json_doc *doc = NULL;
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        struct scanner sc;
        int r;

        if (!name || !text || !ret)
                return -EINVAL;
        doc = calloc(1, sizeof(*doc));
        if (!doc || !(doc->name = strdup(name)) || !(doc->text = strdup(text)))
                return -ENOMEM;
        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        doc->root = json_tokener_parse_ex(tok, text, (int) strlen(text) + 1);
        if (!doc->root) {
                unsigned line, column;
                offset_to_position(text, json_tokener_get_parse_end(tok), &line, &column);
                return iom_error_append(ret_error, -EBADMSG, "%s:%u:%u: %s", name, line, column,
                                        json_tokener_error_desc(json_tokener_get_error(tok)));
        }

        /* json-c stops after the first value and keeps the last of repeated members, without
         * a word: the scanner finds what follows the document and what repeats in it. */
        sc = (struct scanner){
                .s = doc->text,
                .len = strlen(doc->text),
                .line = 1,
                .column = 1,
                .doc = doc,
                .tok = tok,
        };
        r = scan_value(&sc, "", 0, 0);
        skip_blank(&sc);
        if (r == -EBADMSG) /* json-c took what the scanner does not (json-c 0.16 returns an
                            * inner value when a comment runs to the end: '{"a": 1 // x') */
                r = iom_error_append(ret_error, -EBADMSG, "%s:%u:%u: %s", name, sc.line, sc.column,
                                     sc.i >= sc.len ? "unexpected end of data" : "unexpected text");
        else if (r >= 0 && sc.dup_name)
                r = iom_error_append(ret_error, -EBADMSG,
                                     "%s:%u:%u: duplicate key '%s' (first at line %u, column %u)",
                                     name, sc.dup_line, sc.dup_column, IOM_ESCAPE(sc.dup_name),
                                     sc.first_line, sc.first_column);
        else if (r >= 0 && sc.i < sc.len)
                r = iom_error_append(ret_error, -EBADMSG,
                                     "%s:%u:%u: unexpected content after the JSON document", name,
                                     sc.line, sc.column);
        free(sc.dup_name);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(doc);
        return 0;
}

struct iom_json_doc *iom_json_doc_free(struct iom_json_doc *doc) {
        if (!doc)
                return NULL;
        for (size_t i = 0; i < doc->n_positions; i++)
                free(doc->positions[i].path);
        free(doc->positions);
        json_object_put(doc->root);
        free(doc->text);
        free(doc->name);
        free(doc);
        return NULL;
}

json_object *iom_json_root(const struct iom_json_doc *doc) {
        return doc->root;
}

const char *iom_json_name(const struct iom_json_doc *doc) {
        return doc->name;
}

void iom_json_locate(const struct iom_json_doc *doc, const char *path, int key, unsigned *ret_line,
                     unsigned *ret_column) {
        *ret_line = *ret_column = 0;
        for (size_t i = 0; i < doc->n_positions; i++)
                if (streq(doc->positions[i].path, path)) {
                        *ret_line = key ? doc->positions[i].key_line : doc->positions[i].line;
                        *ret_column = key ? doc->positions[i].key_column : doc->positions[i].column;
                        return;
                }
}

void iom_json_locate_by_path(struct iom_json_doc *doc) {
        doc->by_path = true;
}

_printf_(5, 0) static int vcomplain(const struct iom_json_doc *doc, const char *path, int key,
                                    char **ret_error, const char *format, va_list ap) {
        _cleanup_free_ char *message = NULL;
        unsigned line, column;

        if (!ret_error)
                return -EINVAL;
        if (vasprintf(&message, format, ap) < 0)
                return -ENOMEM;
        if (doc->by_path)
                return iom_error_append(ret_error, -EINVAL, "%s: %s: %s", doc->name,
                                        *path ? path : "(top)", message);
        iom_json_locate(doc, path, key, &line, &column);
        return iom_error_append(ret_error, -EINVAL, "%s:%u:%u: %s", doc->name, line, column,
                                message);
}

int iom_json_error(const struct iom_json_doc *doc, const char *path, int key, char **ret_error,
                   const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = vcomplain(doc, path, key, ret_error, format, ap);
        va_end(ap);
        return r;
}

int iom_json_check_type(const struct iom_json_doc *doc, json_object *v, const char *path,
                        json_type type, const char *what, char **ret_error) {
        if (json_object_is_type(v, type))
                return 0;
        return iom_json_error(doc, path, 0, ret_error, "expected %s", what);
}

int iom_json_check_keys(const struct iom_json_doc *doc, json_object *o, const char *path,
                        const char *const *allowed, char **ret_error) {
        int r = 0;

        json_object_object_foreach(o, key, value) {
                char child[PATH_MAX_LEN * 2];
                bool known = false;
                int k;

                (void) value;
                for (const char *const *a = allowed; *a; a++)
                        known = known || streq(*a, key);
                if (known)
                        continue;
                (void) snprintf(child, sizeof(child), "%s%s%s", path, *path ? "." : "", key);
                /* Located by path, an unknown member is named where it stands: in its object. */
                k = iom_json_error(doc, doc->by_path ? path : child, 1, ret_error,
                                   "unknown key '%s'", IOM_ESCAPE(key));
                if (k == -ENOMEM)
                        return k;
                r = k;
        }
        return r;
}

int iom_json_get_string(const struct iom_json_doc *doc, json_object *v, const char *path,
                        size_t max, char **ret, char **ret_error) {
        int r = iom_json_check_type(doc, v, path, json_type_string, "a string", ret_error);
        const char *s;

        if (r < 0)
                return r;
        s = json_object_get_string(v);
        if (strlen(s) > max)
                return iom_json_error(doc, path, 0, ret_error, "longer than %zu bytes", max);
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int iom_json_member(const struct iom_json_doc *doc, json_object *o, const char *path,
                    const char *key, json_type type, bool nullable, json_object **ret,
                    char **ret_error) {
        static const char *const names[] = {
                [json_type_null] = "null",        [json_type_boolean] = "a boolean",
                [json_type_double] = "a number",  [json_type_int] = "an integer",
                [json_type_object] = "an object", [json_type_array] = "an array",
                [json_type_string] = "a string",
        };
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                return iom_json_error(doc, path, 0, ret_error, "'%s' is missing", key);
        if (!v && nullable) {
                *ret = NULL;
                return 0;
        }
        if (!json_object_is_type(v, type))
                return iom_json_error(doc, path, 0, ret_error, "'%s' must be %s%s", key,
                                      names[type], nullable ? " or null" : "");
        *ret = v;
        return 0;
}

int iom_json_member_string(const struct iom_json_doc *doc, json_object *o, const char *path,
                           const char *key, bool nullable, char **ret, char **ret_error) {
        json_object *v;
        int r = iom_json_member(doc, o, path, key, json_type_string, nullable, &v, ret_error);

        if (r < 0)
                return r;
        *ret = v ? strdup(json_object_get_string(v)) : NULL;
        return v && !*ret ? -ENOMEM : 0;
}

static char *format_with(json_object *o, int flags) {
        const char *s = json_object_to_json_string_ext(o, flags | JSON_C_TO_STRING_NOSLASHESCAPE);

        return s ? strdup(s) : NULL;
}

char *iom_json_format(json_object *o) {
        return format_with(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
}

char *iom_json_format_line(json_object *o) {
        return format_with(o, JSON_C_TO_STRING_PLAIN);
}
