/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCI address parsing: a table of good and bad spellings. */
#include "iom-address.h"
#include "macro.h"
#include "tests.h"

static void test_good_spellings(void) {
        static const struct {
                const char *in, *canonical;
        } table[] = {
                {"0000:01:00.0", "0000:01:00.0"}, {"01:00.0", "0000:01:00.0"},
                {"1:0.0", "0000:01:00.0"},        {"0000:0A:1F.7", "0000:0a:1f.7"},
                {"0a:1f.7", "0000:0a:1f.7"},      {"10000:00:00.0", "10000:00:00.0"},
                {"ffff:ff:1f.7", "ffff:ff:1f.7"},
        };
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
                struct iom_address a;
                char buf[IOM_ADDRESS_STRING_MAX];
                _cleanup_free_ char *error = NULL;

                ASSERT_EQ(iom_address_parse(table[i].in, &a, &error), 0);
                ASSERT_TRUE(error == NULL); /* written only on failure */
                ASSERT_STREQ(iom_address_format(&a, buf), table[i].canonical);
        }
}

static void test_bad_spellings(void) {
        static const struct {
                const char *in, *error;
        } table[] = {
                {"", "the address is empty"},
                {"nonsense", "expected hexadecimal digits, as in 0000:01:00.0"},
                {"01:00", "expected '.' and a function number after the slot"},
                {"01.0", "expected [domain:]bus:slot.function, as in 0000:01:00.0"},
                {"0000:01:00.8", "the function must be 0-7"},
                {"0000:01:20.0", "the slot (device) must be 00-1f"},
                {"0000:100:00.0", "the bus must be 00-ff"},
                {"0:0:0:0.0", "too many ':'-separated fields, expected [domain:]bus:slot.function"},
                {"01:00.0 ", "the function must be one digit 0-7 and end the address"},
                {"01:00.00", "the function must be one digit 0-7 and end the address"},
                {"99:99.9", "the slot (device) must be 00-1f"},
                {"0000:01::0.0", "expected hexadecimal digits, as in 0000:01:00.0"},
                {"123456789:00:00.0", "a field has too many digits"},
                {"-1:00.0", "expected hexadecimal digits, as in 0000:01:00.0"},
        };
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
                struct iom_address a;
                _cleanup_free_ char *error = NULL;

                ASSERT_EQ(iom_address_parse(table[i].in, &a, &error), -EINVAL);
                ASSERT_STREQ(error, table[i].error);
        }
}

static void test_path_and_order(void) {
        struct iom_address a, b;
        char buf[IOM_ADDRESS_STRING_MAX];

        ASSERT_EQ(iom_address_parse("0000:01:00.1", &a, NULL), 0);
        ASSERT_EQ(iom_address_parse("0000:02:00.0", &b, NULL), 0);
        ASSERT_STREQ(iom_address_format_path(&a, buf), "0000_01_00_1");
        /* The path element back, in its one spelling only. */
        ASSERT_EQ(iom_address_parse_path("0000_01_00_1", &b), 0);
        ASSERT_TRUE(iom_address_equal(&a, &b));
        ASSERT_EQ(iom_address_parse_path("10000_ff_1f_7", &b), 0);
        ASSERT_STREQ(iom_address_format(&b, buf), "10000:ff:1f.7");
        static const char *const bad[] = {"",          "0000:01:00.1", "01_00_1",
                                          "0000_01_00", "0000_1_00_1", "0000_01_00_1_",
                                          "0000_01_00_8", "0000_01_20_0", "0000_0A_00_0",
                                          "0000_01_00_01", "000000000000_01_00_0"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                fprintf(stderr, "# '%s'\n", bad[i]);
                ASSERT_EQ(iom_address_parse_path(bad[i], &b), -EINVAL);
        }
        ASSERT_EQ(iom_address_parse("0000:02:00.0", &b, NULL), 0);
        ASSERT_TRUE(iom_address_compare(&a, &b) < 0);
        ASSERT_TRUE(iom_address_compare(&b, &a) > 0);
        ASSERT_TRUE(iom_address_equal(&a, &a));
}

IOM_TEST_MAIN(IOM_TEST(test_good_spellings), IOM_TEST(test_bad_spellings),
              IOM_TEST(test_path_and_order))
