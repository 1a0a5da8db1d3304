/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Replays a fuzzer's corpus without libFuzzer: every file of the directories (or files) named
 * on the command line goes through LLVMFuzzerTestOneInput once, byte for byte (binary inputs
 * may hold NULs). This is how each fuzzer runs as a test in the fuzz suite with any compiler;
 * tools/fuzz runs the real fuzzers. It needs nothing but libc, so any fuzzer can use it. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define INPUT_MAX (1024 * 1024)

static int replay(const char *path) {
        FILE *f = fopen(path, "re");
        uint8_t *data;
        size_t size;

        if (!f) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return 1;
        }
        data = malloc(INPUT_MAX);
        size = data ? fread(data, 1, INPUT_MAX, f) : 0;
        if (!data || ferror(f) || !feof(f)) {
                fprintf(stderr, "%s: unreadable or larger than %d bytes\n", path, INPUT_MAX);
                fclose(f);
                free(data);
                return 1;
        }
        fclose(f);
        (void) LLVMFuzzerTestOneInput(data, size);
        free(data);
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
                        char *path = NULL;

                        if (e->d_name[0] == '.' || asprintf(&path, "%s/%s", argv[i], e->d_name) < 0)
                                continue;
                        failed |= replay(path);
                        free(path);
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
