/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCI addresses: parsing every usual spelling, canonical formatting. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct iom_address {
        uint32_t domain; /* 0 … 0xffff on Linux, up to 0xffffffff with VMD */
        uint8_t bus;
        uint8_t slot;     /* 0 … 31 */
        uint8_t function; /* 0 … 7 */
};

/* "dddd:bb:ss.f" plus NUL */
#define IOM_ADDRESS_STRING_MAX 19

/* Parses "0000:01:00.0", "01:00.0", "1:0.0" in either case. On failure returns -EINVAL with
 * *@ret_error (when non-NULL) saying what is wrong ("the bus must be 00-ff"). */
int iom_address_parse(const char *s, struct iom_address *ret, char **ret_error);

/* Formats as "dddd:bb:ss.f" (lower-case hex, domain always present). Returns @buf. */
char *iom_address_format(const struct iom_address *a, char buf[static IOM_ADDRESS_STRING_MAX]);

/* Formats as "dddd_bb_ss_f", the D-Bus object path element. Returns @buf. */
char *iom_address_format_path(const struct iom_address *a, char buf[static IOM_ADDRESS_STRING_MAX]);

/* Parses an object path element as iom_address_format_path() writes it, and only that
 * spelling (one object, one name): -EINVAL for anything else. */
int iom_address_parse_path(const char *s, struct iom_address *ret);

bool iom_address_equal(const struct iom_address *a, const struct iom_address *b);
int iom_address_compare(const struct iom_address *a, const struct iom_address *b);
