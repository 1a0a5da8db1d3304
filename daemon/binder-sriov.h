/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The binder's SR-IOV job: setting the number of virtual functions of a physical function. */
#pragma once

#include <stdbool.h>

#include "iom-plan.h"

struct manager;

/* On the loop: checks that @pf names a PF with the SR-IOV capability, that @vfs is at most its
 * total VFs (-EINVAL otherwise), and that neither it nor any of its current VFs has an owner
 * (-EEXIST naming the owner). The plan has no steps: it holds the groups of the PF and its VFs,
 * so that the job waits for changes to them, and they for it. *@ret_pf (when non-NULL) is
 * the PF. */
int binder_sriov_plan(struct manager *m, const char *pf, unsigned vfs, struct iom_plan **ret,
                      const struct iom_device **ret_pf, char **ret_error);

/* On the worker: makes @pf have @vfs VFs. When @vfio_vfs (the VFs an autobind rule gives to
 * vfio-pci, by address) is not empty, sriov_drivers_autoprobe is 0 while the VFs appear, and
 * each of those VFs gets driver_override vfio-pci before autoprobe is set back: no host driver
 * binds one first, and the autobind that follows the rescan binds it to vfio-pci. A count
 * other than 0 is reached through 0, as the kernel requires. *@ret_writes lists what was (with
 * @dry_run: would be) written, as attribute paths below /sys/bus/pci/devices and values, in
 * pairs and in order. */
int binder_sriov_run(const struct iom_address *pf, unsigned vfs, char *const *vfio_vfs,
                     bool dry_run, char ***ret_writes, char **ret_error);
