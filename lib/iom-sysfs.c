/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading sysfs and procfs attributes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iom-sysfs.h"
#include "macro.h"

#define ATTRIBUTE_SIZE_MAX (64 * 1024)

int iom_read_fd(int fd, size_t max_size, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;

        buf = malloc(max_size + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf + size, max_size + 1 - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > max_size)
                        return -EFBIG;
        }
        buf[size] = '\0';

        char *shrunk = realloc(buf, size + 1);
        *ret = shrunk ? shrunk : buf;
        buf = NULL;
        if (ret_size)
                *ret_size = size;
        return 0;
}

/* Reads @path whole. @regular_only: anything but a regular file is refused, and a FIFO is not
 * waited on (O_NONBLOCK makes its open return; regular files ignore the flag). Without it a
 * read may wait, as a sysfs attribute's does while its device is locked (test-hotplug stands
 * in a FIFO for that). */
static int read_path(const char *path, bool regular_only, size_t max_size, char **ret,
                     size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | (regular_only ? O_NONBLOCK : 0));
        if (fd < 0)
                return negative_errno();
        if (regular_only) {
                if (fstat(fd, &st) < 0)
                        return negative_errno();
                if (S_ISDIR(st.st_mode))
                        return -EISDIR;
                if (!S_ISREG(st.st_mode))
                        return -EBADFD;
        }
        return iom_read_fd(fd, max_size, ret, ret_size);
}

int iom_read_file(const char *path, size_t max_size, char **ret, size_t *ret_size) {
        return read_path(path, true, max_size, ret, ret_size);
}

int iom_sysfs_read_string(const char *dir, const char *name, char **ret) {
        _cleanup_free_ char *path = NULL;
        char *s;
        size_t n;
        int r;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        r = read_path(path, false, ATTRIBUTE_SIZE_MAX, &s, NULL);
        if (r < 0)
                return r;
        n = strlen(s);
        while (n > 0 && s[n - 1] == '\n')
                s[--n] = '\0';
        *ret = s;
        return 0;
}

int iom_sysfs_read_int64(const char *dir, const char *name, int64_t *ret) {
        _cleanup_free_ char *s = NULL;
        char *end;
        int r;

        r = iom_sysfs_read_string(dir, name, &s);
        if (r < 0)
                return r;
        errno = 0;
        long long v = strtoll(s, &end, 0);
        if (errno != 0 || end == s || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

int iom_sysfs_read_link_name(const char *dir, const char *name, char **ret) {
        _cleanup_free_ char *path = NULL;
        char target[PATH_MAX];
        ssize_t n;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
                return negative_errno();
        target[n] = '\0';

        const char *base = strrchr(target, '/');
        char *copy = strdup(base ? base + 1 : target);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

const char *iom_proc_root(void) {
        const char *e = getenv("IOMMUD_PROC_ROOT");
        return e && *e ? e : "/proc";
}

int iom_sysfs_read_binary(const char *dir, const char *name, size_t offset, void *buf,
                          size_t size) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        do
                n = pread(fd, buf, size, (off_t) offset);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        return (int) n;
}
