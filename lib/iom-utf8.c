/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* UTF-8 decoding, character classes and escaping. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "iom-utf8.h"
#include "macro.h"

int iom_utf8_decode(const char *s, size_t n, uint32_t *ret) {
        const unsigned char *p = (const unsigned char *) s;
        uint32_t c, min;
        size_t len;

        if (n == 0)
                return -EILSEQ;
        if (p[0] < 0x80) {
                *ret = p[0];
                return 1;
        }
        /* RFC 3629 section 4: C0, C1 and F5..FF never start a character. */
        if (p[0] >= 0xc2 && p[0] <= 0xdf) {
                len = 2;
                c = p[0] & 0x1f;
                min = 0x80;
        } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
                len = 3;
                c = p[0] & 0x0f;
                min = 0x800;
        } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
                len = 4;
                c = p[0] & 0x07;
                min = 0x10000;
        } else
                return -EILSEQ;
        if (len > n)
                return -EILSEQ;
        for (size_t i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return -EILSEQ;
                c = c << 6 | (p[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                return -EILSEQ;
        *ret = c;
        return (int) len;
}

enum iom_unichar_class iom_unichar_classify(uint32_t c) {
        /* Unicode 15: Cc; the Bidi_Control property (UAX #9 section 2); the default-ignorable
         * format characters that render as nothing; White_Space (PropList.txt). */
        static const struct {
                uint32_t first, last;
                enum iom_unichar_class class;
        } ranges[] = {
                {0x0000, 0x001f, IOM_UNICHAR_CONTROL},   {0x0020, 0x0020, IOM_UNICHAR_SPACE},
                {0x007f, 0x009f, IOM_UNICHAR_CONTROL},   {0x00a0, 0x00a0, IOM_UNICHAR_SPACE},
                {0x00ad, 0x00ad, IOM_UNICHAR_INVISIBLE}, {0x061c, 0x061c, IOM_UNICHAR_BIDI},
                {0x1680, 0x1680, IOM_UNICHAR_SPACE},     {0x180e, 0x180e, IOM_UNICHAR_INVISIBLE},
                {0x2000, 0x200a, IOM_UNICHAR_SPACE},     {0x200b, 0x200d, IOM_UNICHAR_INVISIBLE},
                {0x200e, 0x200f, IOM_UNICHAR_BIDI},      {0x2028, 0x2029, IOM_UNICHAR_SPACE},
                {0x202a, 0x202e, IOM_UNICHAR_BIDI},      {0x202f, 0x202f, IOM_UNICHAR_SPACE},
                {0x205f, 0x205f, IOM_UNICHAR_SPACE},     {0x2060, 0x2064, IOM_UNICHAR_INVISIBLE},
                {0x2066, 0x2069, IOM_UNICHAR_BIDI},      {0x3000, 0x3000, IOM_UNICHAR_SPACE},
                {0xfeff, 0xfeff, IOM_UNICHAR_INVISIBLE},
        };

        for (size_t i = 0; i < ELEMENTSOF(ranges) && c >= ranges[i].first; i++)
                if (c <= ranges[i].last)
                        return ranges[i].class;
        return IOM_UNICHAR_PLAIN;
}

/* Appends the escaped form of the character at @s (@len bytes, code point @c; @len 1 and @c
 * negative for a byte that is not UTF-8) to @out, returning the bytes written. */
static size_t escape_char(char *out, const char *s, size_t len, int64_t c) {
        static const char simple[] = {
                ['\a'] = 'a', ['\b'] = 'b', ['\f'] = 'f',  ['\n'] = 'n',  ['\r'] = 'r',
                ['\t'] = 't', ['\v'] = 'v', ['\\'] = '\\', ['\''] = '\'', ['"'] = '"'};

        if (c >= 0 && c < (int64_t) sizeof(simple) && simple[c]) {
                out[0] = '\\';
                out[1] = simple[c];
                return 2;
        }
        if (c < 0 || c < 0x80) {
                if (c >= 0 && iom_unichar_classify((uint32_t) c) != IOM_UNICHAR_CONTROL) {
                        out[0] = (char) c;
                        return 1;
                }
                return (size_t) sprintf(out, "\\x%02x", (unsigned char) s[0]);
        }
        if (iom_unichar_classify((uint32_t) c) != IOM_UNICHAR_PLAIN)
                return (size_t) sprintf(out, "\\u%04x", (unsigned) c);
        memcpy(out, s, len);
        return len;
}

char *iom_escape_to(char *buf, const char *s, size_t max) {
        size_t n, o = 0;

        if (!s)
                return strcpy(buf, "(null)");
        n = strlen(s);
        for (size_t i = 0, shown = 0; i < n; shown++) {
                uint32_t c;
                int len;

                if (shown == max) {
                        o += (size_t) sprintf(buf + o, "…");
                        break;
                }
                len = iom_utf8_decode(s + i, n - i, &c);
                if (len < 0) {
                        o += escape_char(buf + o, s + i, 1, -1);
                        i++;
                } else {
                        o += escape_char(buf + o, s + i, (size_t) len, c);
                        i += (size_t) len;
                }
        }
        buf[o] = '\0';
        return buf;
}
