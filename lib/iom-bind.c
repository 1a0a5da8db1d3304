/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rebinding one PCI device through sysfs, with deadlines. Never new_id: it would capture
 * every device with the same ids, the host's own included. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iom-bind.h"
#include "iom-error.h"
#include "iom-log.h"
#include "iom-strv.h"
#include "iom-sysfs.h"
#include "macro.h"

/* Sleeps a little longer each round, from 1 ms to 100 ms. */
static void backoff(uint64_t *delay_usec) {
        (void) usleep((useconds_t) *delay_usec);
        *delay_usec = MIN(*delay_usec * 2, 100000);
}

/* Waits for @pid until @deadline; kills it at the deadline. Returns the child's result: 0, or
 * the negative errno it exited with. */
static int wait_child(pid_t pid, uint64_t deadline) {
        uint64_t delay = 1000;
        int status;

        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        break;
                if (r < 0 && errno != EINTR)
                        return negative_errno();
                if (now_usec() >= deadline) {
                        (void) kill(pid, SIGKILL);
                        /* Reap it if it dies at once; a child stuck in the kernel is reaped by
                         * whoever waits for any child later (the daemon's SIGCHLD is default). */
                        (void) waitpid(pid, &status, WNOHANG);
                        return -ETIMEDOUT;
                }
                backoff(&delay);
        }
        if (!WIFEXITED(status))
                return -EIO;
        return -WEXITSTATUS(status);
}

/* Writes @value to @path in a child process, waiting at most @timeout_usec. The parent opens
 * the file; the child only makes the write(2) system call, raw: the parent may have threads, and
 * a libc function that an LD_PRELOAD library interposes may wait in the child for a lock another
 * thread held at fork() (umockdev's preload does so up to 0.17.16 around every open() and
 * write()), a hang that the deadline would blame on the device. */
static int write_with_deadline(const char *path, const char *value, uint64_t timeout_usec) {
        _cleanup_close_ int fd = -EBADF;
        size_t len = strlen(value);
        pid_t pid;
        int r;

        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                r = negative_errno();
                iom_debug("cannot open %s: %s", path, strerror(-r));
                return r;
        }
        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                long n = syscall(SYS_write, fd, value, len);
                if (n < 0)
                        _exit(errno & 0xff);
                _exit(n == (long) len ? 0 : EIO);
        }
        r = wait_child(pid, now_usec() + timeout_usec);
        if (r < 0 && r != -ETIMEDOUT)
                iom_debug("write of '%s' to %s failed: %s", value, path, strerror(-r));
        return r;
}

static int device_path(const struct iom_address *a, const char *attribute, char **ret) {
        char buf[IOM_ADDRESS_STRING_MAX];
        if (asprintf(ret, IOM_SYSFS_ROOT "/bus/pci/devices/%s%s%s", iom_address_format(a, buf),
                     attribute ? "/" : "", strempty(attribute)) < 0)
                return -ENOMEM;
        return 0;
}

int iom_bind_write_attribute(const struct iom_address *a, const char *attribute,
                             const char *value, uint64_t timeout_usec) {
        _cleanup_free_ char *path = NULL;

        if (!a || !attribute || !*attribute || strchr(attribute, '/') || !value)
                return -EINVAL;
        if (device_path(a, attribute, &path) < 0)
                return -ENOMEM;
        return write_with_deadline(path, value, timeout_usec);
}

int iom_bind_set_override(const struct iom_address *a, const char *driver, uint64_t timeout_usec) {
        _cleanup_free_ char *value = NULL;

        if (!a || (driver && (!*driver || strchr(driver, '/') || strchr(driver, '\n'))))
                return -EINVAL;
        /* Clearing takes "\n": a zero-byte write is refused by some kernels. */
        if (asprintf(&value, "%s\n", strempty(driver)) < 0)
                return -ENOMEM;
        return iom_bind_write_attribute(a, "driver_override", value, timeout_usec);
}

