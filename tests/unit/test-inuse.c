/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* In-use detection on fake hosts: a sysfs tree shown through umockdev's preload, and a
 * directory standing for /proc ($IOMMUD_PROC_ROOT). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture-sysfs.h"
#include "iom-inuse.h"
#include "macro.h"
#include "tests.h"

#define NVME0 "sys/devices/pci0000:00/0000:01:00.0/nvme/nvme0/nvme0n1"
#define NVME1 "sys/devices/pci0000:00/0000:02:00.0/nvme/nvme1/nvme1n1"

/* The fake host's root, a fresh one per test. */
static char *root;

/* A block device at @dir (below the root) in /sys/class/block and /sys/dev/block. */
static void block(const char *dir, const char *devnum) {
        _cleanup_free_ char *class = NULL, *dev = NULL;

        fixture_put(root, devnum, "%s/dev", dir);
        if (asprintf(&class, "sys/class/block/%s", strrchr(dir, '/') + 1) < 0 ||
            asprintf(&dev, "sys/dev/block/%s", devnum) < 0)
                abort();
        fixture_link(root, dir, class);
        fixture_link(root, dir, dev);
}

/* A network interface at @dir with @flags (0x1003: up). */
static void interface(const char *dir, const char *flags) {
        _cleanup_free_ char *class = NULL;

        fixture_put(root, flags, "%s/flags", dir);
        if (asprintf(&class, "sys/class/net/%s", strrchr(dir, '/') + 1) < 0)
                abort();
        fixture_link(root, dir, class);
}

/* Removes the fake host that @r (the root) stands for. */
static void fixture_done(char **r) {
        if (!*r)
                return;
        fixture_remove(*r);
        root = *r = mfree(*r);
}

/* A host with two NVMe controllers (01:00.0: nvme0n1 with three partitions; 02:00.0: nvme1n1)
 * and three NICs (03:00.0 enp3s0, 04:00.0 enp4s0, 05:00.0 enp5s0), nothing in use. Device
 * numbers are far from any real node, so that no probe reaches the machine's own /dev. */
static char *fixture(void) {
        static const char *pci[] = {"0000:01:00.0", "0000:02:00.0", "0000:03:00.0", "0000:04:00.0",
                                    "0000:05:00.0"};
        _cleanup_free_ char *proc = NULL;

        root = fixture_mkdtemp("test-inuse");
        for (size_t i = 0; i < ELEMENTSOF(pci); i++) {
                _cleanup_free_ char *dir = NULL, *link = NULL;
                if (asprintf(&dir, "sys/devices/pci0000:00/%s", pci[i]) < 0 ||
                    asprintf(&link, "sys/bus/pci/devices/%s", pci[i]) < 0)
                        abort();
                fixture_put(root, "0x010802\n", "%s/class", dir);
                fixture_link(root, dir, link);
        }
        block(NVME0, "259:900");
        for (int p = 1; p <= 3; p++) {
                _cleanup_free_ char *dir = NULL, *devnum = NULL;
                if (asprintf(&dir, NVME0 "/nvme0n1p%d", p) < 0 ||
                    asprintf(&devnum, "259:90%d", p) < 0)
                        abort();
                block(dir, devnum);
                fixture_put(root, "1\n", "%s/partition", dir);
        }
        block(NVME1, "259:910");
        interface("sys/devices/pci0000:00/0000:03:00.0/net/enp3s0", "0x1003");
        interface("sys/devices/pci0000:00/0000:04:00.0/net/enp4s0", "0x1003");
        interface("sys/devices/pci0000:00/0000:05:00.0/net/enp5s0", "0x1003");

        fixture_put(root, "22 1 259:902 / / rw - ext4 /dev/nvme0n1p2 rw\n", "proc/self/mountinfo");
        fixture_link(root, "@mnt:[4026531841]", "proc/self/ns/mnt");
        fixture_put(root, "Filename\tType\tSize\tUsed\tPriority\n", "proc/swaps");
        fixture_put(root, "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n",
                    "proc/net/route");
        if (asprintf(&proc, "%s/proc", root) < 0 || setenv("IOMMUD_PROC_ROOT", proc, 1) < 0 ||
            setenv("UMOCKDEV_DIR", root, 1) < 0)
                abort();
        return root;
}

/* The host's uses behind @address; aborts when the scan fails. */
static char **scan(const char *address) {
        struct iom_address a;
        char **uses;
        int r;

        if (iom_address_parse(address, &a, NULL) < 0)
                abort();
        r = iom_inuse_scan(&a, &uses);
        if (r < 0) {
                fprintf(stderr, "scanning %s: %s (is libumockdev-preload in LD_PRELOAD?)\n",
                        address, strerror(-r));
                abort();
        }
        for (char **u = uses; *u; u++)
                fprintf(stderr, "# %s: %s\n", address, *u);
        return uses;
}

static size_t count(char **l) {
        size_t n = 0;

        while (l[n])
                n++;
        return n;
}

