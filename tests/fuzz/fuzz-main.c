/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Replays a fuzzer's corpus without libFuzzer: every file of the directories (or files) named
 * on the command line goes through LLVMFuzzerTestOneInput once. This is how each fuzzer runs
 * as a test in the fuzz suite with any compiler; tools/fuzz runs the real fuzzers. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "iom-sysfs.h"
#include "macro.h"

static int replay(const char *path) {
        _cleanup_free_ char *text = NULL;
        int r = iom_read_file(path, 1024 * 1024, &text);

        if (r < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
                return 1;
        }
        (void) LLVMFuzzerTestOneInput((const uint8_t *) text, strlen(text));
        printf("ok %s\n", path);
        return 0;
}

int main(int argc, char *argv[]) {
        size_t n = 0;
        int failed = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;
                DIR *d;
                struct dirent *e;

                if (stat(argv[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
                        failed |= replay(argv[i]);
                        n++;
                        continue;
                }
                d = opendir(argv[i]);
                while (d && (e = readdir(d))) {
                        _cleanup_free_ char *path = NULL;
                        if (e->d_name[0] == '.' || asprintf(&path, "%s/%s", argv[i], e->d_name) < 0)
                                continue;
                        failed |= replay(path);
                        n++;
                }
                if (d)
                        closedir(d);
        }
        if (n == 0) {
                fprintf(stderr, "no corpus input found\n");
                return 1;
        }
        printf("%zu inputs replayed\n", n);
        return failed;
}
