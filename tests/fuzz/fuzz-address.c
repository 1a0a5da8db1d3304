/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes PCI address parsing: what parses formats canonically and parses back the same. */
#include <stdlib.h>

#include "fuzz.h"
#include "iom-address.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_text(data, size);
        struct iom_address a, b;
        char buf[IOM_ADDRESS_STRING_MAX];

        if (!text || iom_address_parse(text, &a, NULL) < 0)
                return 0;
        if (iom_address_parse(iom_address_format(&a, buf), &b, NULL) < 0 ||
            !iom_address_equal(&a, &b))
                abort();
        return 0;
}
