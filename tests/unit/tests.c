/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The TAP runner behind IOM_TEST_MAIN. */
#include <stdbool.h>

#include "tests.h"

int iom_test_failures;

static bool test_wanted(int argc, char **argv, const char *name) {
        if (argc < 2)
                return true;
        for (int a = 1; a < argc; a++)
                if (strcmp(argv[a], name) == 0)
                        return true;
        return false;
}

int iom_test_main(int argc, char **argv, const struct iom_test *tests, size_t n) {
        size_t planned = 0, number = 0;
        int failed = 0;

        for (size_t i = 0; i < n; i++)
                planned += test_wanted(argc, argv, tests[i].name);
        if (planned == 0) {
                fprintf(stderr, "no test matches the names given\n");
                return 2;
        }
        printf("1..%zu\n", planned);
        for (size_t i = 0; i < n; i++) {
                if (!test_wanted(argc, argv, tests[i].name))
                        continue;
                int before = iom_test_failures;
                tests[i].func();
                bool ok = iom_test_failures == before;
                printf("%s %zu - %s\n", ok ? "ok" : "not ok", ++number, tests[i].name);
                fflush(stdout);
                failed += !ok;
        }
        return failed ? 1 : 0;
}
