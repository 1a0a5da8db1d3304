/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading sysfs attributes on a fake tree: whole files and their bound, strings, numbers,
 * link targets, binary attributes, the procfs root. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixture-sysfs.h"
#include "iom-sysfs.h"
#include "tests.h"

#define DEV "sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0"

/* The fake tree's root, a fresh one per test. */
static char *root;

static void fixture_done(char **r) {
        fixture_remove(*r);
        root = *r = mfree(*r);
}

/* A device directory with a driver link, a group link, a few attributes and a 64-byte config
 * space whose byte N is N. */
static char *fixture(void) {
        char config[65];

        root = fixture_mkdtemp("test-sysfs");
        fixture_put(root, "0x8086\n", DEV "/vendor");
        fixture_put(root, "-1\n", DEV "/numa_node");
        fixture_put(root, "flr bus\n\n", DEV "/reset_method");
        fixture_put(root, "", DEV "/driver_override");
        fixture_link(root, "sys/bus/pci/drivers/e1000e", DEV "/driver");
        fixture_link(root, "sys/kernel/iommu_groups/12", DEV "/iommu_group");
        for (int i = 0; i < 64; i++)
                config[i] = (char) (i + 1); /* no NUL inside: fixture_put writes a string */
        config[64] = '\0';
        fixture_put(root, config, DEV "/config");
        return root;
}

/* The device directory as an absolute path. */
static char *dev(void) {
        char *d;

        if (asprintf(&d, "%s/" DEV, root) < 0)
                abort();
        return d;
}

/* A file of @size bytes 'x' named @name in the device directory. */
static void put_size(const char *name, size_t size) {
        _cleanup_free_ char *content = malloc(size + 1);

        if (!content)
                abort();
        memset(content, 'x', size);
        content[size] = '\0';
        fixture_put(root, content, DEV "/%s", name);
}

static void test_read_file_bound(void) {
        _cleanup_(fixture_done) char *f = fixture();
        _cleanup_free_ char *d = dev(), *path = NULL, *exact = NULL, *empty = NULL;
        char *over = NULL;

        put_size("sixteen", 16);
        if (asprintf(&path, "%s/sixteen", d) < 0)
                abort();
        /* Exactly @max_size bytes fit; one byte less is too small. */
        ASSERT_EQ(iom_read_file(path, 16, &exact, NULL), 0);
        ASSERT_EQ(strlen(exact), 16);
        ASSERT_EQ(iom_read_file(path, 15, &over, NULL), -EFBIG);
        ASSERT_TRUE(over == NULL);
        free(path);
        if (asprintf(&path, "%s/driver_override", d) < 0)
                abort();
        ASSERT_EQ(iom_read_file(path, 16, &empty, NULL), 0);
        ASSERT_STREQ(empty, "");
}

static void test_read_file_errors(void) {
        _cleanup_(fixture_done) char *f = fixture();
        _cleanup_free_ char *d = dev(), *missing = NULL, *fifo = NULL;
        char *s = NULL;

        if (asprintf(&missing, "%s/no-such-attribute", d) < 0)
                abort();
        ASSERT_EQ(iom_read_file(missing, 16, &s, NULL), -ENOENT);
        ASSERT_EQ(iom_read_file(d, 16, &s, NULL), -EISDIR);
        /* A FIFO without a writer: refused at once, not waited on. */
        if (asprintf(&fifo, "%s/fifo", d) < 0 || mkfifo(fifo, 0600) < 0)
                abort();
        ASSERT_EQ(iom_read_file(fifo, 16, &s, NULL), -EBADFD);
        ASSERT_TRUE(s == NULL);
}

/* What reading one attribute gives: its text, or the errno with nothing written. */
struct read_case {
        const char *name, *text;
        int result;
};

static void check_reads(int (*read)(const char *dir, const char *name, char **ret),
                        const struct read_case *cases, size_t n) {
        _cleanup_free_ char *d = dev();

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *text = NULL;

                fprintf(stderr, "# %s\n", cases[i].name);
                ASSERT_EQ(read(d, cases[i].name, &text), cases[i].result);
                if (cases[i].result < 0)
                        ASSERT_TRUE(text == NULL);
                else
                        ASSERT_STREQ(text, cases[i].text);
        }
}

static void test_read_string(void) {
        static const struct read_case cases[] = {
                {"vendor", "0x8086", 0},
                {"reset_method", "flr bus", 0}, /* every trailing newline goes */
                {"lines", "a\nb", 0},           /* inner ones stay */
                {"driver_override", "", 0},
                {"sriov_numvfs", NULL, -ENOENT},
        };
        _cleanup_(fixture_done) char *f = fixture();

        fixture_put(root, "a\nb\n", DEV "/lines");
        check_reads(iom_sysfs_read_string, cases, ELEMENTSOF(cases));
}