int iom_bind_get_driver(const struct iom_address *a, char **ret) {
        _cleanup_free_ char *dir = NULL;
        int r;

        if (!a || !ret)
                return -EINVAL;
        if (device_path(a, NULL, &dir) < 0)
                return -ENOMEM;
        r = iom_sysfs_read_link_name(dir, "driver", ret);
        if (r == -ENOENT) {
                struct stat st;
                if (stat(dir, &st) < 0)
                        return -ENODEV; /* the device itself is gone */
                *ret = NULL;
                return 0;
        }
        return r;
}

int iom_bind_unbind(const struct iom_address *a, uint64_t timeout_usec, char **ret_holders) {
        _cleanup_free_ char *path = NULL;
        char buf[IOM_ADDRESS_STRING_MAX];
        int r;

        if (!a)
                return -EINVAL;
        if (ret_holders)
                *ret_holders = NULL;
        if (device_path(a, "driver/unbind", &path) < 0)
                return -ENOMEM;
        r = write_with_deadline(path, iom_address_format(a, buf), timeout_usec);
        if (r == -ENOENT)
                return 0; /* no driver bound any more: nothing to unbind */
        if (r == -ETIMEDOUT && ret_holders) {
                _cleanup_free_ char *dir = NULL, *group = NULL;
                int id = -1;

                if (device_path(a, NULL, &dir) >= 0 &&
                    iom_sysfs_read_link_name(dir, "iommu_group", &group) >= 0)
                        id = atoi(group);
                (void) iom_bind_find_holders(a, id, ret_holders);
        }
        return r;
}

int iom_bind_probe(const struct iom_address *a, uint64_t timeout_usec) {
        char buf[IOM_ADDRESS_STRING_MAX];

        if (!a)
                return -EINVAL;
        return write_with_deadline(IOM_SYSFS_ROOT "/bus/pci/drivers_probe",
                                   iom_address_format(a, buf), timeout_usec);
}

int iom_bind_wait_driver(const struct iom_address *a, const char *driver, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec, delay = 1000;

        if (!a || !driver)
                return -EINVAL;
        for (;;) {
                _cleanup_free_ char *current = NULL;
                int r = iom_bind_get_driver(a, &current);
                if (r < 0)
                        return r;
                if (current && streq(current, driver))
                        return 0;
                if (now_usec() >= deadline)
                        return -ETIMEDOUT;
                backoff(&delay);
        }
}

int iom_bind_load_module(const char *driver, bool dry_run, uint64_t timeout_usec) {
        _cleanup_free_ char *registered = NULL;
        struct stat st;
        pid_t pid;

        if (!driver || !*driver || strchr(driver, '/'))
                return -EINVAL;
        if (asprintf(&registered, IOM_SYSFS_ROOT "/bus/pci/drivers/%s", driver) < 0)
                return -ENOMEM;
        if (stat(registered, &st) >= 0)
                return 0;
        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null >= 0) {
                        (void) dup2(null, STDIN_FILENO);
                        (void) dup2(null, STDOUT_FILENO);
                }
                if (dry_run)
                        execlp("modprobe", "modprobe", "-q", "--dry-run", driver, (char *) NULL);
                else
                        execlp("modprobe", "modprobe", "-q", driver, (char *) NULL);
                _exit(ENOENT); /* no modprobe */
        }
        int r = wait_child(pid, now_usec() + timeout_usec);
        if (r == -ENOENT)
                return -ENOPKG;
        if (r == -ETIMEDOUT || r == -EIO)
                return r;
        if (r < 0) /* modprobe's own exit status: no such module, or it failed to load */
                return -ENOENT;
        if (dry_run)
                return 0;
        /* Registration follows the module load, but not always before modprobe returns. */
        uint64_t deadline = now_usec() + timeout_usec, delay = 1000;
        while (stat(registered, &st) < 0) {
                if (now_usec() >= deadline)
                        return -ENOENT;
                backoff(&delay);
        }
        return 0;
}

const char *const iom_reset_methods[] = {
        IOM_RESET_DEFAULT, "device_specific", "acpi", "flr", "af_flr", "pm", "bus", "cxl_bus", NULL,
};

