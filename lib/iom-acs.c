/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCIe ACS decoding. */
#include <stdio.h>
#include <string.h>

#include "iom-acs.h"
#include "macro.h"

static const char *const acs_bit_names[] = {
        "SrcValid",    "TransBlk",   "ReqRedir",    "CmpltRedir",
        "UpstreamFwd", "EgressCtrl", "DirectTrans",
};

const char *iom_acs_bit_to_string(enum iom_acs_bit bit) {
        for (size_t i = 0; i < ELEMENTSOF(acs_bit_names); i++)
                if (bit == (1u << i))
                        return acs_bit_names[i];
        return NULL;
}

char *iom_acs_format(uint16_t bits, char *buf, size_t size) {
        size_t used = 0;

        if (size == 0)
                return buf;
        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(acs_bit_names); i++) {
                if (!(bits & (1u << i)))
                        continue;
                int n = snprintf(buf + used, size - used, "%s%s", used ? " " : "",
                                 acs_bit_names[i]);
                if (n < 0 || (size_t) n >= size - used)
                        break;
                used += (size_t) n;
        }
        return buf;
}

bool iom_acs_isolates(uint16_t capability, uint16_t control) {
        uint16_t required = capability & IOM_ACS_ISOLATION_REQUIRED;
        return (control & required) == required;
}
