/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sysfs operations of rebinding one PCI device, each bounded by a deadline.
 *
 * A write to a driver's "unbind" runs the driver's remove path and can block without limit
 * while someone holds the device (a DRM client, a VFIO user). Every write therefore happens in
 * a forked child the caller waits for with a deadline: on expiry the child is killed (it dies
 * once the kernel lets go) and the caller gets -ETIMEDOUT, with the processes that hold the
 * device's nodes when asked. These functions are safe to call from any thread. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "iom-address.h"

/* Writes @driver to the device's driver_override, or clears it (NULL) by writing "\n": some
 * kernels refuse a zero-byte write. */
int iom_bind_set_override(const struct iom_address *a, const char *driver, uint64_t timeout_usec);

/* Writes @value to the device's sysfs @attribute ("sriov_numvfs"), as one write. */
int iom_bind_write_attribute(const struct iom_address *a, const char *attribute,
                             const char *value, uint64_t timeout_usec);

/* The bound driver's name, or NULL when none. */
int iom_bind_get_driver(const struct iom_address *a, char **ret);

/* Unbinds the device from its driver. On -ETIMEDOUT *@ret_holders (when non-NULL) names the
 * processes with open file descriptors on the device's nodes ("qemu-system-x86 (pid 812)"). */
int iom_bind_unbind(const struct iom_address *a, uint64_t timeout_usec, char **ret_holders);

/* Asks the PCI core to probe drivers for the device (/sys/bus/pci/drivers_probe). */
int iom_bind_probe(const struct iom_address *a, uint64_t timeout_usec);

/* Waits until @driver is bound to the device; -ETIMEDOUT with another or no driver. */
int iom_bind_wait_driver(const struct iom_address *a, const char *driver, uint64_t timeout_usec);

/* Loads the module providing @driver unless the driver is registered already; with @dry_run
 * only asks modprobe whether it could. -ENOENT when there is no such driver nor module,
 * -ENOPKG without modprobe. */
int iom_bind_load_module(const char *driver, bool dry_run, uint64_t timeout_usec);

/* Waits for /dev/vfio/<group>. */
int iom_bind_wait_vfio_node(unsigned group, uint64_t timeout_usec);

/* Processes with a descriptor open on a character or block device node of the device (and on
 * /dev/vfio/<group> when @group >= 0): "name (pid N), ..."; NULL when there are none. */
int iom_bind_find_holders(const struct iom_address *a, int group, char **ret);

/* The reset methods a policy may name, NULL-terminated: IOM_RESET_DEFAULT, our name for the
 * kernel's own order, then those the kernel knows (Documentation/ABI/testing/sysfs-bus-pci,
 * reset_method) in its order. */
#define IOM_RESET_DEFAULT "default"
extern const char *const iom_reset_methods[];
bool iom_reset_method_is_known(const char *method);

/* Resets the device through sysfs: with @method (NULL or "default": the kernel's order of the
 * methods the device offers) written to reset_method first and its previous content written
 * back after, then "1" to reset, within @timeout_usec. The device should be on no host driver
 * (vfio-pci or none). -EOPNOTSUPP with *@ret_error naming the problem when the device offers
 * no reset or not @method, or the kernel finds none that works now; other failures are the
 * kernel's answer to the writes. */
int iom_bind_reset(const struct iom_address *a, const char *method, uint64_t timeout_usec,
                   char **ret_error);

/* Writes @value (0 or 1) to the device's d3cold_allowed within @timeout_usec, and returns the
 * value it had in *@ret_was (when non-NULL). -ENOENT when the kernel has no such attribute for
 * it. */
int iom_bind_set_d3cold(const struct iom_address *a, bool value, uint64_t timeout_usec,
                        bool *ret_was);