bool iom_reset_method_is_known(const char *method) {
        return method && iom_strv_contains((char *const *) iom_reset_methods, method);
}

int iom_bind_reset(const struct iom_address *a, const char *method, uint64_t timeout_usec,
                   char **ret_error) {
        _cleanup_free_ char *dir = NULL, *offered = NULL, *reset = NULL, *select = NULL;
        _cleanup_strv_free_ char **list = NULL;
        bool by_default = !method || streq(method, IOM_RESET_DEFAULT);
        int r, k;

        if (!a || (method && !iom_reset_method_is_known(method)))
                return -EINVAL;
        if (device_path(a, NULL, &dir) < 0 || asprintf(&reset, "%s/reset", dir) < 0 ||
            asprintf(&select, "%s/reset_method", dir) < 0)
                return -ENOMEM;
        /* reset_method (Linux 5.15) lists what the device offers, in the kernel's order; an
         * empty list, or no reset file at all, means the kernel knows no way to reset it. */
        r = iom_sysfs_read_string(dir, "reset_method", &offered);
        if (r == -ENOENT && by_default)
                offered = NULL;
        else if (r == -ENOENT)
                return iom_error(ret_error, -EOPNOTSUPP,
                                 "this kernel cannot choose a reset method (no reset_method "
                                 "attribute; Linux 5.15 has it): use 'default'");
        else if (r < 0)
                return iom_error(ret_error, r, "cannot read reset_method: %s", strerror(-r));
        if (offered && (r = iom_strv_split(offered, &list)) < 0)
                return r;
        if ((offered && !list[0]) || access(reset, F_OK) < 0)
                return iom_error(ret_error, -EOPNOTSUPP, "the device offers no reset method");
        if (!by_default && !iom_strv_contains(list, method))
                return iom_error(ret_error, -EOPNOTSUPP,
                                 "the device does not offer '%s' (it offers %s)", method, offered);

        if (!by_default) {
                r = write_with_deadline(select, method, timeout_usec);
                if (r < 0)
                        return iom_error(ret_error, r, "the kernel refused reset method '%s': %s",
                                         method, strerror(-r));
        }
        r = write_with_deadline(reset, "1", timeout_usec);
        /* pci_reset_function() says ENOTTY when none of the methods can be used now (a bus
         * reset of a device that is not alone on its bus, say). */
        if (r == -ENOTTY) {
                r = -EOPNOTSUPP;
                (void) iom_error(ret_error, r,
                                 "the kernel has no reset method that works for it now");
        } else if (r < 0)
                (void) iom_error(ret_error, r, "%s reset failed: %s",
                                 by_default ? "the kernel's" : method,
                                 r == -ETIMEDOUT ? "it did not finish in time" : strerror(-r));
        /* What was offered before, in its order: the next user of the device finds it as it
         * was. */
        if (!by_default && (k = write_with_deadline(select, offered, timeout_usec)) < 0)
                iom_debug("Cannot restore reset_method '%s': %s", offered, strerror(-k));
        return r;
}

int iom_bind_set_d3cold(const struct iom_address *a, bool value, uint64_t timeout_usec,
                        bool *ret_was) {
        _cleanup_free_ char *dir = NULL, *path = NULL;
        int64_t was;
        int r;

        if (!a)
                return -EINVAL;
        if (device_path(a, NULL, &dir) < 0 || asprintf(&path, "%s/d3cold_allowed", dir) < 0)
                return -ENOMEM;
        r = iom_sysfs_read_int64(dir, "d3cold_allowed", &was);
        if (r < 0)
                return r;
        r = write_with_deadline(path, value ? "1" : "0", timeout_usec);
        if (r < 0)
                return r;
        if (ret_was)
                *ret_was = was != 0;
        return 0;
}

