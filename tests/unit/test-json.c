/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Located JSON: what json-c takes and we refuse (content after the document, repeated keys),
 * each with its exact file:line:column message; and where values and keys stand. */
#include "iom-json.h"
#include "macro.h"
#include "tests.h"

static void test_accepted(void) {
        static const char *const texts[] = {
                "{}",
                "{ \"rules\": [] }\n\n \t\r\n",
                "{} // a comment after the document\n",
                "{} /* one more */",
                "[1, 2, ]",
                "{\"a\": 1, \"b\": {\"a\": 2}, \"c\": [{\"a\": 3}, {\"a\": 4}]}",
                "{\"a\": 1 /* , \"a\": 2 */}",
                "{'a': 'x\"y}', \"b\": \"\\\"}\"}",
                "\"just a string\"",
                "12",
        };
        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                _cleanup_(iom_json_doc_freep) struct iom_json_doc *doc = NULL;
                _cleanup_free_ char *error = NULL;
                int r = iom_json_parse("t.json", texts[i], &doc, &error);

                if (r < 0)
                        fprintf(stderr, "%s: %s\n", texts[i], strempty(error));
                ASSERT_EQ(r, 0);
                ASSERT_TRUE(doc && !error);
        }
}

static void test_refused(void) {
        static const struct {
                const char *text, *error;
        } table[] = {
                {"{", "t.json:1:2: unexpected end of data"},
                /* json-c 0.16 returns the inner 1 for these: a comment runs to the end. */
                {"{\"a\": 1 // x", "t.json:1:13: unexpected end of data"},
                {"[1, 2 /* open", "t.json:1:14: unexpected end of data"},
                {"{ \"rules\": [] } }}}",
                 "t.json:1:17: unexpected content after the JSON document"},
                {"{ } garbage", "t.json:1:5: unexpected content after the JSON document"},
                {"{}{}", "t.json:1:3: unexpected content after the JSON document"},
                {"{}\n\n  []\n", "t.json:3:3: unexpected content after the JSON document"},
                {"12 13", "t.json:1:4: unexpected content after the JSON document"},
                {"{} // fine\n}", "t.json:2:1: unexpected content after the JSON document"},
                {"{\"rules\": [], \"rules\": []}",
                 "t.json:1:15: duplicate key 'rules' (first at line 1, column 2)"},
                {"{\"a\": {\"b\": 1,\n       \"b\": 2}}",
                 "t.json:2:8: duplicate key 'b' (first at line 1, column 8)"},
                {"{\"a\": [{\"x\": 1}, {\"x\": 1, \"y\": 2, \"x\": 3}]}",
                 "t.json:1:35: duplicate key 'x' (first at line 1, column 19)"},
                /* The same name however it is spelled: escapes, quotes. */
                {"{\"a\": 1, \"\\u0061\": 2}",
                 "t.json:1:10: duplicate key 'a' (first at line 1, column 2)"},
                {"{\"\\u00e9t\\u00e9\": 1, \"été\": 2}",
                 "t.json:1:22: duplicate key 'été' (first at line 1, column 2)"},
                {"{'a': 1, \"a\": 2}",
                 "t.json:1:10: duplicate key 'a' (first at line 1, column 2)"},
                /* json-c keys end at a NUL: these two are one key to it. */
                {"{\"a\\u0000b\": 1, \"a\\u0000c\": 2}",
                 "t.json:1:17: duplicate key 'a' (first at line 1, column 2)"},
                /* The first repeat in the text, though the outer object closes last. */
                {"{\"k\": 1, \"o\": {\"i\": 1, \"i\": 2}, \"k\": 2}",
                 "t.json:1:24: duplicate key 'i' (first at line 1, column 16)"},
                {"{\"o\": {\"i\": 1}, \"k\": 1, \"k\": 2, \"o\": {\"i\": 1, \"i\": 2}}",
                 "t.json:1:25: duplicate key 'k' (first at line 1, column 17)"},
                /* A hostile key is shown escaped and cut short. */
                {"{\"\\u202e\\n\": 1, \"\\u202e\\n\": 2}",
                 "t.json:1:17: duplicate key '\\u202e\\n' (first at line 1, column 2)"},
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(iom_json_doc_freep) struct iom_json_doc *doc = NULL;
                _cleanup_free_ char *error = NULL;

                ASSERT_EQ(iom_json_parse("t.json", table[i].text, &doc, &error), -EBADMSG);
                ASSERT_STREQ(error, table[i].error);
                ASSERT_TRUE(doc == NULL);
        }
}

static void test_locate(void) {
        _cleanup_(iom_json_doc_freep) struct iom_json_doc *doc = NULL;
        unsigned line, column;

        ASSERT_EQ(iom_json_parse("t.json",
                                 "{\n  \"rules\": [\n    {\"id\": 1, \"m\\u0061tch\": 'x'}\n  ]\n}",
                                 &doc, NULL),
                  0);
        iom_json_locate(doc, "rules[0].id", 0, &line, &column);
        ASSERT_TRUE(line == 3 && column == 12);
        /* A key spelled with an escape is found under its decoded name. */
        iom_json_locate(doc, "rules[0].match", 1, &line, &column);
        ASSERT_TRUE(line == 3 && column == 15);
        iom_json_locate(doc, "rules[0].match", 0, &line, &column);
        ASSERT_TRUE(line == 3 && column == 29);
        iom_json_locate(doc, "rules[1]", 0, &line, &column);
        ASSERT_TRUE(line == 0 && column == 0);
}

IOM_TEST_MAIN(IOM_TEST(test_accepted), IOM_TEST(test_refused), IOM_TEST(test_locate))
