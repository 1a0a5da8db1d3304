/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A minimal TAP harness for unit tests: each test is a function; any one runs by name. */
#pragma once

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct iom_test {
        const char *name;
        void (*func)(void);
};

extern int iom_test_failures;

#define ASSERT_TRUE(expr)                                                                          \
        do {                                                                                       \
                if (!(expr)) {                                                                     \
                        fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__,       \
                                #expr);                                                            \
                        iom_test_failures++;                                                       \
                        return;                                                                    \
                }                                                                                  \
        } while (0)

#define ASSERT_EQ(a, b)                                                                            \
        do {                                                                                       \
                long long _a_ = (long long) (a), _b_ = (long long) (b);                            \
                if (_a_ != _b_) {                                                                  \
                        fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__,      \
                                __LINE__, #a, _a_, #b, _b_);                                       \
                        iom_test_failures++;                                                       \
                        return;                                                                    \
                }                                                                                  \
        } while (0)

#define ASSERT_STREQ(a, b)                                                                         \
        do {                                                                                       \
                const char *_a_ = (a), *_b_ = (b);                                                 \
                if (!_a_ || !_b_ || strcmp(_a_, _b_) != 0) {                                       \
                        fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,        \
                                __LINE__, #a, _a_ ? _a_ : "(null)", _b_ ? _b_ : "(null)");         \
                        iom_test_failures++;                                                       \
                        return;                                                                    \
                }                                                                                  \
        } while (0)

/* Each test file ends with IOM_TEST_MAIN(test_a, test_b, ...). Arguments name the tests to
 * run; none runs all. Output is TAP, which meson reads with protocol : 'tap'. */
int iom_test_main(int argc, char **argv, const struct iom_test *tests, size_t n);

#define IOM_TEST(f)                                                                                \
        { #f, f }
#define IOM_TEST_MAIN(...)                                                                         \
        int main(int argc, char **argv) {                                                          \
                static const struct iom_test tests[] = {__VA_ARGS__};                              \
                return iom_test_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));         \
        }
