/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fake sysfs and procfs trees for unit tests. */
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture-sysfs.h"

/* Creates every directory above @path, a path inside @root. */
static void make_parents(const char *root, const char *path) {
        _cleanup_free_ char *copy = strdup(path);

        if (!copy)
                abort();
        for (char *p = strchr(copy + strlen(root) + 1, '/'); p; p = strchr(p + 1, '/')) {
                *p = '\0';
                (void) mkdir(copy, 0755);
                *p = '/';
        }
}

void fixture_put(const char *root, const char *content, const char *format, ...) {
        _cleanup_free_ char *rel = NULL, *path = NULL;
        va_list ap;
        FILE *f;

        va_start(ap, format);
        if (vasprintf(&rel, format, ap) < 0 || asprintf(&path, "%s/%s", root, rel) < 0)
                abort();
        va_end(ap);
        make_parents(root, path);
        f = fopen(path, "we");
        if (!f)
                abort();
        fputs(content, f);
        if (fclose(f) != 0)
                abort();
}

void fixture_link(const char *root, const char *target, const char *link) {
        _cleanup_free_ char *path = NULL, *rel = strdup("");

        if (!rel || asprintf(&path, "%s/%s", root, link) < 0)
                abort();
        make_parents(root, path);
        for (const char *p = strchr(link, '/'); target[0] != '@' && p; p = strchr(p + 1, '/')) {
                char *longer;
                if (asprintf(&longer, "%s../", rel) < 0)
                        abort();
                free(rel);
                rel = longer;
        }
        _cleanup_free_ char *full = NULL;
        if (asprintf(&full, "%s%s", rel, target[0] == '@' ? target + 1 : target) < 0 ||
            symlink(full, path) < 0)
                abort();
}

void fixture_unlink(const char *root, const char *path) {
        _cleanup_free_ char *full = NULL;

        if (asprintf(&full, "%s/%s", root, path) < 0 || unlink(full) < 0)
                abort();
}

char *fixture_mkdtemp(const char *name) {
        char *dir;

        if (asprintf(&dir, "/tmp/iommud-%s.XXXXXX", name) < 0 || !mkdtemp(dir))
                abort();
        return dir;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

void fixture_remove(const char *root) {
        if (root)
                (void) nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