static void test_read_string_bound(void) {
        _cleanup_(fixture_done) char *f = fixture();
        _cleanup_free_ char *d = dev(), *fits = NULL;
        char *over = NULL;

        /* An attribute is at most 64 KiB (a sysfs page is 4 KiB; binary ones are not read
         * this way). */
        put_size("big", 64 * 1024);
        ASSERT_EQ(iom_sysfs_read_string(d, "big", &fits), 0);
        ASSERT_EQ(strlen(fits), 64 * 1024);
        put_size("bigger", 64 * 1024 + 1);
        ASSERT_EQ(iom_sysfs_read_string(d, "bigger", &over), -EFBIG);
        ASSERT_TRUE(over == NULL);
}

static void test_read_int64(void) {
        static const struct {
                const char *text;
                int result;
                int64_t value;
        } cases[] = {
                {"0x8086\n", 0, 0x8086},
                {"-1\n", 0, -1},
                {"12", 0, 12},
                {"017\n", 0, 15}, /* C notation: a leading 0 is octal */
                {"9223372036854775807\n", 0, INT64_MAX},
                {"9223372036854775808\n", -EINVAL, 0}, /* out of range */
                {"12abc\n", -EINVAL, 0},
                {"12 \n", -EINVAL, 0},
                {"\n", -EINVAL, 0},
                {"", -EINVAL, 0},
                {"0x\n", -EINVAL, 0},
        };
        _cleanup_(fixture_done) char *f = fixture();
        _cleanup_free_ char *d = dev();
        int64_t v;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                v = 4242;
                fixture_put(root, cases[i].text, DEV "/number");
                fprintf(stderr, "# '%s'\n", cases[i].text);
                ASSERT_EQ(iom_sysfs_read_int64(d, "number", &v), cases[i].result);
                /* Written only on success. */
                ASSERT_EQ(v, cases[i].result == 0 ? cases[i].value : 4242);
        }
        ASSERT_EQ(iom_sysfs_read_int64(d, "missing", &v), -ENOENT);
}

static void test_read_link_name(void) {
        static const struct read_case cases[] = {
                {"driver", "e1000e", 0},   {"iommu_group", "12", 0},
                {"plain", "vfio-pci", 0}, /* a target without a slash is its own last element */
                {"physfn", NULL, -ENOENT}, {"vendor", NULL, -EINVAL}, /* not a link */
        };
        _cleanup_(fixture_done) char *f = fixture();

        fixture_link(root, "@vfio-pci", DEV "/plain");
        check_reads(iom_sysfs_read_link_name, cases, ELEMENTSOF(cases));
}

static void test_read_binary(void) {
        _cleanup_(fixture_done) char *f = fixture();
        _cleanup_free_ char *d = dev();
        uint8_t buf[8];

        ASSERT_EQ(iom_sysfs_read_binary(d, "config", 0x0e, buf, 1), 1);
        ASSERT_EQ(buf[0], 0x0f);
        ASSERT_EQ(iom_sysfs_read_binary(d, "config", 0, buf, 2), 2);
        ASSERT_EQ(buf[0], 1);
        ASSERT_EQ(buf[1], 2);
        /* A read across the end is short; one past it reads nothing. */
        ASSERT_EQ(iom_sysfs_read_binary(d, "config", 60, buf, 8), 4);
        ASSERT_EQ(buf[0], 61);
        ASSERT_EQ(buf[3], 64);
        ASSERT_EQ(iom_sysfs_read_binary(d, "config", 64, buf, 8), 0);
        ASSERT_EQ(iom_sysfs_read_binary(d, "no-config", 0, buf, 1), -ENOENT);
}

static void test_proc_root(void) {
        ASSERT_EQ(unsetenv("IOMMUD_PROC_ROOT"), 0);
        ASSERT_STREQ(iom_proc_root(), "/proc");
        ASSERT_EQ(setenv("IOMMUD_PROC_ROOT", "", 1), 0);
        ASSERT_STREQ(iom_proc_root(), "/proc");
        ASSERT_EQ(setenv("IOMMUD_PROC_ROOT", "/tmp/replay/proc", 1), 0);
        ASSERT_STREQ(iom_proc_root(), "/tmp/replay/proc");
        ASSERT_EQ(unsetenv("IOMMUD_PROC_ROOT"), 0);
}

IOM_TEST_MAIN(IOM_TEST(test_read_file_bound), IOM_TEST(test_read_file_errors),
              IOM_TEST(test_read_string), IOM_TEST(test_read_string_bound),
              IOM_TEST(test_read_int64), IOM_TEST(test_read_link_name), IOM_TEST(test_read_binary),
              IOM_TEST(test_proc_root))
