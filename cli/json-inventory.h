/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The stable JSON form of the inventory (iommuctl list and show --json; schema in iommuctl(1)). */
#pragma once

#include "iom-inventory.h"
#include "json-writer.h"

/* Each prints its document on stdout as it walks the inventory (no tree of 2000 devices in
 * memory first); -EIO when stdout does not take it. @source is "daemon" or "host": where the
 * data was read. */
int json_list(const struct iom_inventory *inv, const char *source);
int json_show_device(const struct iom_inventory *inv, const struct iom_device *d,
                     const char *source);
int json_show_group(const struct iom_inventory *inv, const struct iom_group *g, const char *source);