int iom_bind_wait_vfio_node(unsigned group, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec, delay = 1000;
        char path[64];
        struct stat st;

        (void) snprintf(path, sizeof(path), "/dev/vfio/%u", group);
        while (stat(path, &st) < 0 || !S_ISCHR(st.st_mode)) {
                if (now_usec() >= deadline)
                        return -ETIMEDOUT;
                backoff(&delay);
        }
        return 0;
}

/* Collects the dev_t of every "dev" attribute below @dir (drm/card0/dev, ...), depth-limited. */
static int collect_devnums(const char *dir, int depth, dev_t **devs, size_t *n) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *e;

        if (!d)
                return 0;
        while ((e = readdir(d))) {
                _cleanup_free_ char *sub = NULL, *value = NULL;
                unsigned maj, min;

                if (e->d_name[0] == '.' || e->d_type == DT_LNK)
                        continue;
                if (streq(e->d_name, "dev") && iom_sysfs_read_string(dir, "dev", &value) >= 0 &&
                    sscanf(value, "%u:%u", &maj, &min) == 2) {
                        if (GREEDY_REALLOC(*devs, *n + 1) < 0)
                                return -ENOMEM;
                        (*devs)[(*n)++] = makedev(maj, min);
                }
                if (e->d_type != DT_DIR || depth == 0)
                        continue;
                if (asprintf(&sub, "%s/%s", dir, e->d_name) < 0)
                        return -ENOMEM;
                int r = collect_devnums(sub, depth - 1, devs, n);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool holds_one_of(const char *fd_dir, const dev_t *devs, size_t n) {
        _cleanup_(closedirp) DIR *d = opendir(fd_dir);
        struct dirent *e;

        if (!d)
                return false;
        while ((e = readdir(d))) {
                char path[PATH_MAX];
                struct stat st;

                if (e->d_name[0] == '.')
                        continue;
                (void) snprintf(path, sizeof(path), "%s/%s", fd_dir, e->d_name);
                if (stat(path, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
                        continue;
                for (size_t i = 0; i < n; i++)
                        if (st.st_rdev == devs[i])
                                return true;
        }
        return false;
}

int iom_bind_find_holders(const struct iom_address *a, int group, char **ret) {
        _cleanup_free_ char *dir = NULL, *text = NULL;
        _cleanup_free_ dev_t *devs = NULL;
        _cleanup_(closedirp) DIR *proc = NULL;
        struct dirent *e;
        size_t n = 0, len = 0;
        int r;

        if (!a || !ret)
                return -EINVAL;
        if (device_path(a, NULL, &dir) < 0)
                return -ENOMEM;
        r = collect_devnums(dir, 4, &devs, &n);
        if (r < 0)
                return r;
        if (group >= 0) {
                char vfio[64];
                struct stat st;
                (void) snprintf(vfio, sizeof(vfio), "/dev/vfio/%d", group);
                if (stat(vfio, &st) >= 0 && S_ISCHR(st.st_mode)) {
                        if (GREEDY_REALLOC(devs, n + 1) < 0)
                                return -ENOMEM;
                        devs[n++] = st.st_rdev;
                }
        }
        proc = opendir(iom_proc_root());
        if (!proc)
                return negative_errno();
        while (n > 0 && (e = readdir(proc))) {
                _cleanup_free_ char *piddir = NULL, *fds = NULL, *comm = NULL;

                if (e->d_name[0] < '1' || e->d_name[0] > '9')
                        continue;
                if (asprintf(&piddir, "%s/%s", iom_proc_root(), e->d_name) < 0 ||
                    asprintf(&fds, "%s/fd", piddir) < 0)
                        return -ENOMEM;
                if (!holds_one_of(fds, devs, n))
                        continue;
                (void) iom_sysfs_read_string(piddir, "comm", &comm);
                char *grown = realloc(text, len + strlen(strempty(comm)) + strlen(e->d_name) + 16);
                if (!grown)
                        return -ENOMEM;
                text = grown;
                len += (size_t) sprintf(text + len, "%s%s (pid %s)", len ? ", " : "",
                                        comm ? comm : "?", e->d_name);
        }
        *ret = TAKE_PTR(text);
        return 0;
}
