/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The stable JSON form of an explanation (iommuctl explain --json). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* {"device", "guest": string | null, "allowed": bool, "reasons": [{"kind", "text"}]}. */
char *iom_json_explain(const char *device, const char *guest, bool allowed, char *const *kinds,
                       char *const *texts, size_t n);
