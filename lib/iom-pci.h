/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libpci, confined: names from pci.ids and reads of config space through the sysfs method. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "iom-address.h"
#include "macro.h"

struct iom_pci;

/* Opens libpci on its sysfs access method (the same tree libudev reads, umockdev's too). */
int iom_pci_new(struct iom_pci **ret);
struct iom_pci *iom_pci_free(struct iom_pci *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct iom_pci *, iom_pci_free);

/* Names from pci.ids; NULL when the database does not know the ids. */
char *iom_pci_vendor_name(struct iom_pci *p, uint16_t vendor);
char *iom_pci_device_name(struct iom_pci *p, uint16_t vendor, uint16_t device);
char *iom_pci_class_name(struct iom_pci *p, uint32_t class);

/* Reads the ACS extended capability. Returns 1 and the registers when present, 0 when the
 * device has none (or its extended config space is not readable), negative errno on error. */
int iom_pci_read_acs(struct iom_pci *p, const struct iom_address *a, uint16_t *ret_capability,
                     uint16_t *ret_control);

/* Reads the PCIe Device Serial Number capability: 1 and the 64-bit number when present, 0
 * when not. */
int iom_pci_read_dsn(struct iom_pci *p, const struct iom_address *a, uint64_t *ret_dsn);

/* "00-11-22-33-44-55-66-77", high byte first, as lspci prints it. */
#define IOM_DSN_STRING_MAX 24
char *iom_dsn_format(uint64_t dsn, char buf[static IOM_DSN_STRING_MAX]);
