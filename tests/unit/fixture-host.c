/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Recorded hosts as umockdev testbeds for unit tests. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture-host.h"
#include "fixture-sysfs.h"

/* After macro.h: glib replaces its MIN and MAX without a warning, not the other way round. */
#include <umockdev.h>

/* The directory, below the root, that the link @name of the device @dev points at; NULL when
 * the device has no such link. */
static char *link_target(const struct fixture_host *h, const char *dev, const char *name) {
        _cleanup_free_ char *devdir = NULL, *link = NULL;
        char target[PATH_MAX], real_root[PATH_MAX], real_dev[PATH_MAX], *dir;
        ssize_t n;

        if (asprintf(&devdir, "%s/sys/bus/pci/devices/%s", h->root, dev) < 0 ||
            asprintf(&link, "%s/%s", devdir, name) < 0)
                abort();
        n = readlink(link, target, sizeof(target) - 1);
        if (n < 0)
                return NULL;
        target[n] = '\0';
        /* The target is relative to the device's real directory, as the kernel writes it. */
        if (!realpath(h->root, real_root) || !realpath(devdir, real_dev) ||
            asprintf(&dir, "%s/%s", real_dev + strlen(real_root) + 1, target) < 0)
                abort();
        return dir;
}

struct fixture_host *fixture_host_new(const char *name) {
        _cleanup_free_ char *recording = NULL, *devices = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        struct fixture_host *h;
        GError *error = NULL;
        struct dirent *e;

        h = calloc(1, sizeof(*h));
        if (!h)
                abort();
        h->testbed = umockdev_testbed_new(); /* exports UMOCKDEV_DIR to this process */
        h->root = umockdev_testbed_get_root_dir(h->testbed);
        if (!getenv("IOM_HOSTS") ||
            asprintf(&recording, "%s/%s.umockdev", getenv("IOM_HOSTS"), name) < 0)
                abort();
        if (!umockdev_testbed_add_from_file(h->testbed, recording, &error)) {
                fprintf(stderr, "%s: %s\n", recording, error->message);
                abort();
        }

        if (asprintf(&devices, "%s/sys/bus/pci/devices", h->root) < 0)
                abort();
        d = opendir(devices);
        if (!d)
                abort();
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *driver = link_target(h, e->d_name, "driver"),
                                    *group = link_target(h, e->d_name, "iommu_group");
                if (driver) {
                        fixture_put(h->root, "", "%s/bind", driver);
                        fixture_put(h->root, "", "%s/unbind", driver);
                }
                if (group) {
                        fixture_put(h->root, "DMA\n", "%s/type", group);
                        fixture_put(h->root, FIXTURE_HOST_MSI_REGION, "%s/reserved_regions", group);
                }
        }

        if (asprintf(&h->proc, "%s/proc", h->root) < 0)
                abort();
        fixture_put(h->root, "console=ttyS0 intel_iommu=on\n", "proc/cmdline");
        if (setenv("IOMMUD_PROC_ROOT", h->proc, 1) < 0)
                abort();
        return h;
}

struct fixture_host *fixture_host_free(struct fixture_host *h) {
        if (!h)
                return NULL;
        g_object_unref(h->testbed);
        fixture_remove(h->root); /* what the test added; umockdev removes its own */
        g_free(h->root);
        free(h->proc);
        free(h);
        return NULL;
}

void fixture_host_freep(struct fixture_host **h) {
        *h = fixture_host_free(*h);
}
