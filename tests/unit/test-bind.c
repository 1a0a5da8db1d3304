/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sysfs operations of rebinding, on the recorded bridge host (tests/hosts/bridge) under
 * umockdev: what each writes where, and the deadlines. A forked "kernel" plays the driver
 * core's reactions (unbind removes the driver link, drivers_probe binds the override); a FIFO
 * plays an unbind that blocks; a script on $PATH plays modprobe. The real kernel's answers are
 * the vm tier's. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture-host.h"
#include "fixture-inventory.h"
#include "fixture-sysfs.h"
#include "iom-bind.h"
#include "iom-sysfs.h"
#include "tests.h"

#define E1000 "sys/devices/pci0000:00/0000:00:04.0/0000:05:01.0" /* bound to e1000, group 3 */
#define USEC 1000000ULL

/* The content of @path below the testbed's root; "(none)" when there is no such file. */
static char *content(const struct fixture_host *h, const char *path) {
        _cleanup_free_ char *full = NULL;
        char *s;

        if (asprintf(&full, "%s/%s", h->root, path) < 0)
                abort();
        if (iom_read_file(full, 4096, &s, NULL) < 0 && !(s = strdup("(none)")))
                abort();
        return s;
}

/* Asserts that a wait of @timeout_usec took at least that long, and not much longer (the
 * backoff sleeps 100 ms at most; the rest is a busy machine's slack). */
#define ASSERT_DEADLINE(start, timeout_usec)                                                       \
        do {                                                                                       \
                uint64_t _took_ = now_usec() - (start);                                            \
                fprintf(stderr, "# took %" PRIu64 " ms\n", _took_ / 1000);                         \
                ASSERT_TRUE(_took_ >= (timeout_usec));                                             \
                ASSERT_TRUE(_took_ < (timeout_usec) + 1500000);                                    \
        } while (0)

static void test_set_override(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("bridge");
        _cleanup_free_ char *set = NULL, *cleared = NULL;
        struct iom_address a = fixture_address("0000:05:01.0"),
                           gone = fixture_address("0000:09:00.0");

        ASSERT_EQ(iom_bind_set_override(&a, "vfio-pci", USEC), 0);
        set = content(h, E1000 "/driver_override");
        ASSERT_STREQ(set, "vfio-pci\n");
        /* Cleared with a newline: some kernels refuse a zero-byte write. */
        fixture_put(h->root, "", E1000 "/driver_override"); /* sysfs takes a whole value */
        ASSERT_EQ(iom_bind_set_override(&a, NULL, USEC), 0);
        cleared = content(h, E1000 "/driver_override");
        ASSERT_STREQ(cleared, "\n");

        ASSERT_EQ(iom_bind_set_override(&a, "", USEC), -EINVAL);
        ASSERT_EQ(iom_bind_set_override(&a, "../vfio-pci", USEC), -EINVAL);
        ASSERT_EQ(iom_bind_set_override(&a, "vfio-pci\nfoo", USEC), -EINVAL);
        ASSERT_EQ(iom_bind_set_override(NULL, "vfio-pci", USEC), -EINVAL);
        /* The writing child's errno comes back. */
        ASSERT_EQ(iom_bind_set_override(&gone, "vfio-pci", USEC), -ENOENT);
}

static void test_get_driver(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("bridge");
        _cleanup_free_ char *bound = NULL;
        char *none = (char *) "unset";
        struct iom_address a = fixture_address("0000:05:01.0"),
                           idle = fixture_address("0000:05:02.0"),
                           gone = fixture_address("0000:09:00.0");

        ASSERT_EQ(iom_bind_get_driver(&a, &bound), 0);
        ASSERT_STREQ(bound, "e1000");
        ASSERT_EQ(iom_bind_get_driver(&idle, &none), 0);
        ASSERT_TRUE(none == NULL);
        ASSERT_EQ(iom_bind_get_driver(&gone, &none), -ENODEV);
        ASSERT_EQ(iom_bind_get_driver(NULL, &none), -EINVAL);
}

