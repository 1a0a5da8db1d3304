/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Names callers give: owners of IOMMU groups (guests, libvirt domain names or UUIDs, and local
 * owners) and kernel drivers. */
#pragma once

#include <stdbool.h>

#define IOM_OWNER_NAME_MAX 256
#define IOM_DRIVER_NAME_MAX 64

/* Checks an owner name: a guest ("win11", "café", a UUID) or a local owner ("uid:1000",
 * "unit:spdk.service"). A name is non-empty, at most IOM_OWNER_NAME_MAX bytes of valid
 * UTF-8, without '/', control characters (C0, DEL, C1), bidi controls or invisible format
 * characters, and neither starts nor ends with a blank, so that two names that read the same
 * are the same name. Returns 0, or -EINVAL with *@ret_error saying what is wrong and where
 * ("the owner name contains a bidi control U+202E at byte 5", bytes counted from 1). */
int iom_owner_validate(const char *name, char **ret_error);

/* Checks a kernel driver name as the kernel spells them ("vfio-pci", "snd_hda_intel"):
 * 1-64 of [A-Za-z0-9_.-]. ("none", "no driver" where a caller allows it, is one of them.)
 * Returns 0, or -EINVAL with *@ret_error completing
 * "'NAME' is not a driver name: " ("'/' at byte 2 is not a letter, digit, '_', '.' or '-'"). */
int iom_driver_name_validate(const char *name, char **ret_error);
