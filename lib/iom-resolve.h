/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Naming devices and groups on a command line: addresses, vendor:device ids, group numbers. */
#pragma once

#include "iom-inventory.h"

/* Resolves @spec against @inv: a PCI address in any usual spelling ("0000:01:00.0",
 * "01:00.0"), a "vendor:device" id that matches exactly one device, or a decimal group number
 * when @ret_group is non-NULL. On success exactly one of *@ret_device and *@ret_group is set.
 * Errors: -EINVAL malformed, -ENOENT no such device or group, -ENOTUNIQ an id matching several
 * devices; *@ret_error then holds a sentence naming @spec and the problem (caller frees). */
int iom_inventory_resolve(const struct iom_inventory *inv, const char *spec,
                          struct iom_device **ret_device, struct iom_group **ret_group,
                          char **ret_error);
