/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VFIO type1v2 back end (Documentation/driver-api/vfio.rst): a container per space, its
 * limits read from VFIO_IOMMU_GET_INFO's capability chain, every map and unmap passed on. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "iom-log.h"
#include "iom-vfio.h"
#include "macro.h"

struct iom_vfio {
        int container;
        int group;
        uint8_t *memory;
        uint64_t memory_size;

        /* What the container allows, read once at open. */
        struct vfio_iova_range *ranges; /* valid IOVAs, inclusive ends, ascending */
        uint32_t n_ranges;
        uint64_t page_sizes;
        uint32_t dma_avail; /* 0: the kernel does not say */
};

_public_ struct iom_vfio *iom_vfio_free(struct iom_vfio *v) {
        if (!v)
                return NULL;
        /* The group leaves the container first, then the container goes with its mappings. */
        if (v->group >= 0)
                close(v->group);
        if (v->container >= 0)
                close(v->container);
        free(v->ranges);
        free(v);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct iom_vfio *, iom_vfio_free);

/* VFIO_IOMMU_GET_INFO with room for the capability chain (asked twice: the first answer says
 * how much room it needs). */
static int read_info(struct iom_vfio *v) {
        _cleanup_free_ struct vfio_iommu_type1_info *info = NULL;
        size_t size = sizeof(*info);

        for (int pass = 0; pass < 2; pass++) {
                struct vfio_iommu_type1_info *grown = realloc(info, size);
                if (!grown)
                        return -ENOMEM;
                info = grown;
                *info = (struct vfio_iommu_type1_info){.argsz = size};
                if (ioctl(v->container, VFIO_IOMMU_GET_INFO, info) < 0)
                        return iom_debug_errno(-errno, "VFIO_IOMMU_GET_INFO: %m");
                if (info->argsz <= size)
                        break;
                size = info->argsz;
        }
        if (info->flags & VFIO_IOMMU_INFO_PGSIZES)
                v->page_sizes = info->iova_pgsizes;
        if (!(info->flags & VFIO_IOMMU_INFO_CAPS) || info->cap_offset == 0)
                return 0;
        /* The chain is the kernel's, but a loop in it must not hang the daemon. */
        for (uint32_t offset = info->cap_offset, hops = 0; offset && hops < 64; hops++) {
                const struct vfio_info_cap_header *h;

                if (offset < sizeof(*info) || offset + sizeof(*h) > size)
                        return iom_debug_errno(EIO,
                                               "VFIO capability at %" PRIu32
                                               " lies outside the %zu-byte answer",
                                               offset, size);
                h = (const void *) ((const uint8_t *) info + offset);
                if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
                        const struct vfio_iommu_type1_info_cap_iova_range *c = (const void *) h;
                        if (offset + sizeof(*c) + (size_t) c->nr_iovas * sizeof(c->iova_ranges[0]) >
                            size)
                                return iom_debug_errno(EIO, "VFIO IOVA ranges overrun the answer");
                        free(v->ranges);
                        v->ranges = calloc(c->nr_iovas ? c->nr_iovas : 1, sizeof(*v->ranges));
                        if (!v->ranges)
                                return -ENOMEM;
                        memcpy(v->ranges, c->iova_ranges, c->nr_iovas * sizeof(*v->ranges));
                        v->n_ranges = c->nr_iovas;
                } else if (h->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
                        const struct vfio_iommu_type1_info_dma_avail *c = (const void *) h;
                        v->dma_avail = c->avail;
                }
                offset = h->next;
        }
        return 0;
}

