/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Files replaced atomically: a hidden temporary beside the file, renamed over it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iom-file.h"
#include "iom-log.h"
#include "macro.h"

/* "@dir/.@name." for @path, the temporaries' common prefix. */
static int temporary_prefix(const char *path, char **ret_dir, char **ret_prefix) {
        _cleanup_free_ char *dir_copy = strdup(path), *base_copy = strdup(path);
        char *dir, *prefix;

        if (!dir_copy || !base_copy)
                return -ENOMEM;
        dir = strdup(dirname(dir_copy));
        if (!dir || asprintf(&prefix, ".%s.", basename(base_copy)) < 0) {
                free(dir);
                return -ENOMEM;
        }
        *ret_dir = dir;
        *ret_prefix = prefix;
        return 0;
}

static int fsync_directory(const char *dir) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return negative_errno();
        return fsync(fd) < 0 ? negative_errno() : 0;
}

int iom_file_replace(const char *path, const char *text, mode_t mode, bool durable) {
        _cleanup_free_ char *dir = NULL, *prefix = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t size, done = 0;
        int r;

        if (!path || !text)
                return -EINVAL;
        r = temporary_prefix(path, &dir, &prefix);
        if (r < 0)
                return r;
        if (asprintf(&tmp, "%s/%sXXXXXX", dir, prefix) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        size = strlen(text);
        while (done < size) {
                ssize_t n = write(fd, text + done, size - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        goto fail;
                done += (size_t) n;
        }
        if (fchmod(fd, mode) < 0 || (durable && fsync(fd) < 0) || rename(tmp, path) < 0)
                goto fail;
        return durable ? fsync_directory(dir) : 0;
fail:
        r = negative_errno();
        (void) unlink(tmp);
        return r;
}

/* Whether @name is "@prefix" and six letters or digits, as mkostemp() fills them in. */
static bool is_temporary(const char *name, const char *prefix) {
        const char *rest = startswith(name, prefix);

        if (!rest || strlen(rest) != 6)
                return false;
        for (const char *c = rest; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      (*c >= '0' && *c <= '9')))
                        return false;
        return true;
}

void iom_file_remove_stale_temporaries(const char *path) {
        _cleanup_free_ char *dir = NULL, *prefix = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *e;

        if (temporary_prefix(path, &dir, &prefix) < 0)
                return;
        d = opendir(dir);
        if (!d)
                return;
        while ((e = readdir(d)))
                if (is_temporary(e->d_name, prefix)) {
                        if (unlinkat(dirfd(d), e->d_name, 0) < 0)
                                (void) iom_debug_errno(errno, "Cannot remove %s: %m", e->d_name);
                        else
                                iom_debug("Removed %s, left by a write that did not finish.",
                                          e->d_name);
                }
}
