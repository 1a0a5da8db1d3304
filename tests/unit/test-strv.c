/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* String vectors: building, comparing, joining, splitting. */
#include <stdlib.h>
#include <string.h>

#include "iom-strv.h"
#include "macro.h"
#include "tests.h"

static void test_push_and_join(void) {
        _cleanup_(iom_strv_done) struct iom_strv l = {};
        _cleanup_free_ char *empty = iom_strv_join(NULL, ", "), *one = NULL, *all = NULL;

        ASSERT_STREQ(empty, "");
        ASSERT_EQ(iom_strv_push_copy(&l, "a"), 0);
        one = iom_strv_join(l.v, ", ");
        ASSERT_STREQ(one, "a");
        for (int i = 0; i < 1000; i++)
                ASSERT_EQ(iom_strv_push_copy(&l, i % 2 ? "bc" : ""), 0);
        ASSERT_EQ(l.n, 1001);
        ASSERT_TRUE(l.v[l.n] == NULL);
        ASSERT_STREQ(l.v[1], "");
        ASSERT_STREQ(l.v[2], "bc");
        all = iom_strv_join(l.v, "; ");
        ASSERT_EQ(strlen(all), 1 + 1000 * 2 + 500 * 2);
        ASSERT_TRUE(strncmp(all, "a; ; bc; ; bc", 13) == 0);
        ASSERT_EQ(iom_strv_push(&l, NULL), -ENOMEM); /* a failed strdup() */
        ASSERT_EQ(l.n, 1001);
}

static void test_contains_and_equal(void) {
        char *ab[] = {"a", "b", NULL}, *ab2[] = {"a", "b", NULL}, *a[] = {"a", NULL};
        char *none[] = {NULL};

        ASSERT_TRUE(iom_strv_contains(ab, "b"));
        ASSERT_TRUE(!iom_strv_contains(ab, "c"));
        ASSERT_TRUE(!iom_strv_contains(NULL, "a"));
        ASSERT_TRUE(iom_strv_equal(ab, ab2));
        ASSERT_TRUE(!iom_strv_equal(ab, a));
        ASSERT_TRUE(!iom_strv_equal(a, ab));
        ASSERT_TRUE(iom_strv_equal(none, NULL));
        ASSERT_TRUE(!iom_strv_equal(a, NULL));
}

static void test_split(void) {
        _cleanup_strv_free_ char **words = NULL, **nothing = NULL;

        ASSERT_EQ(iom_strv_split(" flr\tbus\n pm ", &words), 0);
        ASSERT_STREQ(words[0], "flr");
        ASSERT_STREQ(words[1], "bus");
        ASSERT_STREQ(words[2], "pm");
        ASSERT_TRUE(words[3] == NULL);
        ASSERT_EQ(iom_strv_split("", &nothing), 0);
        ASSERT_TRUE(nothing && nothing[0] == NULL);
}

IOM_TEST_MAIN(IOM_TEST(test_push_and_join), IOM_TEST(test_contains_and_equal), IOM_TEST(test_split))
