/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* In-use detection: block devices (mounts, swap, holders), network interfaces, the console's
 * framebuffer and input devices found below a PCI device in sysfs. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "iom-inuse.h"
#include "iom-sysfs.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);
DEFINE_TRIVIAL_CLEANUP_FUNC(FILE *, fclose);

struct uses {
        char **v;
        size_t n;
};

_printf_(2, 3) static int add_use(struct uses *u, const char *format, ...) {
        char **grown, *s;
        va_list ap;
        int n;

        va_start(ap, format);
        n = vasprintf(&s, format, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        for (size_t i = 0; i < u->n; i++)
                if (streq(u->v[i], s)) { /* the same use reached twice (a shared holder) */
                        free(s);
                        return 0;
                }
        grown = realloc(u->v, (u->n + 2) * sizeof(char *));
        if (!grown) {
                free(s);
                return -ENOMEM;
        }
        u->v = grown;
        u->v[u->n++] = s;
        u->v[u->n] = NULL;
        return 0;
}

/* Whether the sysfs device at @real (a resolved path) sits below the PCI device @pci_real. An
 * NVMe namespace with native multipath hangs off a virtual nvme-subsystem instead: it is
 * behind the device when one of the subsystem's controllers is. */
static bool is_behind(const char *real, const char *pci_real) {
        size_t n = strlen(pci_real);
        const char *subsys;

        if (strncmp(real, pci_real, n) == 0 && real[n] == '/')
                return true;
        subsys = strstr(real, "/nvme-subsystem/");
        if (!subsys)
                return false;
        _cleanup_free_ char *dir = strndup(real, (size_t) (strchrnul(subsys + 16, '/') - real));
        _cleanup_(closedirp) DIR *d = dir ? opendir(dir) : NULL;
        struct dirent *e;
        while (d && (e = readdir(d))) {
                _cleanup_free_ char *link = NULL, *target = NULL;
                if (strncmp(e->d_name, "nvme", 4) != 0 || e->d_type != DT_LNK)
                        continue;
                if (asprintf(&link, "%s/%s", dir, e->d_name) < 0)
                        return false;
                target = realpath(link, NULL);
                if (target && strncmp(target, pci_real, n) == 0 && target[n] == '/')
                        return true;
        }
        return false;
}

/* Calls @found for each member of /sys/class/@class that sits behind @pci_real. */
static int for_each_behind(const char *class, const char *pci_real,
                           int (*found)(const char *dir, const char *name, struct uses *u),
                           struct uses *u) {
        _cleanup_free_ char *classdir = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *e;

        if (asprintf(&classdir, IOM_SYSFS_ROOT "/class/%s", class) < 0)
                return -ENOMEM;
        d = opendir(classdir);
        while (d && (e = readdir(d))) {
                _cleanup_free_ char *link = NULL, *real = NULL;

                if (e->d_name[0] == '.')
                        continue;
                if (asprintf(&link, "%s/%s", classdir, e->d_name) < 0)
                        return -ENOMEM;
                real = realpath(link, NULL);
                if (!real || !is_behind(real, pci_real))
                        continue;
                int r = found(real, e->d_name, u);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- block devices ---- */

static int read_devnum(const char *dir, dev_t *ret) {
        _cleanup_free_ char *s = NULL;
        unsigned maj, min;

        if (iom_sysfs_read_string(dir, "dev", &s) < 0 || sscanf(s, "%u:%u", &maj, &min) != 2)
                return -ENOENT;
        *ret = makedev(maj, min);
        return 0;
}

/* Where the block device @devnum is mounted, from mountinfo's "major:minor" field. */
static int check_mounts(const char *name, const char *via, dev_t devnum, struct uses *u) {
        _cleanup_free_ char *path = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        char line[4096];
        int r;

        if (asprintf(&path, "%s/self/mountinfo", iom_proc_root()) < 0)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                unsigned maj, min;
                char mountpoint[2048];

                if (sscanf(line, "%*u %*u %u:%u %*s %2047s", &maj, &min, mountpoint) != 3 ||
                    makedev(maj, min) != devnum)
                        continue;
                r = add_use(u, "%s%s is mounted at %s", name, strempty(via), mountpoint);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check_swaps(const char *name, const char *via, dev_t devnum, struct uses *u) {
        _cleanup_free_ char *path = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        char line[4096];

        if (asprintf(&path, "%s/swaps", iom_proc_root()) < 0)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                char device[2048];
                struct stat st;

                if (sscanf(line, "%2047s", device) != 1 || stat(device, &st) < 0 ||
                    !S_ISBLK(st.st_mode) || st.st_rdev != devnum)
                        continue;
                return add_use(u, "%s%s is used as swap", name, strempty(via));
        }
        return 0;
}

/* A block device, its partitions, and what holds them (dm, md, LVM), recursively. */
static int check_block(const char *dir, const char *name, const char *via, int depth,
                       struct uses *u) {
        _cleanup_free_ char *holders = NULL;
        struct dirent *e;
        dev_t devnum;
        int r;

        if (read_devnum(dir, &devnum) >= 0) {
                r = check_mounts(name, via, devnum, u);
                if (r >= 0)
                        r = check_swaps(name, via, devnum, u);
                if (r < 0)
                        return r;
        }
        if (depth == 0)
                return 0;

        if (asprintf(&holders, "%s/holders", dir) < 0)
                return -ENOMEM;
        _cleanup_(closedirp) DIR *h = opendir(holders);
        while (h && (e = readdir(h))) {
                _cleanup_free_ char *target = NULL, *holder_via = NULL, *dm_name = NULL;

                if (e->d_name[0] == '.')
                        continue;
                if (asprintf(&target, IOM_SYSFS_ROOT "/class/block/%s", e->d_name) < 0)
                        return -ENOMEM;
                (void) iom_sysfs_read_string(target, "dm/name", &dm_name);
                if (asprintf(&holder_via, " (%s%s%s on %s)", dm_name ? "dm '" : "",
                             strempty(dm_name), dm_name ? "'" : "holder", name) < 0)
                        return -ENOMEM;
                r = check_block(target, e->d_name, holder_via, depth - 1, u);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Every block device behind the device: disks and partitions (the class lists both). */
static int found_block(const char *dir, const char *name, struct uses *u) {
        return check_block(dir, name, NULL, 4, u);
}

/* ---- network interfaces ---- */

/* Whether @ifname carries a default route (IPv4 or IPv6), from procfs. */
static bool carries_default_route(const char *ifname) {
        _cleanup_free_ char *v4 = NULL, *v6 = NULL;
        char line[512];
        FILE *f;
        bool found = false;

        if (asprintf(&v4, "%s/net/route", iom_proc_root()) < 0 ||
            asprintf(&v6, "%s/net/ipv6_route", iom_proc_root()) < 0)
                return false;
        if ((f = fopen(v4, "re"))) {
                while (!found && fgets(line, sizeof(line), f)) {
                        char name[64], dest[16], mask[16];
                        if (sscanf(line, "%63s %15s %*s %*s %*s %*s %*s %15s", name, dest, mask) ==
                            3)
                                found = streq(name, ifname) && streq(dest, "00000000") &&
                                        streq(mask, "00000000");
                }
                fclose(f);
        }
        if (!found && (f = fopen(v6, "re"))) {
                while (!found && fgets(line, sizeof(line), f)) {
                        char dest[64], len[8], name[64];
                        if (sscanf(line, "%63s %7s %*s %*s %*s %*s %*s %*s %*s %63s", dest, len,
                                   name) == 3)
                                found = streq(name, ifname) && streq(len, "00") &&
                                        strspn(dest, "0") == strlen(dest);
                }
                fclose(f);
        }
        return found;
}

static int check_interface(const char *ifname, struct uses *u) {
        _cleanup_free_ char *dir = NULL, *flags_text = NULL, *addrs = NULL;
        struct ifaddrs *list = NULL;
        size_t len = 0;
        bool route;
        int r;

        if (asprintf(&dir, IOM_SYSFS_ROOT "/class/net/%s", ifname) < 0)
                return -ENOMEM;
        if (iom_sysfs_read_string(dir, "flags", &flags_text) < 0 ||
            !(strtoul(flags_text, NULL, 0) & IFF_UP))
                return 0;
        if (getifaddrs(&list) >= 0) {
                for (struct ifaddrs *i = list; i; i = i->ifa_next) {
                        char text[INET6_ADDRSTRLEN];
                        const void *src;

                        if (!i->ifa_addr || !streq(i->ifa_name, ifname))
                                continue;
                        if (i->ifa_addr->sa_family == AF_INET)
                                src = &((struct sockaddr_in *) i->ifa_addr)->sin_addr;
                        else if (i->ifa_addr->sa_family == AF_INET6 &&
                                 !IN6_IS_ADDR_LINKLOCAL(
                                         &((struct sockaddr_in6 *) i->ifa_addr)->sin6_addr))
                                src = &((struct sockaddr_in6 *) i->ifa_addr)->sin6_addr;
                        else
                                continue;
                        if (!inet_ntop(i->ifa_addr->sa_family, src, text, sizeof(text)))
                                continue;
                        char *grown = realloc(addrs, len + strlen(text) + 3);
                        if (!grown) {
                                freeifaddrs(list);
                                return -ENOMEM;
                        }
                        addrs = grown;
                        len += (size_t) sprintf(addrs + len, "%s%s", len ? ", " : "", text);
                }
                freeifaddrs(list);
        }
        route = carries_default_route(ifname);
        if (!addrs && !route)
                return 0; /* up without addresses or routes: nothing of the host's runs on it */
        r = add_use(u, "%s is up%s%s%s", ifname, addrs ? " with " : "", strempty(addrs),
                    route ? " and carries the default route" : "");
        return r;
}

static int found_net(const char *dir, const char *name, struct uses *u) {
        return check_interface(name, u);
}

/* ---- console and input ---- */

static int found_graphics(const char *dir, const char *name, struct uses *u) {
        struct stat st;

        /* fbcon draws on the framebuffers it is bound to; with fbcon registered, a
         * framebuffer of this device carries the console. */
        if (strncmp(name, "fb", 2) != 0 || streq(name, "fbcon") ||
            stat(IOM_SYSFS_ROOT "/class/graphics/fbcon", &st) < 0)
                return 0;
        return add_use(u, "%s on this device drives the console", name);
}

static int found_input(const char *dir, const char *name, struct uses *u) {
        _cleanup_free_ char *label = NULL;

        if (strncmp(name, "input", 5) != 0)
                return 0;
        (void) iom_sysfs_read_string(dir, "name", &label);
        return add_use(u, "%s%s%s%s is attached", name, label ? " (" : "", strempty(label),
                       label ? ")" : "");
}

/* The firmware's framebuffer (efifb, simpledrm) belongs to a platform device, not the GPU:
 * on the boot VGA device it still scans out of this device's memory. */
static int check_boot_console(const char *dir, struct uses *u) {
        _cleanup_free_ char *boot_vga = NULL, *fbname = NULL;

        if (iom_sysfs_read_string(dir, "boot_vga", &boot_vga) < 0 || !streq(boot_vga, "1"))
                return 0;
        if (iom_sysfs_read_string(IOM_SYSFS_ROOT "/class/graphics/fb0", "name", &fbname) < 0)
                return 0;
        if (strstr(fbname, "EFI") || strstr(fbname, "simple") || strstr(fbname, "VESA"))
                return add_use(u,
                               "the firmware framebuffer (%s) on this boot VGA device drives "
                               "the console",
                               fbname);
        return 0;
}

int iom_inuse_scan(const struct iom_address *a, char ***ret_uses) {
        static const struct {
                const char *class;
                int (*found)(const char *dir, const char *name, struct uses *u);
        } classes[] = {
                {"block", found_block},
                {"net", found_net},
                {"graphics", found_graphics},
                {"input", found_input},
        };
        _cleanup_free_ char *dir = NULL, *real = NULL;
        struct uses u = {};
        char buf[IOM_ADDRESS_STRING_MAX];
        int r = 0;

        if (!a || !ret_uses)
                return -EINVAL;
        if (asprintf(&dir, IOM_SYSFS_ROOT "/bus/pci/devices/%s", iom_address_format(a, buf)) < 0)
                return -ENOMEM;
        real = realpath(dir, NULL);
        if (!real)
                return negative_errno();
        u.v = calloc(1, sizeof(char *));
        if (!u.v)
                return -ENOMEM;
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(classes); i++)
                r = for_each_behind(classes[i].class, real, classes[i].found, &u);
        if (r >= 0)
                r = check_boot_console(dir, &u);
        if (r < 0) {
                strv_free(u.v);
                return r;
        }
        *ret_uses = u.v;
        return 0;
}

int iom_inuse_describe(const struct iom_address *a, char **ret) {
        _cleanup_strv_free_ char **uses = NULL;
        size_t len = 0;
        char *text;
        int r;

        r = iom_inuse_scan(a, &uses);
        if (r < 0)
                return r;
        if (!uses[0]) {
                *ret = NULL;
                return 0;
        }
        for (char **s = uses; *s; s++)
                len += strlen(*s) + 2;
        text = malloc(len + 1);
        if (!text)
                return -ENOMEM;
        text[0] = '\0';
        for (char **s = uses; *s; s++) {
                if (s != uses)
                        strcat(text, "; ");
                strcat(text, *s);
        }
        *ret = text;
        return 0;
}
