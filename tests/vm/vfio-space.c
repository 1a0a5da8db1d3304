/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VFIO back end of the mapping core in-process, against the guest kernel: the core's
 * answer and the kernel's container must stay identical, whichever layer refuses.
 * Usage: vfio-space GROUP (a group on vfio-pci that no one holds). Prints one line per check,
 * "ok" or "FAIL"; exits 1 when any failed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iom-space.h"
#include "iom-vfio.h"

#define MiB (UINT64_C(1) << 20)
#define PAGE IOM_SPACE_PAGE_SIZE
#define MEMORY (8 * MiB)
#define IOVA UINT64_C(0x10000000)
#define LIMIT_PARAMETER "/sys/module/vfio_iommu_type1/parameters/dma_entry_limit"

static int failed;

static void check(bool ok, const char *what, long detail) {
        printf("%s - %s (%ld)\n", ok ? "ok" : "FAIL", what, detail);
        failed |= !ok;
}

static void *guest_memory(void) {
        int fd = memfd_create("guest-ram", MFD_CLOEXEC);
        void *p;

        if (fd < 0 || ftruncate(fd, MEMORY) < 0)
                return NULL;
        p = mmap(NULL, MEMORY, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        return p == MAP_FAILED ? NULL : p;
}

static int write_limit(unsigned value) {
        FILE *f = fopen(LIMIT_PARAMETER, "we");
        int r;

        if (!f)
                return -errno;
        r = fprintf(f, "%u\n", value) < 0 ? -EIO : 0;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        return r;
}

static unsigned read_limit(void) {
        FILE *f = fopen(LIMIT_PARAMETER, "re");
        unsigned v = 0;

        if (f) {
                if (fscanf(f, "%u", &v) != 1)
                        v = 0;
                fclose(f);
        }
        return v;
}

/* Opens the group and makes a space as @config says, narrowed by the kernel when @narrow. */
static int open_space(unsigned group, void *memory, bool narrow, uint64_t max_mappings,
                      struct iom_vfio **ret_vfio, struct iom_space **ret_space) {
        struct iom_space_config config;
        int r;

        r = iom_vfio_open(group, memory, MEMORY, ret_vfio);
        if (r < 0)
                return r;
        iom_space_config_init(&config);
        if (max_mappings)
                config.max_mappings = max_mappings;
        if (narrow)
                iom_vfio_limit_config(*ret_vfio, &config);
        r = iom_space_new(&config, ret_space);
        if (r >= 0)
                r = iom_vfio_attach(*ret_vfio, *ret_space);
        return r;
}

static void close_space(struct iom_vfio *v, struct iom_space *s) {
        iom_space_free(s);
        iom_vfio_free(v);
}

static uint64_t mappings(const struct iom_space *s) {
        struct iom_space_stats st;

        iom_space_get_stats(s, &st);
        return st.mappings;
}

int main(int argc, char *argv[]) {
        struct iom_space_config config;
        struct iom_space *s = NULL;
        struct iom_vfio *v = NULL;
        uint64_t target, contiguous, removed;
        unsigned group, prot, limit;
        void *memory;
        int r;

        if (argc != 2 || sscanf(argv[1], "%u", &group) != 1) {
                fprintf(stderr, "Usage: vfio-space GROUP\n");
                return 2;
        }
        memory = guest_memory();
        if (!memory) {
                perror("vfio-space: guest memory");
                return 2;
        }
        limit = read_limit();

        /* The kernel's limit is the space's; its reserved regions are the space's. */
        r = open_space(group, memory, true, 0, &v, &s);
        check(r == 0, "a space backed by the group's container", r);
        if (r < 0)
                return 1;
        iom_space_get_config(s, &config);
        check(config.max_mappings == limit, "max_mappings is the kernel's dma_entry_limit",
              (long) config.max_mappings);
        printf("# aperture 0x%" PRIx64 "-0x%" PRIx64 ", page sizes 0x%" PRIx64 "\n",
               config.aperture_first, config.aperture_last, config.page_sizes);
        uint64_t ranges[16][2];
        size_t n = iom_space_get_reserved(s, ranges, 16);
        for (size_t i = 0; i < n && i < 16; i++)
                printf("# reserved 0x%" PRIx64 "-0x%" PRIx64 "\n", ranges[i][0], ranges[i][1]);

        /* Map, translate, and the kernel holds it too: the same IOVA is taken there. */
        r = iom_space_map(s, IOVA, 2 * MiB, MiB, IOM_SPACE_RW);
        check(r == 0, "map 2 MiB of guest memory", r);
        r = iom_space_translate(s, IOVA + 0x1234, IOM_SPACE_WRITE, &target, &prot, &contiguous);
        check(r == 0 && target == MiB + 0x1234, "translate agrees", (long) target);
        r = iom_space_map(s, IOVA + 2 * MiB, PAGE, 7 * MiB, IOM_SPACE_READ);
        check(r == 0, "map a read-only page after it", r);

        /* Refusals: the core's own rules, and the kernel's rule on splits. */
        r = iom_space_map(s, IOM_SPACE_MSI_FIRST, PAGE, 0, IOM_SPACE_RW);
        check(r == -EADDRNOTAVAIL, "the MSI window is refused", r);
        r = iom_space_map(s, IOVA + 4 * MiB, PAGE, MEMORY, IOM_SPACE_RW);
        check(r == -EFAULT && mappings(s) == 2, "a target outside the memory is refused", r);
        r = iom_space_unmap(s, IOVA, PAGE, &removed);
        check(r == -EINVAL && mappings(s) == 2, "an unmap that bisects a mapping is refused", r);
        r = iom_space_translate(s, IOVA, IOM_SPACE_READ, &target, &prot, &contiguous);
        check(r == 0, "and the mapping is still there", r);

        /* Whole mappings go, from both layers: mapping the IOVA again succeeds in both. */
        r = iom_space_unmap(s, IOVA, 2 * MiB + PAGE, &removed);
        check(r == 0 && removed == 2 * MiB + PAGE, "unmap of whole mappings", (long) removed);
        r = iom_space_map(s, IOVA, PAGE, 0, IOM_SPACE_RW);
        check(r == 0, "the kernel let the IOVA go: mapping it again works", r);
        close_space(v, s);

        /* A kernel refusal undoes the core's change: with the kernel at 3 entries and a core
         * not told of it, the fourth map fails in the kernel and the core keeps three. */
        r = write_limit(3);
        check(r == 0, "dma_entry_limit set to 3", r);
        r = open_space(group, memory, false, 0, &v, &s);
        check(r == 0, "a space not narrowed to the kernel's limit", r);
        for (unsigned i = 0; r == 0 && i < 3; i++)
                r = iom_space_map(s, IOVA + i * 2 * PAGE, PAGE, i * PAGE, IOM_SPACE_RW);
        check(r == 0, "three maps", r);
        r = iom_space_map(s, IOVA + 6 * PAGE, PAGE, 3 * PAGE, IOM_SPACE_RW);
        check(r < 0 && mappings(s) == 3, "the kernel refuses the fourth and the core keeps three",
              r);
        r = iom_space_translate(s, IOVA + 6 * PAGE, IOM_SPACE_READ, &target, &prot, &contiguous);
        check(r == -ENOENT, "the refused IOVA translates to nothing", r);
        close_space(v, s);

        /* Narrowed, the core refuses first, with its own error. */
        r = open_space(group, memory, true, 0, &v, &s);
        iom_space_get_config(s, &config);
        check(r == 0 && config.max_mappings == 3, "narrowed: max_mappings 3",
              (long) config.max_mappings);
        for (unsigned i = 0; r == 0 && i < 3; i++)
                r = iom_space_map(s, IOVA + i * 2 * PAGE, PAGE, i * PAGE, IOM_SPACE_RW);
        r = iom_space_map(s, IOVA + 6 * PAGE, PAGE, 3 * PAGE, IOM_SPACE_RW);
        check(r == -ENOSPC, "the core refuses the fourth with ENOSPC", r);
        close_space(v, s);
        (void) write_limit(limit);

        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