static void test_unbind_and_probe(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("bridge");
        _cleanup_free_ char *unbind = NULL, *probe = NULL, *untouched = NULL;
        struct iom_address a = fixture_address("0000:05:01.0"),
                           idle = fixture_address("0000:05:02.0");
        char *holders = (char *) "unset";

        ASSERT_EQ(iom_bind_unbind(&a, USEC, &holders), 0);
        ASSERT_TRUE(holders == NULL);
        unbind = content(h, "sys/bus/pci/drivers/e1000/unbind");
        ASSERT_STREQ(unbind, "0000:05:01.0");
        /* No driver: nothing to unbind, and no write anywhere. */
        fixture_put(h->root, "", "sys/bus/pci/drivers/e1000/unbind");
        ASSERT_EQ(iom_bind_unbind(&idle, USEC, NULL), 0);
        untouched = content(h, "sys/bus/pci/drivers/e1000/unbind");
        ASSERT_STREQ(untouched, "");

        /* drivers_probe takes the address; without the file the write's errno comes back. */
        ASSERT_EQ(iom_bind_probe(&idle, USEC), -ENOENT);
        fixture_put(h->root, "", "sys/bus/pci/drivers_probe");
        ASSERT_EQ(iom_bind_probe(&idle, USEC), 0);
        probe = content(h, "sys/bus/pci/drivers_probe");
        ASSERT_STREQ(probe, "0000:05:02.0");
        ASSERT_EQ(iom_bind_unbind(NULL, USEC, NULL), -EINVAL);
        ASSERT_EQ(iom_bind_probe(NULL, USEC), -EINVAL);
}

static void test_unbind_deadline(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("bridge");
        _cleanup_free_ char *fifo = NULL, *holders = NULL;
        _cleanup_close_ int full = -EBADF;
        struct iom_address a = fixture_address("0000:05:01.0");
        uint64_t start;

        /* An unbind that never returns, blocked in write(2) as the kernel's is: a FIFO whose
         * buffer this test fills and never reads. The device's DRM node is held by a process
         * (its fd is /dev/null's number, 1:3, in the fake /proc): it is named. */
        fixture_unlink(h->root, "sys/bus/pci/drivers/e1000/unbind");
        if (asprintf(&fifo, "%s/sys/bus/pci/drivers/e1000/unbind", h->root) < 0 ||
            mkfifo(fifo, 0600) < 0)
                abort();
        full = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (full < 0)
                abort();
        while (write(full, "0000:05:01.0", 12) > 0)
                ;
        fixture_put(h->root, "1:3\n", E1000 "/drm/card0/dev");
        fixture_put(h->root, "qemu-system-x86\n", "proc/4242/comm");
        fixture_link(h->root, "@/dev/null", "proc/4242/fd/7");
        fixture_put(h->root, "bash\n", "proc/4243/comm");
        fixture_link(h->root, "@/dev/zero", "proc/4243/fd/0");

        start = now_usec();
        ASSERT_EQ(iom_bind_unbind(&a, 300000, &holders), -ETIMEDOUT);
        ASSERT_DEADLINE(start, 300000);
        ASSERT_STREQ(holders, "qemu-system-x86 (pid 4242)");
}

/* Plays the driver core for the devices of the bridge host until killed: a write to a
 * driver's unbind removes the device's driver link, a write to drivers_probe binds the device
 * to the driver its driver_override names, @delay_usec later (a slow driver's probe). */
static pid_t fake_kernel(const struct fixture_host *h, uint64_t delay_usec) {
        pid_t pid = fork();

        if (pid < 0)
                abort();
        if (pid > 0)
                return pid;
        for (;;) {
                _cleanup_free_ char *unbind = content(h, "sys/bus/pci/drivers/e1000/unbind"),
                                    *probe = content(h, "sys/bus/pci/drivers_probe");
                if (streq(unbind, "0000:05:01.0")) {
                        fixture_unlink(h->root, E1000 "/driver");
                        fixture_put(h->root, "", "sys/bus/pci/drivers/e1000/unbind");
                }
                if (streq(probe, "0000:05:01.0")) {
                        _cleanup_free_ char *override = content(h, E1000 "/driver_override"),
                                            *driver = NULL;
                        override[strcspn(override, "\n")] = '\0';
                        (void) usleep(delay_usec);
                        if (asprintf(&driver, "sys/bus/pci/drivers/%s", override) < 0)
                                _exit(1);
                        fixture_link(h->root, driver, E1000 "/driver");
                        fixture_put(h->root, "", "sys/bus/pci/drivers_probe");
                }
                (void) usleep(5000);
        }
}

static void stop(pid_t *pid) {
        if (*pid <= 0)
                return;
        (void) kill(*pid, SIGKILL);
        (void) waitpid(*pid, NULL, 0);
        *pid = 0;
}

