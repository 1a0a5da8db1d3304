/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libiom-mapping's VFIO back end: a space whose every map and unmap is mirrored, in the same
 * call, into a kernel VFIO container (type1v2) holding one IOMMU group. The container, not
 * iommufd: every kernel with VFIO has it, and Debian 12's (6.1, and 6.12 from
 * bookworm-backports) are built without CONFIG_IOMMUFD. */
#pragma once

#include <stdint.h>

#include "iom-space.h"

#ifdef __cplusplus
extern "C" {
#endif

struct iom_vfio;

/* Opens /dev/vfio/vfio and /dev/vfio/@group, checks the group is viable, attaches it to a new
 * container and sets VFIO_TYPE1v2_IOMMU. @memory/@memory_size: the buffer (in this process)
 * whose offsets are the space's targets: target T maps vaddr @memory + T; a map whose
 * [target, target + size) leaves the buffer is refused with -EFAULT. Errors: -ENOENT no such
 * group node, -EBUSY not viable or already in a container, -ENODEV no type1v2, or another
 * negative errno. */
int iom_vfio_open(unsigned group, void *memory, uint64_t memory_size, struct iom_vfio **ret);

/* Closes the container (the kernel drops every DMA mapping). Accepts NULL, returns NULL. Free
 * the space first: iom_space_free() unmaps through the back end. */
struct iom_vfio *iom_vfio_free(struct iom_vfio *v);

/* Narrows @config to what the container allows: the aperture to the hull of its valid IOVA
 * ranges, the page sizes to its iova_pgsizes (4 KiB granularity kept), max_mappings to the
 * DMA mappings it has left (dma_entry_limit, 65535 by default) when that is lower. */
void iom_vfio_limit_config(const struct iom_vfio *v, struct iom_space_config *config);

/* Reserves in @space the holes between the container's valid IOVA ranges (the group's
 * reserved_regions, as the kernel applies them), then installs the back end with
 * IOM_SPACE_BACKEND_NO_SPLIT: type1v2 refuses an unmap that bisects a mapping. */
int iom_vfio_attach(struct iom_vfio *v, struct iom_space *space);

#ifdef __cplusplus
}
#endif
