/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A space's refusals in words: the core answers with an errno, a caller needs the rule it
 * broke and the range at fault, under the org.iommud1.Error.* name. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "bus-error.h"
#include "macro.h"
#include "space-error.h"
#include "space.h"

#define RANGE_FMT "0x%" PRIx64 "-0x%" PRIx64
#define RANGE(iova, size) (iova), (iova) + (size) -1

/* Why the core found [iova, iova + size) -> target invalid (-EINVAL): the first rule broken. */
int explain_invalid(const struct space *s, uint64_t iova, uint64_t size, uint64_t target,
                    sd_bus_error *error) {
        struct iom_space_config c;
        uint64_t mask = IOM_SPACE_PAGE_SIZE - 1;

        iom_space_get_config(s->core, &c);
        if (size == 0)
                return bus_error_set_errnof(error, -EINVAL, "The size is 0");
        if ((iova | size | target) & mask)
                return bus_error_set_errnof(error, -EINVAL,
                                            "IOVA 0x%" PRIx64 ", size 0x%" PRIx64
                                            " and target 0x%" PRIx64 " must be multiples of 4 KiB",
                                            iova, size, target);
        if (iova < c.aperture_first || iova + size - 1 < iova || iova + size - 1 > c.aperture_last)
                return bus_error_set_errnof(error, -EINVAL,
                                            "IOVA " RANGE_FMT " leaves the aperture " RANGE_FMT,
                                            RANGE(iova, size), c.aperture_first, c.aperture_last);
        if (s->vfio)
                return bus_error_set_errnof(
                        error, -EINVAL,
                        "IOVA " RANGE_FMT " would split a mapping: the VFIO container "
                        "behind this space (type1v2) only removes whole mappings",
                        RANGE(iova, size));
        return bus_error_set_errnof(error, -EINVAL, "IOVA " RANGE_FMT " is refused",
                                    RANGE(iova, size));
}

/* A map or unmap the core refused, named. */
int explain_change(const struct space *s, int r, uint64_t iova, uint64_t size, uint64_t target,
                   unsigned prot, sd_bus_error *error) {
        struct iom_space_config c;
        struct iom_mapping m;
        uint64_t ranges[64][2];
        size_t n;

        iom_space_get_config(s->core, &c);
        switch (r) {
        case -EINVAL:
                if (prot == 0 || prot & ~IOM_SPACE_RW)
                        return bus_error_set_errnof(
                                error, -EINVAL, "prot %u is not 1 (read), 2 (write) or 3 (both)",
                                prot);
                return explain_invalid(s, iova, size, target, error);
        case -EEXIST:
                if (iom_space_next_mapping(s->core, iova, &m) < 0)
                        m = (struct iom_mapping){};
                return bus_error_set_errnof(error, -EADDRINUSE,
                                            "IOVA " RANGE_FMT " overlaps the mapping " RANGE_FMT
                                            "; mappings are never replaced, unmap it first",
                                            RANGE(iova, size), RANGE(m.iova, m.size));
        case -EADDRNOTAVAIL:
                n = MIN(iom_space_get_reserved(s->core, ranges, ELEMENTSOF(ranges)),
                        ELEMENTSOF(ranges));
                for (size_t i = 0; i < n; i++)
                        if (ranges[i][0] <= iova + size - 1 && iova <= ranges[i][1])
                                return bus_error_set_errnof(
                                        error, -EADDRNOTAVAIL,
                                        "IOVA " RANGE_FMT " touches the reserved range " RANGE_FMT,
                                        RANGE(iova, size), ranges[i][0], ranges[i][1]);
                return bus_error_set_errnof(error, -EADDRNOTAVAIL, "IOVA " RANGE_FMT " is reserved",
                                            RANGE(iova, size));
        case -ENOSPC:
                return bus_error_set_errnof(error, -ENOSPC,
                                            "The space holds at most %" PRIu64
                                            " mappings (MaxMappings)",
                                            c.max_mappings);
        case -EDQUOT:
                return bus_error_set_errnof(error, -ENOSPC,
                                            "0x%" PRIx64
                                            " more bytes would take the space over its %" PRIu64
                                            " pinned bytes (MaxPinnedBytes)",
                                            size, c.max_pinned_bytes);
        case -EFAULT:
                return bus_error_set_errnof(error, -EINVAL,
                                            "Target 0x%" PRIx64 "-0x%" PRIx64
                                            " leaves the space's memory (0x%" PRIx64 " bytes)",
                                            target, target + size - 1, s->memory_size);
        default:
                return bus_error_set_errnof(error, r, "IOVA " RANGE_FMT ": %s", RANGE(iova, size),
                                            strerror(-r));
        }
}

/* A translate that faulted, with its reason. */
int explain_fault(const struct space *s, int r, uint64_t iova, unsigned access,
                  sd_bus_error *error) {
        struct iom_space_config c;

        iom_space_get_config(s->core, &c);
        switch (r) {
        case -EINVAL:
                return bus_error_set_errnof(
                        error, -EINVAL, "access %u is not 1 (read), 2 (write) or 3 (both)", access);
        case -ERANGE:
                return bus_error_set_errnof(error, -EFAULT,
                                            "Fault at IOVA 0x%" PRIx64
                                            ": outside the aperture " RANGE_FMT,
                                            iova, c.aperture_first, c.aperture_last);
        case -ENOENT:
                return bus_error_set_errnof(error, -EFAULT,
                                            "Fault at IOVA 0x%" PRIx64 ": nothing is mapped", iova);
        case -EACCES:
                return bus_error_set_errnof(error, -EFAULT,
                                            "Fault at IOVA 0x%" PRIx64
                                            ": the mapping does not permit %s",
                                            iova, access & IOM_SPACE_WRITE ? "writing" : "reading");
        default:
                return bus_error_set_errnof(error, r, "Translating IOVA 0x%" PRIx64 ": %s", iova,
                                            strerror(-r));
        }
}