static void test_rebind(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("bridge");
        _cleanup_free_ char *driver = NULL;
        struct iom_address a = fixture_address("0000:05:01.0");
        uint64_t start;

        fixture_put(h->root, "", "sys/bus/pci/drivers_probe");
        _cleanup_(stop) pid_t kernel = fake_kernel(h, 200000);
        /* The daemon's sequence; the driver appears 200 ms after the probe. */
        ASSERT_EQ(iom_bind_set_override(&a, "vfio-pci", USEC), 0);
        ASSERT_EQ(iom_bind_unbind(&a, USEC, NULL), 0);
        ASSERT_EQ(iom_bind_probe(&a, USEC), 0);
        start = now_usec();
        ASSERT_EQ(iom_bind_wait_driver(&a, "vfio-pci", 5 * USEC), 0);
        fprintf(stderr, "# bound after %" PRIu64 " ms\n", (now_usec() - start) / 1000);
        stop(&kernel);
        ASSERT_EQ(iom_bind_get_driver(&a, &driver), 0);
        ASSERT_STREQ(driver, "vfio-pci");

        /* Another driver is no success; a device that goes away ends the wait at once. */
        start = now_usec();
        ASSERT_EQ(iom_bind_wait_driver(&a, "e1000", 200000), -ETIMEDOUT);
        ASSERT_DEADLINE(start, 200000);
        fixture_unlink(h->root, "sys/bus/pci/devices/0000:05:01.0");
        ASSERT_EQ(iom_bind_wait_driver(&a, "vfio-pci", 5 * USEC), -ENODEV);
        ASSERT_EQ(iom_bind_wait_driver(&a, NULL, USEC), -EINVAL);
}

/* A modprobe, alone on $PATH, that logs its arguments to $root/modprobe.log, then runs @body
 * (which names other commands by their path). */
static void fake_modprobe(const struct fixture_host *h, const char *body) {
        _cleanup_free_ char *script = NULL, *bin = NULL, *path = NULL;

        if (asprintf(&script, "#!/bin/sh\necho \"$@\" >> \"$UMOCKDEV_DIR/modprobe.log\"\n%s\n",
                     body) < 0)
                abort();
        fixture_put(h->root, script, "bin/modprobe");
        if (asprintf(&bin, "%s/bin", h->root) < 0 || asprintf(&path, "%s/modprobe", bin) < 0 ||
            chmod(path, 0755) < 0 || setenv("PATH", bin, 1) < 0)
                abort();
}

static void test_load_module(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("bridge");
        _cleanup_free_ char *path = getenv("PATH") ? strdup(getenv("PATH")) : NULL, *none = NULL,
                            *dry = NULL, *loaded = NULL;
        uint64_t start;

        /* A registered driver needs no modprobe. */
        fake_modprobe(h, "exit 1");
        ASSERT_EQ(iom_bind_load_module("e1000", false, USEC), 0);
        none = content(h, "modprobe.log");
        ASSERT_STREQ(none, "(none)");

        /* A dry run only asks. */
        fake_modprobe(h, "exit 0");
        ASSERT_EQ(iom_bind_load_module("vfio-pci", true, USEC), 0);
        dry = content(h, "modprobe.log");
        ASSERT_STREQ(dry, "-q --dry-run vfio-pci\n");

        /* A load must end with the driver registered. */
        fake_modprobe(h, "/bin/mkdir -p \"$UMOCKDEV_DIR/sys/bus/pci/drivers/$2\"");
        ASSERT_EQ(iom_bind_load_module("vfio-pci", false, USEC), 0);
        loaded = content(h, "modprobe.log");
        ASSERT_STREQ(loaded, "-q --dry-run vfio-pci\n-q vfio-pci\n");
        fake_modprobe(h, "exit 0");
        start = now_usec();
        ASSERT_EQ(iom_bind_load_module("vfio_pci_ghost", false, 200000), -ENOENT);
        ASSERT_DEADLINE(start, 200000);

        /* No such module; a modprobe that hangs; no modprobe at all. */
        fake_modprobe(h, "exit 1");
        ASSERT_EQ(iom_bind_load_module("no_such_driver", true, USEC), -ENOENT);
        fake_modprobe(h, "exec /bin/sleep 10");
        start = now_usec();
        ASSERT_EQ(iom_bind_load_module("vfio-pci-slow", true, 200000), -ETIMEDOUT);
        ASSERT_DEADLINE(start, 200000);
        ASSERT_EQ(setenv("PATH", h->proc, 1), 0);
        ASSERT_EQ(iom_bind_load_module("vfio-pci-x", true, USEC), -ENOPKG);

        ASSERT_EQ(iom_bind_load_module("", true, USEC), -EINVAL);
        ASSERT_EQ(iom_bind_load_module("../vfio-pci", true, USEC), -EINVAL);
        ASSERT_EQ(iom_bind_load_module(NULL, true, USEC), -EINVAL);
        if (path)
                (void) setenv("PATH", path, 1);
}

