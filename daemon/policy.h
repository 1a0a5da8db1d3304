/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy in force: loading, reloading (a broken policy never replaces a good one), and
 * the decision on each planned assignment. */
#pragma once

#include "iom-plan.h"

struct manager;

/* Loads the policy directory; a reload is announced (PolicyReloaded, PropertiesChanged). At
 * start a broken policy is fatal (the errors are logged); on reload it is reported in
 * *@ret_error, one problem per line, and the policy in force stays. */
int manager_load_policy(struct manager *m, char **ret_error);

/* Asks the policy about every endpoint an assign plan moves: -EACCES naming the rule (or the
 * default deny) for the first device the guest may not have; otherwise each step records the
 * rule that allowed it. Other plans pass unchanged. */
int manager_check_policy(struct manager *m, struct iom_plan *plan, char **ret_error);

/* Queues a move to vfio-pci for every device an autobind rule matches that is elsewhere and
 * whose group nobody owns and no job moves yet: at start and after a rescan, as driverctl does;
 * for one device when it appears. */
void manager_autobind(struct manager *m);
void manager_autobind_device(struct manager *m, const struct iom_device *d);

/* The autobind of the device @device (an address) failed with @error: when it would fail the
 * same way again (the plan or the policy refused it, the driver rejected the device), it is not
 * tried again until the device is re-added (manager_autobind_forget()) or the policy reloaded,
 * logged once; a driver that did not let go in time, a busy device or a lack of memory or
 * threads (-ETIMEDOUT, -EBUSY, -EAGAIN, -ENOMEM) are tried again on the device's next event. */
void manager_autobind_failed(struct manager *m, const char *device, int error);
void manager_autobind_forget(struct manager *m, const struct iom_address *a);

/* The addresses (strv) of the VFs that @vfs VFs of @pf will have and that an autobind rule
 * gives to vfio-pci, judged before they exist: by the PF (vfs_of), the address they will
 * have, the PF's vendor and class and the VFs' device id (sriov_vf_device). */
int manager_sriov_vfio_vfs(struct manager *m, const struct iom_device *pf, unsigned vfs,
                           char ***ret);

/* Queues, for every PF a rule's sriov_numvfs matches, a job that gives it that many VFs: at
 * start only (iommud.policy(5)). */
void manager_sriov_by_policy(struct manager *m);

/* Replaces each of @names that is an alias of the policy by its address ("gpu" ->
 * "0000:01:00.0"), so aliases work wherever a device is named. */
int manager_resolve_aliases(struct manager *m, char **names);
