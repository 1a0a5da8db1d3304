/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The stable JSON form of the inventory (iommuctl --json; schema in iommuctl(1)). */
#pragma once

#include "iom-inventory.h"

/* Each returns a newly allocated, pretty-printed JSON document, or NULL on OOM. @source is
 * "daemon" or "host": where the data was read. */
char *iom_json_list(const struct iom_inventory *inv, const char *source);
char *iom_json_show_device(const struct iom_inventory *inv, const struct iom_device *d,
                           const char *source);
char *iom_json_show_group(const struct iom_inventory *inv, const struct iom_group *g,
                          const char *source);
