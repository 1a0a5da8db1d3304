/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hand-built inventories for unit tests of code that reads the model. */
#pragma once

#include <stdint.h>

#include "iom-inventory.h"

struct fixture_device {
        const char *address;
        uint16_t vendor, device;
        int group;          /* -1: none */
        const char *driver; /* NULL: unbound */
        uint8_t header_type;
};

/* Parses a PCI address in any usual spelling; aborts when it is not one (test setup). */
struct iom_address fixture_address(const char *s);

/* Builds and links an inventory of @n devices; aborts on failure (test setup). */
struct iom_inventory *fixture_inventory(const struct fixture_device *devices, size_t n);