static void test_wait_vfio_node(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("bridge");
        uint64_t start;

        /* umockdev shows a file in the testbed's dev/ as a character device. */
        fixture_put(h->root, "", "dev/vfio/4242");
        ASSERT_EQ(iom_bind_wait_vfio_node(4242, USEC), 0);
        /* A directory is no node; nor is a missing one. */
        fixture_put(h->root, "", "dev/vfio/4243/x");
        start = now_usec();
        ASSERT_EQ(iom_bind_wait_vfio_node(4243, 200000), -ETIMEDOUT);
        ASSERT_DEADLINE(start, 200000);
        start = now_usec();
        ASSERT_EQ(iom_bind_wait_vfio_node(4244, 200000), -ETIMEDOUT);
        ASSERT_DEADLINE(start, 200000);
}

/* A reset writes the method to reset_method, 1 to reset, and reset_method back as it was; a
 * method the device does not offer, or no reset at all, is refused before any write. */
static void test_reset(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("bridge");
        _cleanup_free_ char *error = NULL, *done = NULL, *methods = NULL, *untouched = NULL;
        struct iom_address a = fixture_address("0000:05:01.0"); /* offers pm */

        ASSERT_EQ(iom_bind_reset(&a, "pm", USEC, &error), -EOPNOTSUPP);
        ASSERT_STREQ(error, "the device offers no reset method");
        error = mfree(error);

        fixture_put(h->root, "", E1000 "/reset");
        ASSERT_EQ(iom_bind_reset(&a, "flr", USEC, &error), -EOPNOTSUPP);
        ASSERT_STREQ(error, "the device does not offer 'flr' (it offers pm)");
        untouched = content(h, E1000 "/reset");
        ASSERT_STREQ(untouched, "");
        ASSERT_EQ(iom_bind_reset(&a, "reboot", USEC, NULL), -EINVAL);

        ASSERT_EQ(iom_bind_reset(&a, "pm", USEC, NULL), 0);
        done = content(h, E1000 "/reset");
        ASSERT_STREQ(done, "1");
        /* Written back over the recorded "pm\n" (a file here, so the newline stays). */
        methods = content(h, E1000 "/reset_method");
        ASSERT_STREQ(methods, "pm\n");
        ASSERT_EQ(iom_bind_reset(&a, IOM_RESET_DEFAULT, USEC, NULL), 0);
        ASSERT_EQ(iom_bind_reset(&a, NULL, USEC, NULL), 0);

        /* An empty list: the kernel knows no way to reset it. */
        fixture_put(h->root, "\n", E1000 "/reset_method");
        ASSERT_EQ(iom_bind_reset(&a, NULL, USEC, &error), -EOPNOTSUPP);
        ASSERT_STREQ(error, "the device offers no reset method");
}

static void test_d3cold(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("bridge");
        _cleanup_free_ char *off = NULL, *on = NULL;
        struct iom_address a = fixture_address("0000:05:01.0");
        bool was = false;

        ASSERT_EQ(iom_bind_set_d3cold(&a, false, 5 * USEC, &was), -ENOENT);
        fixture_put(h->root, "1\n", E1000 "/d3cold_allowed");
        ASSERT_EQ(iom_bind_set_d3cold(&a, false, 5 * USEC, &was), 0);
        ASSERT_TRUE(was);
        off = content(h, E1000 "/d3cold_allowed");
        ASSERT_STREQ(off, "0\n");
        ASSERT_EQ(iom_bind_set_d3cold(&a, true, 5 * USEC, &was), 0);
        ASSERT_TRUE(!was);
        on = content(h, E1000 "/d3cold_allowed");
        ASSERT_STREQ(on, "1\n");
}

IOM_TEST_MAIN(IOM_TEST(test_set_override), IOM_TEST(test_get_driver),
              IOM_TEST(test_unbind_and_probe), IOM_TEST(test_unbind_deadline),
              IOM_TEST(test_rebind), IOM_TEST(test_load_module), IOM_TEST(test_wait_vfio_node),
              IOM_TEST(test_reset), IOM_TEST(test_d3cold))
