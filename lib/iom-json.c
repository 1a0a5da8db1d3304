/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Located JSON: json-c for the values, a position index for the messages. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "iom-json.h"
#include "iom-sysfs.h"

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
};

struct scanner {
        const char *s;
        size_t i, len;
        unsigned line, column;
        struct iom_json_doc *doc;
        int depth;
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
        struct position *grown =
                realloc(sc->doc->positions, (sc->doc->n_positions + 1) * sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        sc->doc->positions = grown;
        grown[sc->doc->n_positions] = (struct position){
                .path = strdup(path),
                .line = line,
                .column = column,
                .key_line = key_line,
                .key_column = key_column,
        };
        if (!grown[sc->doc->n_positions].path)
                return -ENOMEM;
        sc->doc->n_positions++;
        return 0;
}

/* Reads a string token; with @out (size PATH_MAX_LEN) copies its raw content. */
static int scan_string(struct scanner *sc, char *out) {
        size_t n = 0;

        advance(sc); /* the quote */
        while (sc->i < sc->len && sc->s[sc->i] != '"') {
                if (sc->s[sc->i] == '\\')
                        advance(sc);
                if (out && n + 1 < PATH_MAX_LEN && sc->i < sc->len)
                        out[n++] = sc->s[sc->i];
                if (sc->i < sc->len)
                        advance(sc);
        }
        if (out)
                out[n] = '\0';
        if (sc->i >= sc->len)
                return -EBADMSG;
        advance(sc);
        return 0;
}

static int scan_value(struct scanner *sc, const char *path, unsigned key_line, unsigned key_column);

static int scan_container(struct scanner *sc, const char *path, bool object) {
        size_t index = 0;
        int r;

        advance(sc); /* { or [ */
        if (++sc->depth > 64)
                return -EBADMSG;
        for (;;) {
                char child[PATH_MAX_LEN * 2], key[PATH_MAX_LEN] = "";
                unsigned kl = 0, kc = 0;

                skip_blank(sc);
                if (sc->i >= sc->len)
                        return -EBADMSG;
                if (sc->s[sc->i] == (object ? '}' : ']'))
                        break;
                if (object) {
                        if (sc->s[sc->i] != '"')
                                return -EBADMSG;
                        kl = sc->line;
                        kc = sc->column;
                        r = scan_string(sc, key);
                        if (r < 0)
                                return r;
                        skip_blank(sc);
                        if (sc->i >= sc->len || sc->s[sc->i] != ':')
                                return -EBADMSG;
                        advance(sc);
                        (void) snprintf(child, sizeof(child), "%s%s%s", path, *path ? "." : "",
                                        key);
                } else
                        (void) snprintf(child, sizeof(child), "%s[%zu]", path, index);
                index++;
                r = scan_value(sc, child, kl, kc);
                if (r < 0)
                        return r;
                skip_blank(sc);
                if (sc->i < sc->len && sc->s[sc->i] == ',')
                        advance(sc);
        }
        advance(sc);
        sc->depth--;
        return 0;
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
                return scan_string(sc, NULL);
        default: {
                size_t start = sc->i;
                while (sc->i < sc->len && !strchr(",]}: \t\r\n", sc->s[sc->i]))
                        advance(sc);
                /* A delimiter where a value belongs: json-c's lenient mode took something the
                 * index need not follow; stop rather than loop. */
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
        struct iom_json_doc *doc;
        json_tokener *tok;

        if (!name || !text || !ret)
                return -EINVAL;
        doc = calloc(1, sizeof(*doc));
        if (!doc || !(doc->name = strdup(name)) || !(doc->text = strdup(text))) {
                iom_json_doc_free(doc);
                return -ENOMEM;
        }
        tok = json_tokener_new();
        if (!tok) {
                iom_json_doc_free(doc);
                return -ENOMEM;
        }
        doc->root = json_tokener_parse_ex(tok, text, (int) strlen(text) + 1);
        if (!doc->root) {
                unsigned line, column;
                offset_to_position(text, json_tokener_get_parse_end(tok), &line, &column);
                if (ret_error && asprintf(ret_error, "%s:%u:%u: %s", name, line, column,
                                          json_tokener_error_desc(json_tokener_get_error(tok))) < 0)
                        *ret_error = NULL;
                json_tokener_free(tok);
                iom_json_doc_free(doc);
                return -EBADMSG;
        }
        json_tokener_free(tok);

        struct scanner sc = {
                .s = doc->text, .len = strlen(doc->text), .line = 1, .column = 1, .doc = doc};
        if (scan_value(&sc, "", 0, 0) == -ENOMEM) {
                iom_json_doc_free(doc);
                return -ENOMEM;
        }
        *ret = doc;
        return 0;
}

int iom_json_load(const char *path, size_t max_size, struct iom_json_doc **ret, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = iom_read_file(path, max_size, &text);
        if (r == -EFBIG) {
                if (ret_error && asprintf(ret_error, "%s:1:1: the file is larger than %zu bytes",
                                          path, max_size) < 0)
                        *ret_error = NULL;
                return -EBADMSG;
        }
        if (r < 0) {
                if (ret_error && asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        return iom_json_parse(path, text, ret, ret_error);
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

int iom_json_error(const struct iom_json_doc *doc, const char *path, int key, char **ret_error,
                   const char *format, ...) {
        _cleanup_free_ char *message = NULL;
        unsigned line, column;
        va_list ap;

        if (!ret_error)
                return -EINVAL;
        va_start(ap, format);
        if (vasprintf(&message, format, ap) < 0)
                message = NULL;
        va_end(ap);
        iom_json_locate(doc, path, key, &line, &column);
        free(*ret_error);
        if (asprintf(ret_error, "%s:%u:%u: %s", doc->name, line, column, strempty(message)) < 0)
                *ret_error = NULL;
        return -EINVAL;
}
