/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The stable JSON form of the inventory (iommuctl list and show --json; schema in iommuctl(1)). */
#pragma once

#include "iom-inventory.h"
#include "json-print.h"

/* Each returns a new document for json_print(), or NULL on OOM. @source is "daemon" or "host":
 * where the data was read. */
json_object *json_list(const struct iom_inventory *inv, const char *source);
json_object *json_show_device(const struct iom_inventory *inv, const struct iom_device *d,
                              const char *source);
json_object *json_show_group(const struct iom_inventory *inv, const struct iom_group *g,
                             const char *source);
