/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* In-use detection: block devices (mounts, swap, holders), network interfaces, the console's
 * framebuffer and input devices found below a PCI device in sysfs. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "iom-inuse.h"
#include "iom-log.h"
#include "iom-strv.h"
#include "iom-sysfs.h"
#include "macro.h"

_printf_(2, 0) static int add_usev(struct iom_strv *u, const char *format, va_list ap) {
        char *s;

        if (vasprintf(&s, format, ap) < 0)
                return -ENOMEM;
        if (iom_strv_contains(u->v, s)) { /* the same use reached twice (a shared holder) */
                free(s);
                return 0;
        }
        return iom_strv_push(u, s);
}

_printf_(2, 3) static int add_use(struct iom_strv *u, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = add_usev(u, format, ap);
        va_end(ap);
        return r;
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
                           int (*found)(const char *dir, const char *name, void *userdata),
                           void *userdata) {
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
                int r = found(real, e->d_name, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- block devices ---- */

/* How many mount namespaces besides our own are read, one process each. The exclusive-open
 * probe still sees a device mounted in one beyond the cap. */
#define MOUNT_NAMESPACES_MAX 1024U

/* How deep holders stack (a partition under md under dm-crypt under LVM). */
#define HOLDER_DEPTH_MAX 4

/* A block device behind the PCI device, or a holder (dm, md) stacked on one. */
struct blockdev {
        char *name; /* the kernel's name, "nvme0n1p2" */
        char *via;  /* " (dm 'vg-home' on nvme0n1p3)" for a holder, else NULL */
        char *dir;
        dev_t devnum;
        bool has_devnum;
        bool partition;
        char **btrfs; /* every device of its btrfs filesystem, itself included, or NULL */
        size_t root;  /* the device behind the PCI device it stands on (itself when direct) */
        bool used;    /* on a root: a use was found on it or on its holders */
        bool here;    /* mounted in our own mount namespace */
};

struct blockdevs {
        struct blockdev *v;
        size_t n;
};

static void blockdevs_done(struct blockdevs *bs) {
        for (size_t i = 0; i < bs->n; i++) {
                free(bs->v[i].name);
                free(bs->v[i].via);
                free(bs->v[i].dir);
                strv_free(bs->v[i].btrfs);
        }
        free(bs->v);
}

_printf_(4, 5) static int block_use(struct blockdevs *bs, size_t i, struct iom_strv *u,
                                    const char *format, ...) {
        va_list ap;
        int r;

        bs->v[bs->v[i].root].used = true;
        va_start(ap, format);
        r = add_usev(u, format, ap);
        va_end(ap);
        return r;
}

/* The devices of the btrfs filesystem that @name belongs to, which sysfs lists in
 * /sys/fs/btrfs/<uuid>/devices/ (Documentation/ABI/testing/sysfs-fs-btrfs); NULL when @name
 * holds no btrfs. A multi-device btrfs names only one of them as its mount source. */
static int btrfs_members(const char *name, char ***ret) {
        _cleanup_(closedirp) DIR *d = opendir(IOM_SYSFS_ROOT "/fs/btrfs");
        struct dirent *e;

        while (d && (e = readdir(d))) {
                _cleanup_free_ char *devices = NULL, *member = NULL;
                _cleanup_(iom_strv_done) struct iom_strv l = {};
                struct stat st;

                if (e->d_name[0] == '.')
                        continue;
                if (asprintf(&devices, IOM_SYSFS_ROOT "/fs/btrfs/%s/devices", e->d_name) < 0 ||
                    asprintf(&member, "%s/%s", devices, name) < 0)
                        return -ENOMEM;
                if (lstat(member, &st) < 0)
                        continue;
                _cleanup_(closedirp) DIR *m = opendir(devices);
                while (m && (e = readdir(m)))
                        if (e->d_name[0] != '.' && iom_strv_push_copy(&l, e->d_name) < 0)
                                return -ENOMEM;
                *ret = TAKE_PTR(l.v);
                return 0;
        }
        *ret = NULL;
        return 0;
}

/* Adds the block device at @dir and, recursively, what holds it. @root is the index of the
 * device behind the PCI device it stands on, SIZE_MAX for that device itself. */
static int collect_block(struct blockdevs *bs, const char *dir, const char *name, const char *via,
                         size_t root, int depth) {
        _cleanup_free_ char *holders = NULL, *devnum = NULL, *partition = NULL;
        struct blockdev *b;
        size_t i = bs->n;
        unsigned maj, min;
        struct dirent *e;
        int r;

        if (GREEDY_REALLOC(bs->v, bs->n + 1) < 0)
                return -ENOMEM;
        b = &bs->v[bs->n++];
        *b = (struct blockdev){
                .name = strdup(name),
                .via = via ? strdup(via) : NULL,
                .dir = strdup(dir),
                .root = root == SIZE_MAX ? i : root,
        };
        if (!b->name || !b->dir || (via && !b->via))
                return -ENOMEM;
        if (iom_sysfs_read_string(dir, "dev", &devnum) >= 0 &&
            sscanf(devnum, "%u:%u", &maj, &min) == 2) {
                b->devnum = makedev(maj, min);
                b->has_devnum = true;
        }
        b->partition = iom_sysfs_read_string(dir, "partition", &partition) >= 0;
        r = btrfs_members(name, &b->btrfs);
        if (r < 0 || depth == 0)
                return r;

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
                r = collect_block(bs, target, e->d_name, holder_via, bs->v[i].root, depth - 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Every block device behind the device: disks and partitions (the class lists both). */
static int found_block(const char *dir, const char *name, void *userdata) {
        return collect_block(userdata, dir, name, NULL, SIZE_MAX, HOLDER_DEPTH_MAX);
}

/* Undoes mountinfo's and swaps' octal escapes ("\040" for a space), in place. */
static void unescape_octal(char *s) {
        char *w = s;

        for (const char *p = s; *p;)
                if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
                    p[3] >= '0' && p[3] <= '7') {
                        *w++ = (char) ((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
                        p += 4;
                } else
                        *w++ = *p++;
        *w = '\0';
}

/* The kernel's name of the block device that a mount or swap source names: "/dev/nvme0n1p2",
 * "/dev/disk/by-uuid/…", "/dev/mapper/vg-home". NULL for a source outside /dev (a pool, a
 * server, a file): those are never resolved, so no path of the host's is walked. */
static char *source_device_name(const char *source) {
        _cleanup_free_ char *real = NULL, *numbers = NULL, *name = NULL;
        const char *p;
        struct stat st;

        if (strncmp(source, "/dev/", 5) != 0)
                return NULL;
        if (stat(source, &st) >= 0 && S_ISBLK(st.st_mode) &&
            asprintf(&numbers, "%u:%u", major(st.st_rdev), minor(st.st_rdev)) >= 0 &&
            iom_sysfs_read_link_name(IOM_SYSFS_ROOT "/dev/block", numbers, &name) >= 0)
                return TAKE_PTR(name);
        /* No node here (another mount namespace's /dev, or "/dev/root"): its name then. */
        real = realpath(source, NULL);
        p = real ?: source;
        if (strncmp(p, "/dev/", 5) != 0 || strchr(p + 5, '/'))
                return NULL;
        return strdup(p + 5);
}

/* Where the block devices are mounted, from one mount namespace's mountinfo (proc(5)): by the
 * "major:minor" field, or, for btrfs, bcachefs and ZFS whose superblock has an anonymous
 * device number (0:N), by the mount source, one device or several joined with ':'
 * (bcachefs). @where is NULL for our own namespace. */
static int scan_mountinfo(const char *path, const char *where, struct blockdevs *bs,
                          struct iom_strv *u) {
        _cleanup_(fclosep) FILE *f = fopen(path, "re");
        _cleanup_free_ char *line = NULL;
        size_t size = 0;

        while (f && getline(&line, &size, f) > 0) {
                _cleanup_strv_free_ char **names = NULL;
                char *mountpoint, *fstype, *source, *end, *sep, *state = NULL;
                _cleanup_(iom_strv_done) struct iom_strv l = {};
                unsigned maj, min;
                int n = 0, r;

                if (sscanf(line, "%*u %*u %u:%u %*s %n", &maj, &min, &n) != 2 || n == 0)
                        continue;
                mountpoint = line + n;
                end = strchr(mountpoint, ' ');
                sep = end ? strstr(end, " - ") : NULL;
                if (!sep)
                        continue;
                *end = '\0';
                fstype = strtok_r(sep + 3, " \n", &state);
                source = strtok_r(NULL, " \n", &state);
                if (!fstype || !source)
                        continue;
                unescape_octal(mountpoint);
                unescape_octal(source);
                for (char *c = strtok_r(source, ":", &state); c; c = strtok_r(NULL, ":", &state)) {
                        char *name = source_device_name(c);
                        if (name && iom_strv_push(&l, name) < 0)
                                return -ENOMEM;
                }
                names = TAKE_PTR(l.v);

                for (size_t i = 0; i < bs->n; i++) {
                        struct blockdev *b = &bs->v[i];
                        const char *sibling = NULL;

                        if (where && b->here)
                                continue; /* mounted here too: that says enough */
                        if (!(b->has_devnum && makedev(maj, min) == b->devnum) &&
                            !iom_strv_contains(names, b->name)) {
                                for (char **s = names; !sibling && s && *s; s++)
                                        if (streq(fstype, "btrfs") &&
                                            iom_strv_contains(b->btrfs, *s))
                                                sibling = *s;
                                if (!sibling)
                                        continue;
                        }
                        b->here = b->here || !where;
                        r = block_use(bs, i, u, "%s%s%s%s%s is mounted at %s%s", b->name,
                                      strempty(b->via), sibling ? " (with " : "", strempty(sibling),
                                      sibling ? " in one btrfs filesystem)" : "", mountpoint,
                                      strempty(where));
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int scan_swaps(struct blockdevs *bs, struct iom_strv *u) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        size_t size = 0;

        if (asprintf(&path, "%s/swaps", iom_proc_root()) < 0)
                return -ENOMEM;
        f = fopen(path, "re");
        while (f && getline(&line, &size, f) > 0) {
                _cleanup_free_ char *name = NULL;

                line[strcspn(line, " \t\n")] = '\0';
                unescape_octal(line);
                name = source_device_name(line);
                for (size_t i = 0; name && i < bs->n; i++) {
                        if (!streq(name, bs->v[i].name))
                                continue;
                        int r = block_use(bs, i, u, "%s%s is used as swap", name,
                                          strempty(bs->v[i].via));
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* The mount namespace of @pid ("self" too) as its inode number, 0 when unreadable. */
static uint64_t mount_namespace(const char *pid) {
        _cleanup_free_ char *path = NULL;
        char target[64];
        uint64_t ino;
        ssize_t n;

        if (asprintf(&path, "%s/%s/ns/mnt", iom_proc_root(), pid) < 0)
                return 0;
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
                return 0;
        target[n] = '\0';
        return sscanf(target, "mnt:[%" SCNu64 "]", &ino) == 1 ? ino : 0;
}

/* Mounts in other mount namespaces (containers, units with PrivateMounts=): each distinct
 * namespace is read once, through the first process found in it, so the cost grows with the
 * number of processes plus the mount tables read, and at most MOUNT_NAMESPACES_MAX of them. */
static int scan_other_namespaces(struct blockdevs *bs, struct iom_strv *u) {
        uint64_t own = mount_namespace("self"), seen[MOUNT_NAMESPACES_MAX];
        _cleanup_(closedirp) DIR *d = opendir(iom_proc_root());
        size_t n_seen = 0;
        struct dirent *e;

        while (d && (e = readdir(d))) {
                _cleanup_free_ char *piddir = NULL, *comm = NULL, *where = NULL, *path = NULL;
                size_t at;
                uint64_t ns;
                int r;

                if (e->d_name[strspn(e->d_name, "0123456789")] != '\0')
                        continue;
                ns = mount_namespace(e->d_name);
                if (ns == 0 || ns == own)
                        continue;
                /* seen[] stays sorted: a binary search keeps this linear */
                at = sorted_position(seen, n_seen, sizeof(*seen), &ns, compare_u64);
                if (at < n_seen && seen[at] == ns)
                        continue;
                if (n_seen == MOUNT_NAMESPACES_MAX) {
                        iom_debug("More than %u mount namespaces, ignoring the rest",
                                  MOUNT_NAMESPACES_MAX);
                        break;
                }
                memmove(seen + at + 1, seen + at, (n_seen++ - at) * sizeof(seen[0]));
                seen[at] = ns;

                if (asprintf(&piddir, "%s/%s", iom_proc_root(), e->d_name) < 0 ||
                    asprintf(&path, "%s/mountinfo", piddir) < 0)
                        return -ENOMEM;
                (void) iom_sysfs_read_string(piddir, "comm", &comm);
                if (asprintf(&where, " in the mount namespace of PID %s (%s)", e->d_name,
                             comm ?: "gone") < 0)
                        return -ENOMEM;
                r = scan_mountinfo(path, where, bs, u);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Whether the kernel holds @b's block node exclusively: a mounted filesystem, md, dm, ZFS
 * and btrfs claim their devices, and an O_EXCL open of a claimed block device fails with
 * EBUSY (open(2)). Only a real node of that very device is probed, and closed at once: the
 * probe's own claim lasts a moment. */
static bool held_exclusively(const struct blockdev *b) {
        _cleanup_free_ char *node = NULL;
        struct stat st;
        int fd;

        if (!b->has_devnum || asprintf(&node, "/dev/%s", b->name) < 0)
                return false;
        if (stat(node, &st) < 0 || !S_ISBLK(st.st_mode) || st.st_rdev != b->devnum)
                return false;
        fd = open(node, O_RDONLY | O_EXCL | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd >= 0) {
                (void) close(fd);
                return false;
        }
        return errno == EBUSY;
}

/* Whether a partition of the whole disk @disk is in use: its claim makes the disk busy too. */
static bool partition_used(const struct blockdevs *bs, const struct blockdev *disk) {
        size_t n = strlen(disk->dir);

        for (size_t i = 0; i < bs->n; i++)
                if (bs->v[i].partition && bs->v[i].used &&
                    strncmp(bs->v[i].dir, disk->dir, n) == 0 && bs->v[i].dir[n] == '/')
                        return true;
        return false;
}

/* The last line of defence, for what the tables above cannot name (a ZFS pool, a mount
 * beyond the namespace cap, a source that no longer resolves): partitions first, so that a
 * disk is only blamed for a claim that none of its partitions explains. */
static int probe_exclusive(struct blockdevs *bs, struct iom_strv *u) {
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < bs->n; i++) {
                        struct blockdev *b = &bs->v[i];
                        int r;

                        if (b->root != i || b->used || b->partition != (pass == 0) ||
                            (pass == 1 && partition_used(bs, b)) || !held_exclusively(b))
                                continue;
                        r = block_use(bs, i, u,
                                      "%s is held open exclusively (by a filesystem, a volume "
                                      "manager or a program)",
                                      b->name);
                        if (r < 0)
                                return r;
                }
        return 0;
}

static int check_blocks(const char *pci_real, struct iom_strv *u) {
        _cleanup_free_ char *mountinfo = NULL;
        struct blockdevs bs = {};
        int r;

        r = for_each_behind("block", pci_real, found_block, &bs);
        if (r >= 0 && bs.n > 0) {
                if (asprintf(&mountinfo, "%s/self/mountinfo", iom_proc_root()) < 0)
                        r = -ENOMEM;
                if (r >= 0)
                        r = scan_mountinfo(mountinfo, NULL, &bs, u);
                if (r >= 0)
                        r = scan_swaps(&bs, u);
                if (r >= 0)
                        r = scan_other_namespaces(&bs, u);
                if (r >= 0)
                        r = probe_exclusive(&bs, u);
        }
        blockdevs_done(&bs);
        return r;
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

/* The addresses of @ifname joined with ", ", NULL when it has none: IPv4 from the kernel
 * (getifaddrs), IPv6 from $IOMMUD_PROC_ROOT/net/if_inet6 (link-local ones do not count), so
 * that a recorded host replays its IPv6 side. */
static int interface_addresses(const char *ifname, char **ret) {
        _cleanup_(iom_strv_done) struct iom_strv addrs = {};
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        struct ifaddrs *list = NULL;
        char text[INET6_ADDRSTRLEN];
        size_t size = 0;
        int r = 0;

        if (getifaddrs(&list) >= 0) {
                for (struct ifaddrs *i = list; r >= 0 && i; i = i->ifa_next)
                        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
                            streq(i->ifa_name, ifname) &&
                            inet_ntop(AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr,
                                      text, sizeof(text)))
                                r = iom_strv_push_copy(&addrs, text);
                freeifaddrs(list);
                if (r < 0)
                        return r;
        }
        /* "20010db8000000000000000000000001 02 40 00 80 eth0": address, index, prefix length,
         * scope (0x20 link), flags, name. */
        if (asprintf(&path, "%s/net/if_inet6", iom_proc_root()) < 0)
                return -ENOMEM;
        f = fopen(path, "re");
        while (f && getline(&line, &size, f) > 0) {
                char hex[33], name[IFNAMSIZ + 1];
                struct in6_addr a;
                unsigned scope;

                if (sscanf(line, "%32[0-9a-fA-F] %*x %*x %x %*x %16s", hex, &scope, name) != 3 ||
                    strlen(hex) != 32 || scope == 0x20 || !streq(name, ifname))
                        continue;
                for (size_t k = 0; k < 16; k++)
                        (void) sscanf(hex + 2 * k, "%2hhx", &a.s6_addr[k]);
                if (inet_ntop(AF_INET6, &a, text, sizeof(text))) {
                        r = iom_strv_push_copy(&addrs, text);
                        if (r < 0)
                                return r;
                }
        }
        if (!addrs.v) {
                *ret = NULL;
                return 0;
        }
        *ret = iom_strv_join(addrs.v, ", ");
        return *ret ? 0 : -ENOMEM;
}

static int check_upper(const char *subject, const char *relation, const char *upper, int depth,
                       struct iom_strv *u);

/* Whether @ifname, which @subject stands for, is up with addresses or the default route; if
 * not, the same for the devices stacked on it (its bridge, bond or team master, VLANs and
 * macvlans: the "master" and "upper_*" links), which reach the network through it. */
static int check_interface(const char *ifname, const char *subject, int depth, struct iom_strv *u) {
        _cleanup_free_ char *dir = NULL, *flags_text = NULL, *addrs = NULL, *master = NULL;
        struct dirent *e;
        bool route;
        int r;

        if (asprintf(&dir, IOM_SYSFS_ROOT "/class/net/%s", ifname) < 0)
                return -ENOMEM;
        if (iom_sysfs_read_string(dir, "flags", &flags_text) < 0 ||
            !(strtoul(flags_text, NULL, 0) & IFF_UP))
                return 0;
        r = interface_addresses(ifname, &addrs);
        if (r < 0)
                return r;
        route = carries_default_route(ifname);
        if (addrs || route)
                return add_use(u, "%s is up%s%s%s", subject, addrs ? " with " : "", strempty(addrs),
                               route ? " and carries the default route" : "");
        if (depth == 0)
                return 0; /* up without addresses or routes: nothing of the host's runs on it */

        if (iom_sysfs_read_link_name(dir, "master", &master) >= 0) {
                r = check_upper(subject, "a port of", master, depth, u);
                if (r < 0)
                        return r;
        }
        _cleanup_(closedirp) DIR *d = opendir(dir);
        while (d && (e = readdir(d))) {
                /* The master has its upper_ link too: it was checked above. */
                if (strncmp(e->d_name, "upper_", 6) != 0 ||
                    (master && streq(e->d_name + 6, master)))
                        continue;
                r = check_upper(subject, "below", e->d_name + 6, depth, u);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check_upper(const char *subject, const char *relation, const char *upper, int depth,
                       struct iom_strv *u) {
        _cleanup_free_ char *stacked = NULL;

        if (asprintf(&stacked, "%s is %s %s, which", subject, relation, upper) < 0)
                return -ENOMEM;
        return check_interface(upper, stacked, depth - 1, u);
}

static int found_net(const char *dir, const char *name, void *userdata) {
        return check_interface(name, name, 4, userdata);
}

/* ---- console and input ---- */

static int found_graphics(const char *dir, const char *name, void *userdata) {
        struct iom_strv *u = userdata;
        struct stat st;

        /* fbcon draws on the framebuffers it is bound to; with fbcon registered, a
         * framebuffer of this device carries the console. */
        if (strncmp(name, "fb", 2) != 0 || streq(name, "fbcon") ||
            stat(IOM_SYSFS_ROOT "/class/graphics/fbcon", &st) < 0)
                return 0;
        return add_use(u, "%s on this device drives the console", name);
}

static int found_input(const char *dir, const char *name, void *userdata) {
        struct iom_strv *u = userdata;
        _cleanup_free_ char *label = NULL;

        if (strncmp(name, "input", 5) != 0)
                return 0;
        (void) iom_sysfs_read_string(dir, "name", &label);
        return add_use(u, "%s%s%s%s is attached", name, label ? " (" : "", strempty(label),
                       label ? ")" : "");
}

/* The firmware's framebuffer (efifb, simpledrm) belongs to a platform device, not the GPU:
 * on the boot VGA device it still scans out of this device's memory. */
static int check_boot_console(const char *dir, struct iom_strv *u) {
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
                int (*found)(const char *dir, const char *name, void *userdata);
        } classes[] = {
                {"net", found_net},
                {"graphics", found_graphics},
                {"input", found_input},
        };
        _cleanup_free_ char *dir = NULL, *real = NULL;
        _cleanup_(iom_strv_done) struct iom_strv u = {};
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
        r = check_blocks(real, &u);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(classes); i++)
                r = for_each_behind(classes[i].class, real, classes[i].found, &u);
        if (r >= 0)
                r = check_boot_console(dir, &u);
        if (r < 0)
                return r;
        *ret_uses = TAKE_PTR(u.v);
        return 0;
}

int iom_inuse_describe(const struct iom_address *a, char **ret) {
        _cleanup_strv_free_ char **uses = NULL;
        int r;

        r = iom_inuse_scan(a, &uses);
        if (r < 0)
                return r;
        if (!uses[0]) {
                *ret = NULL;
                return 0;
        }
        *ret = iom_strv_join(uses, "; ");
        return *ret ? 0 : -ENOMEM;
}
