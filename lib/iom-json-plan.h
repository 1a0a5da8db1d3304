/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The stable JSON form of a change's plan (iommuctl assign/release/rebind --json). */
#pragma once

#include "iom-plan.h"

/* {"dry_run": bool, "plan": [{"address", "from", "to", "named", "reason"}]}; NULL on OOM. */
char *iom_json_plan(const struct iom_plan *p, bool dry_run);