_public_ int iom_vfio_open(unsigned group, void *memory, uint64_t memory_size,
                           struct iom_vfio **ret) {
        _cleanup_(iom_vfio_freep) struct iom_vfio *v = NULL;
        struct vfio_group_status status = {.argsz = sizeof(status)};
        char path[32];

        if (!memory || memory_size == 0 || !ret)
                return -EINVAL;
        v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        v->group = v->container = -EBADF;
        v->memory = memory;
        v->memory_size = memory_size;

        v->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
        if (v->container < 0)
                return iom_debug_errno(-errno, "/dev/vfio/vfio: %m");
        if (ioctl(v->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
                return iom_debug_errno(ENODEV, "VFIO API version %d is not ours",
                                       ioctl(v->container, VFIO_GET_API_VERSION));
        if (ioctl(v->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0)
                return iom_debug_errno(ENODEV, "the kernel has no VFIO type1v2 IOMMU");
        (void) snprintf(path, sizeof(path), "/dev/vfio/%u", group);
        v->group = open(path, O_RDWR | O_CLOEXEC);
        if (v->group < 0)
                return iom_debug_errno(-errno, "%s: %m", path);
        if (ioctl(v->group, VFIO_GROUP_GET_STATUS, &status) < 0)
                return iom_debug_errno(-errno, "VFIO_GROUP_GET_STATUS of %s: %m", path);
        if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
                return iom_debug_errno(EBUSY, "group %u is not viable", group);
        if (status.flags & VFIO_GROUP_FLAGS_CONTAINER_SET)
                return iom_debug_errno(EBUSY, "group %u is in a container already", group);
        if (ioctl(v->group, VFIO_GROUP_SET_CONTAINER, &v->container) < 0)
                return iom_debug_errno(-errno, "VFIO_GROUP_SET_CONTAINER of %s: %m", path);
        if (ioctl(v->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
                return iom_debug_errno(-errno, "VFIO_SET_IOMMU type1v2: %m");
        int r = read_info(v);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(v);
        return 0;
}

_public_ void iom_vfio_limit_config(const struct iom_vfio *v, struct iom_space_config *config) {
        if (v->n_ranges > 0) {
                config->aperture_first = MAX(config->aperture_first, v->ranges[0].start);
                config->aperture_last = MIN(config->aperture_last, v->ranges[v->n_ranges - 1].end);
        }
        /* Pages below 4 KiB are no unit of ours; without a word from the kernel keep ours. */
        if (v->page_sizes & ~(IOM_SPACE_PAGE_SIZE - 1))
                config->page_sizes &= v->page_sizes & ~(IOM_SPACE_PAGE_SIZE - 1);
        if (!(config->page_sizes & IOM_SPACE_PAGE_SIZE))
                config->page_sizes |= IOM_SPACE_PAGE_SIZE;
        if (v->dma_avail > 0)
                config->max_mappings = MIN(config->max_mappings, (uint64_t) v->dma_avail);
}

static int vfio_map(void *userdata, uint64_t iova, uint64_t size, uint64_t target, unsigned prot) {
        struct iom_vfio *v = userdata;
        struct vfio_iommu_type1_dma_map map = {
                .argsz = sizeof(map),
                .flags = (prot & IOM_SPACE_READ ? VFIO_DMA_MAP_FLAG_READ : 0) |
                         (prot & IOM_SPACE_WRITE ? VFIO_DMA_MAP_FLAG_WRITE : 0),
                .iova = iova,
                .size = size,
        };

        if (target > v->memory_size || size > v->memory_size - target)
                return iom_debug_errno(EFAULT,
                                       "target 0x%" PRIx64 "+0x%" PRIx64
                                       " leaves the memory of 0x%" PRIx64 " bytes",
                                       target, size, v->memory_size);
        map.vaddr = (uintptr_t) (v->memory + target);
        if (ioctl(v->container, VFIO_IOMMU_MAP_DMA, &map) < 0)
                return iom_debug_errno(-errno, "VFIO_IOMMU_MAP_DMA 0x%" PRIx64 "+0x%" PRIx64 ": %m",
                                       iova, size);
        return 0;
}

static int vfio_unmap(void *userdata, uint64_t iova, uint64_t size) {
        struct iom_vfio *v = userdata;
        struct vfio_iommu_type1_dma_unmap unmap = {
                .argsz = sizeof(unmap),
                .iova = iova,
                .size = size,
        };

        if (ioctl(v->container, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0)
                return iom_debug_errno(
                        -errno, "VFIO_IOMMU_UNMAP_DMA 0x%" PRIx64 "+0x%" PRIx64 ": %m", iova, size);
        /* The kernel and the core must agree on what was mapped there. */
        if (unmap.size != size)
                return iom_debug_errno(EIO,
                                       "VFIO_IOMMU_UNMAP_DMA 0x%" PRIx64 "+0x%" PRIx64
                                       " removed 0x%" PRIx64 " bytes",
                                       iova, size, (uint64_t) unmap.size);
        return 0;
}

/* Whether [first, last] lies inside a range @space reserves already (the MSI window). */
static bool reserved_already(const struct iom_space *space, uint64_t first, uint64_t last) {
        uint64_t ranges[64][2];
        size_t n =
                MIN(iom_space_get_reserved(space, ranges, ELEMENTSOF(ranges)), ELEMENTSOF(ranges));

        for (size_t i = 0; i < n; i++)
                if (ranges[i][0] <= first && last <= ranges[i][1])
                        return true;
        return false;
}

_public_ int iom_vfio_attach(struct iom_vfio *v, struct iom_space *space) {
        static const struct iom_space_backend backend = {
                .flags = IOM_SPACE_BACKEND_NO_SPLIT,
                .map = vfio_map,
                .unmap = vfio_unmap,
        };
        struct iom_space_config c;
        int r;

        iom_space_get_config(space, &c);
        for (uint32_t i = 0; i + 1 < v->n_ranges; i++) {
                /* The hole, widened to whole pages. */
                uint64_t first = (v->ranges[i].end + 1) & ~(IOM_SPACE_PAGE_SIZE - 1);
                uint64_t last = (v->ranges[i + 1].start - 1) | (IOM_SPACE_PAGE_SIZE - 1);

                first = MAX(first, c.aperture_first);
                last = MIN(last, c.aperture_last);
                if (first > last || reserved_already(space, first, last))
                        continue;
                r = iom_space_add_reserved(space, first, last);
                if (r < 0)
                        return iom_debug_errno(r, "reserving 0x%" PRIx64 "-0x%" PRIx64 ": %m",
                                               first, last);
        }
        return iom_space_set_backend(space, &backend, v);
}
