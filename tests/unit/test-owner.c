/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owner and driver names: what reads unambiguously passes, the rest is refused with exactly
 * what is wrong and where. */
#include "iom-owner.h"
#include "macro.h"
#include "tests.h"

struct bad_name {
        const char *name, *error;
};

/* Every good name passes and leaves the message alone; every bad one fails with its message; a
 * name of @max bytes passes and one of @max + 1 fails with @too_long. */
static void check_names(int (*validate)(const char *name, char **ret_error),
                        const char *const *good, size_t n_good, const struct bad_name *bad,
                        size_t n_bad, size_t max, const char *too_long) {
        _cleanup_free_ char *why = NULL, *longest = malloc(max + 2);

        ASSERT_TRUE(longest);
        for (size_t i = 0; i < n_good; i++) {
                if (validate(good[i], &why) < 0)
                        fprintf(stderr, "'%s': %s\n", good[i], why);
                ASSERT_EQ(validate(good[i], &why), 0);
                ASSERT_TRUE(why == NULL); /* written only on failure */
        }
        for (size_t i = 0; i < n_bad; i++) {
                why = mfree(why);
                ASSERT_EQ(validate(bad[i].name, &why), -EINVAL);
                ASSERT_STREQ(why, bad[i].error);
        }
        memset(longest, 'a', max);
        longest[max] = '\0';
        why = mfree(why);
        ASSERT_EQ(validate(longest, &why), 0);
        longest[max] = 'a';
        longest[max + 1] = '\0';
        ASSERT_EQ(validate(longest, &why), -EINVAL);
        ASSERT_STREQ(why, too_long);
}

static void test_owner_names(void) {
        static const char *const good[] = {
                "win11",
                "router-1",
                "2f1c4b7e-8a3d-4c5e-9f60-1a2b3c4d5e6f",
                "café",
                "虚拟机",
                "my vm", /* a blank inside is fine */
                "uid:1000",
                "unit:spdk.service",
                "unit:dpdk@0.service",
                "a\u00a0b",
                "עברית", /* right-to-left text without bidi controls */
        };
        static const struct bad_name bad[] = {
                {"", "the owner name is empty"},
                {"a/b", "the owner name contains '/'"},
                {"bad\tname", "the owner name contains a control character U+0009 at byte 4"},
                {"\x7f", "the owner name contains a control character U+007F at byte 1"},
                {"ab\xc2\x85", "the owner name contains a control character U+0085 at byte 3"},
                {"ab\xc2\x9f", "the owner name contains a control character U+009F at byte 3"},
                {"a\xff", "the owner name is not valid UTF-8 at byte 2"},
                {"caf\xc3", "the owner name is not valid UTF-8 at byte 4"},      /* cut short */
                {"\xc0\xaf", "the owner name is not valid UTF-8 at byte 1"},     /* overlong '/' */
                {"\xed\xa0\x80", "the owner name is not valid UTF-8 at byte 1"}, /* surrogate */
                {"\xf4\x90\x80\x80", "the owner name is not valid UTF-8 at byte 1"},
                {"abcd\u202egpj.exe", "the owner name contains a bidi control U+202E at byte 5"},
                {"a\u200eb", "the owner name contains a bidi control U+200E at byte 2"},
                {"a\u200fb", "the owner name contains a bidi control U+200F at byte 2"},
                {"a\u202ab", "the owner name contains a bidi control U+202A at byte 2"},
                {"a\u2066b", "the owner name contains a bidi control U+2066 at byte 2"},
                {"a\u2069b", "the owner name contains a bidi control U+2069 at byte 2"},
                {"a\u061cb", "the owner name contains a bidi control U+061C at byte 2"},
                {"win\u200b11",
                 "the owner name contains an invisible format character U+200B at byte 4"},
                {"win\u200d11",
                 "the owner name contains an invisible format character U+200D at byte 4"},
                {"\ufeffwin11",
                 "the owner name contains an invisible format character U+FEFF at byte 1"},
                {"win\u206011",
                 "the owner name contains an invisible format character U+2060 at byte 4"},
                {" win11", "the owner name starts with a blank U+0020"},
                {"win11 ", "the owner name ends with a blank U+0020"},
                {"\u3000win11", "the owner name starts with a blank U+3000"},
                {"win11\u00a0", "the owner name ends with a blank U+00A0"},
                {"win11\u2009", "the owner name ends with a blank U+2009"},
                {"uid:x", "a local owner 'uid:N' needs a numeric user id"},
                {"uid:4294967295", "a local owner 'uid:N' needs a numeric user id"},
                {"unit:spdk", "a local owner 'unit:NAME.service' needs a service unit name"},
        };
        check_names(iom_owner_validate, good, ELEMENTSOF(good), bad, ELEMENTSOF(bad),
                    IOM_OWNER_NAME_MAX, "the owner name is longer than 256 bytes");
        ASSERT_EQ(iom_owner_validate(NULL, NULL), -EINVAL);
}

static void test_driver_names(void) {
        static const char *const good[] = {
                "vfio-pci", "snd_hda_intel", "e1000e", "nvidia", "i915", "none", "a.b", "X",
        };
        static const struct bad_name bad[] = {
                {"", "it is empty"},
                {"a/b", "'/' at byte 2 is not a letter, digit, '_', '.' or '-'"},
                {"vfio pci", "' ' at byte 5 is not a letter, digit, '_', '.' or '-'"},
                {"e1000e\n", "'\\n' at byte 7 is not a letter, digit, '_', '.' or '-'"},
                {"caf\xc3\xa9", "'é' at byte 4 is not a letter, digit, '_', '.' or '-'"},
                {"a\u202eb", "'\\u202e' at byte 2 is not a letter, digit, '_', '.' or '-'"},
                {"a\xff", "'\\xff' at byte 2 is not a letter, digit, '_', '.' or '-'"},
                {"nvidia*", "'*' at byte 7 is not a letter, digit, '_', '.' or '-'"},
        };
        check_names(iom_driver_name_validate, good, ELEMENTSOF(good), bad, ELEMENTSOF(bad),
                    IOM_DRIVER_NAME_MAX, "it is longer than 64 bytes");
}

IOM_TEST_MAIN(IOM_TEST(test_owner_names), IOM_TEST(test_driver_names))
