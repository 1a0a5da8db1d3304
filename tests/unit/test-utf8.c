/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* UTF-8 decoding, character classes, and the escaper every log line of a caller's string
 * goes through. */
#include "iom-utf8.h"
#include "macro.h"
#include "tests.h"

static void test_decode(void) {
        static const struct {
                const char *s;
                int len;
                uint32_t c;
        } table[] = {
                {"a", 1, 'a'},
                {"\xc3\xa9", 2, 0xe9},
                {"\xe2\x80\xae", 3, 0x202e},
                {"\xf0\x9f\x98\x80", 4, 0x1f600},
                {"\xf4\x8f\xbf\xbf", 4, 0x10ffff},
                {"\x80", -EILSEQ, 0},             /* a continuation byte alone */
                {"\xc3", -EILSEQ, 0},             /* cut short */
                {"\xc3(", -EILSEQ, 0},            /* not a continuation */
                {"\xc3\xc3\xa9", -EILSEQ, 0},     /* a lead byte where a continuation belongs */
                {"\xc1\xbf", -EILSEQ, 0},         /* overlong */
                {"\xe0\x80\xaf", -EILSEQ, 0},     /* overlong */
                {"\xed\xb0\x80", -EILSEQ, 0},     /* a surrogate */
                {"\xf4\x90\x80\x80", -EILSEQ, 0}, /* past U+10FFFF */
                {"\xff", -EILSEQ, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                uint32_t c = 0;
                ASSERT_EQ(iom_utf8_decode(table[i].s, strlen(table[i].s), &c), table[i].len);
                if (table[i].len > 0)
                        ASSERT_EQ(c, table[i].c);
        }
}

static void test_classify(void) {
        ASSERT_EQ(iom_unichar_classify('a'), IOM_UNICHAR_PLAIN);
        ASSERT_EQ(iom_unichar_classify(0x1f), IOM_UNICHAR_CONTROL);
        ASSERT_EQ(iom_unichar_classify(0x85), IOM_UNICHAR_CONTROL);
        ASSERT_EQ(iom_unichar_classify(0xa1), IOM_UNICHAR_PLAIN);
        ASSERT_EQ(iom_unichar_classify(0x202d), IOM_UNICHAR_BIDI);
        ASSERT_EQ(iom_unichar_classify(0x2065), IOM_UNICHAR_PLAIN);
        ASSERT_EQ(iom_unichar_classify(0x2067), IOM_UNICHAR_BIDI);
        ASSERT_EQ(iom_unichar_classify(0x200c), IOM_UNICHAR_INVISIBLE);
        ASSERT_EQ(iom_unichar_classify(0x2028), IOM_UNICHAR_SPACE);
        ASSERT_EQ(iom_unichar_classify(0x3000), IOM_UNICHAR_SPACE);
        ASSERT_EQ(iom_unichar_classify(0xfeff), IOM_UNICHAR_INVISIBLE);
        ASSERT_EQ(iom_unichar_classify(0x10ffff), IOM_UNICHAR_PLAIN);
}

static void test_escape(void) {
        static const struct {
                const char *s, *escaped;
        } table[] = {
                {"win11", "win11"},
                {"", ""},
                {"a b", "a b"},
                {"line\nnext\ttab\rcr", "line\\nnext\\ttab\\rcr"},
                {"back\\slash 'quote' \"dq\"", "back\\\\slash \\'quote\\' \\\"dq\\\""},
                {"bell\a\x01\x1b[31m\x7f", "bell\\a\\x01\\x1b[31m\\x7f"},
                {"café 虚拟机 😀", "café 虚拟机 😀"},
                {"c1\xc2\x85", "c1\\u0085"},
                {"bad\xff\xc3(", "bad\\xff\\xc3("},
                {"\xed\xa0\x80", "\\xed\\xa0\\x80"},
                {"abcd\u202egpj.exe", "abcd\\u202egpj.exe"},
                {"zw\u200bj\ufeff", "zw\\u200bj\\ufeff"},
                {"nbsp\u00a0ideo\u3000ls\u2028", "nbsp\\u00a0ideo\\u3000ls\\u2028"},
        };
        char buf[IOM_ESCAPE_SIZE(IOM_ESCAPE_CHARS)];

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                ASSERT_STREQ(iom_escape_to(buf, table[i].s, IOM_ESCAPE_CHARS), table[i].escaped);
                ASSERT_STREQ(IOM_ESCAPE(table[i].s), table[i].escaped);
        }
        ASSERT_STREQ(IOM_ESCAPE(NULL), "(null)");
}

static void test_escape_bounded(void) {
        char hostile[257], expected[IOM_ESCAPE_SIZE(IOM_ESCAPE_CHARS)], *p = expected;
        char buf[IOM_ESCAPE_SIZE(3)];

        /* 256 bytes of the worst case, a control byte each: 64 of them shown, then "…". */
        memset(hostile, '\x01', 256);
        hostile[256] = '\0';
        for (size_t i = 0; i < IOM_ESCAPE_CHARS; i++)
                p += sprintf(p, "\\x01");
        strcpy(p, "…");
        ASSERT_STREQ(IOM_ESCAPE(hostile), expected);
        ASSERT_EQ(strlen(IOM_ESCAPE(hostile)), 4 * IOM_ESCAPE_CHARS + strlen("…"));

        /* The widest escape fills the buffer exactly. */
        ASSERT_STREQ(iom_escape_to(buf, "\u202e\u202e\u202e\u202e", 3), "\\u202e\\u202e\\u202e…");
        ASSERT_EQ(strlen(buf) + 1, sizeof(buf));
        /* Exactly @max characters: no ellipsis; one more: the ellipsis. */
        ASSERT_STREQ(iom_escape_to(buf, "abc", 3), "abc");
        ASSERT_STREQ(iom_escape_to(buf, "abcd", 3), "abc…");
        /* Characters are counted, not bytes: a 4-byte one is one. */
        ASSERT_STREQ(iom_escape_to(buf, "😀😀😀", 3), "😀😀😀");
}

IOM_TEST_MAIN(IOM_TEST(test_decode), IOM_TEST(test_classify), IOM_TEST(test_escape),
              IOM_TEST(test_escape_bounded))
