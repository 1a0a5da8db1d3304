/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libiom-mapping: one mediated I/O address space (IOVA -> target), for the daemon and in-process
 * device emulators. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every address, size and target is a multiple of IOM_SPACE_PAGE_SIZE. */
#define IOM_SPACE_PAGE_SHIFT 12
#define IOM_SPACE_PAGE_SIZE (UINT64_C(1) << IOM_SPACE_PAGE_SHIFT)

/* Permissions of a mapping and kinds of access (the D-Bus values: 1 read, 2 write, 3 both). */
enum {
        IOM_SPACE_READ = 1u << 0,
        IOM_SPACE_WRITE = 1u << 1,
        IOM_SPACE_RW = IOM_SPACE_READ | IOM_SPACE_WRITE,
};

/* The x86 MSI window, reserved in every space on x86 whatever the aperture. */
#define IOM_SPACE_MSI_FIRST UINT64_C(0xfee00000)
#define IOM_SPACE_MSI_LAST UINT64_C(0xfeefffff)

struct iom_space;

struct iom_space_config {
        uint64_t aperture_first;   /* first valid IOVA */
        uint64_t aperture_last;    /* last valid IOVA, inclusive */
        uint64_t page_sizes;       /* bitmap of supported page sizes; the lowest is the alignment */
        uint64_t max_mappings;     /* ENOSPC beyond this many mapping records */
        uint64_t max_pinned_bytes; /* EDQUOT beyond this many pinned bytes */
};

/* Fills @ret with the defaults: aperture 0 ... 2^48-1, pages 4 KiB | 2 MiB | 1 GiB, limits of
 * 2^31-1 mappings and no byte limit. */
void iom_space_config_init(struct iom_space_config *ret);

/* A mapping as the space holds it: [iova, iova + size) -> [target, target + size). */
struct iom_mapping {
        uint64_t iova;
        uint64_t size;
        uint64_t target;
        unsigned prot;
};

/* What translate_sg returns: one entry per run that is contiguous in target space. */
struct iom_sg {
        uint64_t iova;
        uint64_t target;
        uint64_t size;
};

struct iom_space_stats {
        uint64_t mappings; /* mapping records: punching a hole in one makes two */
        uint64_t mapped_bytes;
        uint64_t pinned_bytes; /* equals mapped_bytes unless a backend pins differently */
        uint64_t memory_bytes; /* bytes the index, the records and the dirty bitmap allocated */
        /* Since tracking was last turned on: writes that found no bitmap ready for their page
         * and marked a whole span around it dirty instead (iom_space_get_dirty()). */
        uint64_t dirty_overflows;
};

/* An optional backend (a VFIO container, an iommufd IOAS) told of every change inside the
 * operation: map() after the core validated and before it publishes, unmap() for each range
 * about to be removed, before the core removes it. A negative return refuses the whole
 * operation and the core changes nothing (for unmap: ranges the backend already accepted are
 * mapped back with map()). With IOM_SPACE_BACKEND_NO_SPLIT the space refuses (-EINVAL) any unmap
 * that would cut a mapping in two, as VFIO type1v2 does. */
enum {
        IOM_SPACE_BACKEND_NO_SPLIT = 1u << 0,
};

struct iom_space_backend {
        unsigned flags;
        int (*map)(void *userdata, uint64_t iova, uint64_t size, uint64_t target, unsigned prot);
        int (*unmap)(void *userdata, uint64_t iova, uint64_t size);
};

/* Called for every contiguous range an unmap removed, after no reader can be handed it any
 * more (every translate running meanwhile has returned) and before iom_space_unmap() returns
 * (IOTLB invalidation). Runs with the space's writer lock held: it may translate, it must not
 * map or unmap in the same space. */
typedef void (*iom_space_unmapped_func_t)(void *userdata, uint64_t iova, uint64_t size);

/* Creates a space; @config NULL means the defaults. -EINVAL for an aperture that is empty or
 * not page-aligned, page sizes without one of at least 4 KiB, or zero limits. */
int iom_space_new(const struct iom_space_config *config, struct iom_space **ret);

/* Unmaps everything (subscribers are told) and frees the space. Accepts NULL, returns NULL.
 * No thread may still use it. A space of one-page mappings strewn about (the hashed form)
 * tells each page on its own, and a page the backend refuses does not keep the others. */
struct iom_space *iom_space_free(struct iom_space *space);

/* Adds a reserved range [first, last] (inclusive, page-aligned ends) that can never be mapped.
 * -EINVAL when misaligned or outside the aperture, -EBUSY when a mapping already lies in it. */
int iom_space_add_reserved(struct iom_space *space, uint64_t first, uint64_t last);

/* Writes up to @n reserved ranges as (first, last) pairs into @ret_ranges (may be NULL when
 * @n is 0) and returns how many there are, in address order. */
size_t iom_space_get_reserved(const struct iom_space *space, uint64_t (*ret_ranges)[2], size_t n);

void iom_space_get_config(const struct iom_space *space, struct iom_space_config *ret);

int iom_space_set_backend(struct iom_space *space, const struct iom_space_backend *backend,
                          void *userdata);

