/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Human spellings shared by iommuctl's verbs. */
#pragma once

#include <stdio.h>

#include "iom-inventory.h"

#define IDS_STRING_MAX 10

/* "8086:10d3" */
char *format_ids(const struct iom_device *d, char buf[static IDS_STRING_MAX]);

/* "Intel Corporation 82574L Gigabit Network Connection", with " [8086:10d3]" under
 * --numeric, or just the ids when pci.ids knows neither name. */
char *device_title(const struct iom_device *d);

/* "VGA compatible controller", or the class code when unnamed. */
char *device_class(const struct iom_device *d);

/* The lines a person must read along with groups: why there are none, ACS override,
 * interrupt remapping. */
void print_host_notices(const struct iom_host *h, FILE *f);
