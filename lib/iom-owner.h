/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owners of IOMMU groups: guests (libvirt domain names or UUIDs) and local owners. */
#pragma once

#include <stdbool.h>

#define IOM_OWNER_NAME_MAX 256

/* Checks an owner name: a guest ("win11", a UUID) or a local owner ("uid:1000",
 * "unit:spdk.service"). Names are non-empty, at most IOM_OWNER_NAME_MAX bytes, valid UTF-8
 * is not required but control characters and '/' are refused. Returns 0 or -EINVAL with
 * *@ret_error (static) saying what is wrong. */
int iom_owner_validate(const char *name, const char **ret_error);

/* Whether @name is a local owner (uid:N or unit:NAME.service) rather than a guest. */
bool iom_owner_is_local(const char *name);
