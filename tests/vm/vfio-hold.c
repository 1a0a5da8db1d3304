/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A VFIO user for the vm tier: opens a device through its group and holds it until killed,
 * as a running guest would (Documentation/driver-api/vfio.rst, "VFIO Usage Example").
 * Usage: vfio-hold GROUP ADDRESS; prints "holding" once the device fd is open. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vfio.h>

static int die(const char *what) {
        fprintf(stderr, "vfio-hold: %s: %s\n", what, strerror(errno));
        return EXIT_FAILURE;
}

int main(int argc, char *argv[]) {
        struct vfio_group_status status = {.argsz = sizeof(status)};
        char path[64];
        int container, group, device;

        if (argc != 3) {
                fprintf(stderr, "Usage: vfio-hold GROUP ADDRESS\n");
                return 2;
        }
        container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
        if (container < 0)
                return die("/dev/vfio/vfio");
        if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
                return die("VFIO_GET_API_VERSION");
        (void) snprintf(path, sizeof(path), "/dev/vfio/%s", argv[1]);
        group = open(path, O_RDWR | O_CLOEXEC);
        if (group < 0)
                return die(path);
        if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) < 0)
                return die("VFIO_GROUP_GET_STATUS");
        if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
                errno = EBUSY;
                return die("the group is not viable");
        }
        if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0)
                return die("VFIO_GROUP_SET_CONTAINER");
        if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
                return die("VFIO_SET_IOMMU");
        device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, argv[2]);
        if (device < 0)
                return die("VFIO_GROUP_GET_DEVICE_FD");
        printf("holding\n");
        fflush(stdout);
        for (;;)
                pause();
}
