/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* UTF-8 from callers: decoding one character, the kinds of character that make a name
 * ambiguous, and escaping text for logs and messages. */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

enum iom_unichar_class {
        IOM_UNICHAR_PLAIN,
        IOM_UNICHAR_CONTROL,   /* C0, DEL, C1 */
        IOM_UNICHAR_BIDI,      /* marks, embeddings, overrides and isolates (UAX #9) */
        IOM_UNICHAR_INVISIBLE, /* zero-width and other invisible format characters */
        IOM_UNICHAR_SPACE,     /* blanks other than those above (White_Space) */
        _IOM_UNICHAR_CLASS_MAX,
        _IOM_UNICHAR_CLASS_INVALID = -EINVAL,
};

/* Decodes the character at @s (at most @n bytes): returns its length in bytes and its code
 * point in *@ret, or -EILSEQ when @s does not start a valid shortest-form UTF-8 character
 * (a stray continuation byte, a truncated sequence, an overlong form, a surrogate, or past
 * U+10FFFF). */
int iom_utf8_decode(const char *s, size_t n, uint32_t *ret);

enum iom_unichar_class iom_unichar_classify(uint32_t c);

/* How many characters of a caller's string a log line shows. */
#define IOM_ESCAPE_CHARS 64
/* The buffer iom_escape_to() needs for @max characters: each may become "\u202e" (6 bytes),
 * then "…" and the NUL. */
#define IOM_ESCAPE_SIZE(max) ((max) * 6 + sizeof("…"))

/* Writes @s to @buf (IOM_ESCAPE_SIZE(@max) bytes) as C-style text: \n, \t and the like,
 * \\, \' and \" for the quotes, \xNN for other control bytes and for bytes that are not
 * UTF-8, \uNNNN for C1 controls, bidi controls, invisible characters and blanks other than
 * the space; other UTF-8 is kept. After @max characters of @s, "…" stands for the rest.
 * NULL prints as "(null)". Returns @buf. */
char *iom_escape_to(char *buf, const char *s, size_t max);

/* For a caller's string in a log or message: IOM_ESCAPE(name) is valid until the end of the
 * statement (a compound literal of the enclosing block). */
#define IOM_ESCAPE(s)                                                                              \
        iom_escape_to((char[IOM_ESCAPE_SIZE(IOM_ESCAPE_CHARS)]){0}, (s), IOM_ESCAPE_CHARS)
