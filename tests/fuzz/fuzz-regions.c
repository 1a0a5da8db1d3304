/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the reserved_regions reader: whatever it accepts is ordered and typed. */
#include <stdlib.h>

#include "fuzz.h"
#include "iom-group.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_text(data, size);
        struct iom_region *regions = NULL;
        size_t n = 0;

        if (text && iom_regions_parse(text, &regions, &n, NULL) >= 0)
                for (size_t i = 0; i < n; i++)
                        if (regions[i].start > regions[i].end || regions[i].type < 0)
                                abort();
        free(regions);
        return 0;
}