/* Subscribes @func; up to 16 subscribers. iom_space_unsubscribe() removes the first one
 * registered with the same @func and @userdata (-ENOENT if none). */
int iom_space_subscribe(struct iom_space *space, iom_space_unmapped_func_t func, void *userdata);
int iom_space_unsubscribe(struct iom_space *space, iom_space_unmapped_func_t func, void *userdata);

/* Maps [iova, iova + size) to @target with @prot. All or nothing:
 * -EINVAL  iova, size or target not aligned to the smallest page size, size 0, prot 0 or
 *          unknown bits, range outside the aperture or wrapping around;
 * -EADDRNOTAVAIL  the range touches a reserved range;
 * -EEXIST  the range overlaps a mapping (never replaced);
 * -ENOSPC  one more mapping would exceed max_mappings;
 * -EDQUOT  the bytes would take pinned bytes over max_pinned_bytes;
 * -ENOMEM; or the backend's error. */
int iom_space_map(struct iom_space *space, uint64_t iova, uint64_t size, uint64_t target,
                  unsigned prot);

/* Removes whatever lies in [iova, iova + size), splitting mappings that cross its ends at
 * those page boundaries, and stores in @ret_unmapped (may be NULL) how many bytes it removed
 * (0 is fine). When it returns no translate that starts afterwards can be handed an unmapped
 * target, and every subscriber was told of each contiguous removed range. Without subscribers
 * it never waits for translates running meanwhile (they may return what was mapped when they
 * started); with subscribers it waits for them, before telling the subscribers. -EINVAL as for
 * map (alignment,
 * aperture); -ENOSPC when a split would exceed max_mappings; -ENOMEM; or the backend's error;
 * on error nothing changed. */
int iom_space_unmap(struct iom_space *space, uint64_t iova, uint64_t size, uint64_t *ret_unmapped);

/* The hot path. Lock-free, never allocates, logs or makes a syscall; any number of threads may
 * call it while one maps and unmaps. On success writes the target of @iova, the mapping's
 * permissions and the number of bytes from @iova that stay contiguous in target space (at
 * least to the end of the mapping holding @iova; it may reach over following mappings that
 * continue it with the same permissions). @access is IOM_SPACE_READ, _WRITE or both; a write
 * with dirty tracking on marks the page of @iova. Faults:
 * -ERANGE  @iova lies outside the aperture;
 * -ENOENT  nothing is mapped at @iova;
 * -EACCES  the mapping does not permit @access;
 * -EINVAL  @access is 0 or has unknown bits. */
int iom_space_translate(const struct iom_space *space, uint64_t iova, unsigned access,
                        uint64_t *ret_target, unsigned *ret_prot, uint64_t *ret_contiguous);

/* The scatter-gather list of a DMA request [iova, iova + length) (any byte granularity,
 * length > 0): entries merged where targets continue. Returns the number of entries; -ENOBUFS
 * when more than @n are needed; the faults of translate for the first byte that faults. A
 * write with dirty tracking on marks every page of the request. */
int iom_space_translate_sg(const struct iom_space *space, uint64_t iova, uint64_t length,
                           unsigned access, struct iom_sg *ret_sg, size_t n);

/* Dirty tracking's memory grows with the places written (about 520 bytes per 16 MiB of IOVA
 * written in, plus 4 KiB per 8 GiB), never with what is mapped, and stays within this many
 * bytes per space (about 2 TiB of IOVA written, page-precise); memory_bytes counts it. */
#define IOM_SPACE_DIRTY_MEMORY_MAX (UINT64_C(64) << 20)

/* Turns dirty tracking on (from a clean bitmap, also when it was on already) or off, in O(1)
 * however much is mapped. */
int iom_space_set_dirty_tracking(struct iom_space *space, bool enable);
bool iom_space_get_dirty_tracking(const struct iom_space *space);

/* The dirty bitmap of [iova, iova + size) (page-aligned, inside the aperture; it may cross
 * mappings and holes): bit i stands for page i and is bit i % 8 of byte i / 8; exactly
 * ceil(pages / 8) bytes are written, @bitmap_size must hold them (-ENOBUFS). With @clear the
 * bits read are cleared. -EINVAL while tracking is off. Pages unmapped before they were read
 * keep their bits until read. Every page written since it was last read is reported; others
 * are too only where a write overflowed (stats.dirty_overflows: the bitmaps were short, when
 * many new places were written since the last call or past IOM_SPACE_DIRTY_MEMORY_MAX), then
 * whole spans of 16 MiB or more around it, until read with @clear. */
int iom_space_get_dirty(struct iom_space *space, uint64_t iova, uint64_t size, bool clear,
                        uint8_t *bitmap, size_t bitmap_size);

/* The first mapping that ends at or after @iova, in address order: iterate with
 * iova = m.iova + m.size. -ENOENT when there is none. It never waits for a lock; a space of
 * many one-page mappings (its hashed form) is kept in order for it under the writer's lock
 * when that is free, sorted once per change, which a writer may then wait for. */
int iom_space_next_mapping(const struct iom_space *space, uint64_t iova, struct iom_mapping *ret);

void iom_space_get_stats(const struct iom_space *space, struct iom_space_stats *ret);

#ifdef __cplusplus
}
#endif
