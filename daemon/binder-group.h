/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The binder's transaction for whole groups, run on a worker thread. */
#pragma once

#include <stdbool.h>

#include "iom-plan.h"

struct manager;

/* Runs every group of @plan as a transaction: check what the host uses (unless @force) and
 * that the target drivers exist, journal the intent, move each device, verify, then record
 * the claim and drop the intent. A release first resets each device, and quarantines its
 * group instead when a reset fails or the claim says quarantine_after; the steps then record
 * what was done (reset_result, quarantine). A group that fails is put back as it was, and so are
 * the groups of @plan done before it. With @dry_run only the checks run: the same refusals, and
 * nothing written. Returns 0 or a negative errno with *@ret_error saying what failed. */
int binder_group_run_plan(struct manager *m, struct iom_plan *plan, bool force, bool dry_run,
                          char **ret_error);

/* Where a step leaves driver_override: assign and rebind keep the device on its new driver
 * across re-probes, a rebind to no driver keeps it unbound ("none"); release clears it, so
 * the host driver binds on its own from then on. */
const char *binder_step_final_override(const struct iom_plan *plan,
                                       const struct iom_plan_step *s);

/* Puts home the group of an intent left in the journal: finishes an unfinished release, rolls
 * back an unfinished assign or rebind. When a device is still held it fails and the intent
 * stays for the next try. Any thread, no job may hold the group. */
int binder_group_recover(struct manager *m, unsigned group, char **ret_error);