static void test_ext4_by_devnum(void) {
        _cleanup_(fixture_done) char *f = fixture();
        _cleanup_strv_free_ char **uses = NULL;

        /* "/dev/root" names no node: the device number alone tells. */
        fixture_put(root, "22 1 259:902 / / rw - ext4 /dev/root rw\n", "proc/self/mountinfo");
        uses = scan("0000:01:00.0");
        ASSERT_EQ(count(uses), 1);
        ASSERT_STREQ(uses[0], "nvme0n1p2 is mounted at /");
}

static void test_btrfs_by_source(void) {
        _cleanup_(fixture_done) char *f = fixture();
        _cleanup_strv_free_ char **uses = NULL;

        fixture_put(root,
                    "22 1 0:45 /@ / rw - btrfs /dev/nvme0n1p2 rw,ssd\n"
                    "23 22 0:46 /@home /my\\040home rw - btrfs /dev/disk/by-uuid/f00d rw,ssd\n",
                    "proc/self/mountinfo");
        fixture_put(root, "", "dev/nvme0n1p2");
        fixture_link(root, "dev/nvme0n1p2", "dev/disk/by-uuid/f00d");
        uses = scan("0000:01:00.0");
        ASSERT_EQ(count(uses), 2);
        ASSERT_STREQ(uses[0], "nvme0n1p2 is mounted at /");
        ASSERT_STREQ(uses[1], "nvme0n1p2 is mounted at /my home");
}

static void test_bcachefs_sources(void) {
        _cleanup_(fixture_done) char *f = fixture();
        _cleanup_strv_free_ char **uses = NULL;

        fixture_put(root, "22 1 0:50 / /pool rw - bcachefs /dev/nvme1n1:/dev/nvme0n1p3 rw\n",
                    "proc/self/mountinfo");
        uses = scan("0000:01:00.0");
        ASSERT_EQ(count(uses), 1);
        ASSERT_STREQ(uses[0], "nvme0n1p3 is mounted at /pool");
}

static void test_btrfs_multi_device(void) {
        _cleanup_(fixture_done) char *f = fixture();
        _cleanup_strv_free_ char **uses = NULL;

        fixture_put(root, "22 1 0:45 / /data rw - btrfs /dev/nvme0n1p1 rw\n",
                    "proc/self/mountinfo");
        fixture_link(root, NVME0 "/nvme0n1p1", "sys/fs/btrfs/0b5e/devices/nvme0n1p1");
        fixture_link(root, NVME1, "sys/fs/btrfs/0b5e/devices/nvme1n1");
        uses = scan("0000:02:00.0");
        ASSERT_EQ(count(uses), 1);
        ASSERT_STREQ(uses[0], "nvme1n1 (with nvme0n1p1 in one btrfs filesystem) is mounted at "
                              "/data");
}

static void test_other_namespace(void) {
        _cleanup_(fixture_done) char *f = fixture();
        _cleanup_strv_free_ char **uses = NULL, **root_disk = NULL;
        const char *prefix = "nvme0n1p1 is mounted at /data in the mount namespace of PID 123";

        /* PID 1 shares our namespace; 1234 and 1235 share another, read once. */
        fixture_link(root, "@mnt:[4026531841]", "proc/1/ns/mnt");
        fixture_put(root, "systemd\n", "proc/1/comm");
        for (int pid = 1234; pid <= 1235; pid++) {
                _cleanup_free_ char *ns = NULL, *comm = NULL, *mountinfo = NULL;
                if (asprintf(&ns, "proc/%d/ns/mnt", pid) < 0 ||
                    asprintf(&comm, "proc/%d/comm", pid) < 0 ||
                    asprintf(&mountinfo, "proc/%d/mountinfo", pid) < 0)
                        abort();
                fixture_link(root, "@mnt:[4026532000]", ns);
                fixture_put(root, "postgres\n", "%s", comm);
                fixture_put(root,
                            "40 39 259:902 / / rw - ext4 /dev/nvme0n1p2 rw\n"
                            "41 40 0:60 / /data rw - btrfs /dev/nvme0n1p1 rw\n",
                            "%s", mountinfo);
        }
        uses = scan("0000:01:00.0");
        ASSERT_EQ(count(uses), 2);
        /* Mounted here too: the other namespace's view of it adds nothing. */
        ASSERT_STREQ(uses[0], "nvme0n1p2 is mounted at /");
        ASSERT_TRUE(strncmp(uses[1], prefix, strlen(prefix)) == 0);
        ASSERT_TRUE(strstr(uses[1], " (postgres)"));
        root_disk = scan("0000:02:00.0");
        ASSERT_EQ(count(root_disk), 0);
}

static void test_swap(void) {
        _cleanup_(fixture_done) char *f = fixture();
        _cleanup_strv_free_ char **uses = NULL;

        fixture_put(
                root,
                "Filename\tType\tSize\tUsed\tPriority\n/dev/nvme0n1p3\tpartition\t1024\t0\t-2\n",
                "proc/swaps");
        uses = scan("0000:01:00.0");
        ASSERT_EQ(count(uses), 2);
        ASSERT_STREQ(uses[0], "nvme0n1p2 is mounted at /");
        ASSERT_STREQ(uses[1], "nvme0n1p3 is used as swap");
}

