/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCIe Access Control Services: decoding the capability and control registers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bits shared by the ACS Capability and Control registers (PCIe Base Spec 6.0, 7.7.8). */
enum iom_acs_bit {
        IOM_ACS_SOURCE_VALIDATION = 1 << 0,
        IOM_ACS_TRANSLATION_BLOCKING = 1 << 1,
        IOM_ACS_REQUEST_REDIRECT = 1 << 2,
        IOM_ACS_COMPLETION_REDIRECT = 1 << 3,
        IOM_ACS_UPSTREAM_FORWARDING = 1 << 4,
        IOM_ACS_EGRESS_CONTROL = 1 << 5,
        IOM_ACS_DIRECT_TRANSLATED = 1 << 6,
};

/* The controls Linux requires on a path for peers to be isolated (drivers/pci/pci.c,
 * REQ_ACS_FLAGS): source validation, request and completion redirect, upstream forwarding. */
#define IOM_ACS_ISOLATION_REQUIRED                                                                 \
        (IOM_ACS_SOURCE_VALIDATION | IOM_ACS_REQUEST_REDIRECT | IOM_ACS_COMPLETION_REDIRECT |      \
         IOM_ACS_UPSTREAM_FORWARDING)

/* Short name of one bit ("SrcValid", "ReqRedir", ... as lspci spells them), or NULL. */
const char *iom_acs_bit_to_string(enum iom_acs_bit bit);

/* Formats the set bits of @bits as space-separated names into @buf ("" when none). */
char *iom_acs_format(uint16_t bits, char *buf, size_t size);

/* True when every control isolation needs is either enabled or not implemented by the port:
 * the kernel only demands what the port can do. */
bool iom_acs_isolates(uint16_t capability, uint16_t control);