static void test_dm_holder(void) {
        _cleanup_(fixture_done) char *f = fixture();
        _cleanup_strv_free_ char **uses = NULL;

        block("sys/devices/virtual/block/dm-0", "253:900");
        fixture_put(root, "vg-home\n", "sys/devices/virtual/block/dm-0/dm/name");
        fixture_link(root, "sys/devices/virtual/block/dm-0", NVME1 "/holders/dm-0");
        fixture_put(root, "22 1 253:900 / /home rw - xfs /dev/mapper/vg-home rw\n",
                    "proc/self/mountinfo");
        uses = scan("0000:02:00.0");
        ASSERT_EQ(count(uses), 1);
        ASSERT_STREQ(uses[0], "dm-0 (dm 'vg-home' on nvme1n1) is mounted at /home");
}

static void test_bond_port(void) {
        _cleanup_(fixture_done) char *f = fixture();
        _cleanup_strv_free_ char **uses = NULL;

        interface("sys/devices/virtual/net/bond0", "0x1403");
        fixture_link(root, "sys/devices/virtual/net/bond0",
                     "sys/devices/pci0000:00/0000:03:00.0/net/enp3s0/master");
        fixture_link(root, "sys/devices/virtual/net/bond0",
                     "sys/devices/pci0000:00/0000:03:00.0/net/enp3s0/upper_bond0");
        fixture_put(root,
                    "fe800000000000000000000000000002 05 40 20 80    bond0\n"
                    "20010db8000000000000000000000002 05 40 00 80    bond0\n",
                    "proc/net/if_inet6");
        uses = scan("0000:03:00.0");
        ASSERT_EQ(count(uses), 1);
        ASSERT_STREQ(uses[0], "enp3s0 is a port of bond0, which is up with 2001:db8::2");
}

static void test_bridge_port(void) {
        _cleanup_(fixture_done) char *f = fixture();
        _cleanup_strv_free_ char **uses = NULL, **vlan = NULL;

        /* enp4s0 is a port of br0, which carries the default route; enp5s0 carries a VLAN
         * that is a port of br0 too. */
        interface("sys/devices/virtual/net/br0", "0x1003");
        interface("sys/devices/virtual/net/enp5s0.7", "0x1003");
        fixture_link(root, "sys/devices/virtual/net/br0",
                     "sys/devices/pci0000:00/0000:04:00.0/net/enp4s0/master");
        fixture_link(root, "sys/devices/virtual/net/br0",
                     "sys/devices/pci0000:00/0000:04:00.0/net/enp4s0/upper_br0");
        fixture_link(root, "sys/devices/virtual/net/enp5s0.7",
                     "sys/devices/pci0000:00/0000:05:00.0/net/enp5s0/upper_enp5s0.7");
        fixture_link(root, "sys/devices/virtual/net/br0",
                     "sys/devices/virtual/net/enp5s0.7/master");
        fixture_put(root,
                    "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
                    "br0\t00000000\t0102000A\t0003\t0\t0\t0\t00000000\n",
                    "proc/net/route");
        uses = scan("0000:04:00.0");
        ASSERT_EQ(count(uses), 1);
        ASSERT_STREQ(uses[0], "enp4s0 is a port of br0, which is up and carries the default "
                              "route");
        vlan = scan("0000:05:00.0");
        ASSERT_EQ(count(vlan), 1);
        ASSERT_STREQ(vlan[0], "enp5s0 is below enp5s0.7, which is a port of br0, which is up "
                              "and carries the default route");
}

static void test_idle(void) {
        _cleanup_(fixture_done) char *f = fixture();
        _cleanup_strv_free_ char **nic = NULL, **down = NULL, **disk = NULL;

        /* Up without an address, or a port of a bridge that is down: nothing runs on it. */
        interface("sys/devices/virtual/net/br1", "0x1002");
        fixture_put(root, "20010db8000000000000000000000009 07 40 00 80 br1\n",
                    "proc/net/if_inet6");
        fixture_link(root, "sys/devices/virtual/net/br1",
                     "sys/devices/pci0000:00/0000:04:00.0/net/enp4s0/master");
        nic = scan("0000:03:00.0");
        ASSERT_EQ(count(nic), 0);
        down = scan("0000:04:00.0");
        ASSERT_EQ(count(down), 0);
        disk = scan("0000:02:00.0");
        ASSERT_EQ(count(disk), 0);
}

IOM_TEST_MAIN(IOM_TEST(test_ext4_by_devnum), IOM_TEST(test_btrfs_by_source),
              IOM_TEST(test_bcachefs_sources), IOM_TEST(test_btrfs_multi_device),
              IOM_TEST(test_other_namespace), IOM_TEST(test_swap), IOM_TEST(test_dm_holder),
              IOM_TEST(test_bond_port), IOM_TEST(test_bridge_port), IOM_TEST(test_idle))
