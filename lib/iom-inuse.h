/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the host is using behind a PCI device: the things an unbind would yank away. */
#pragma once

#include "iom-address.h"

/* Finds the host's uses of the device at @a, each as a sentence a person understands:
 * "nvme0n1p1 is mounted at /srv", "nvme0n1p2 is used as swap", "dm-0 (LVM/dm on nvme0n1p3) is
 * mounted at /home", "nvme1n1 (with nvme0n1p1 in one btrfs filesystem) is mounted at /data",
 * "nvme0n1p1 is mounted at /data in the mount namespace of PID 1234 (postgres)",
 * "nvme0n1p3 is held open exclusively by the kernel (a filesystem or volume manager)",
 * "enp1s0 is up with 10.0.2.15 and carries the default route", "enp1s0 is a port of br0,
 * which is up with 10.0.0.2", "fb0 on this device drives the console", "input5 (AT Keyboard)
 * is attached".
 * Returns a NULL-terminated vector (empty when the host uses nothing behind it).
 * Reads sysfs, $IOMMUD_PROC_ROOT (self/mountinfo, the mountinfo of one process per other mount
 * namespace, swaps, net/route, net/ipv6_route, net/if_inet6), the IPv4 addresses (getifaddrs)
 * and probes block nodes in /dev with an exclusive open. Its cost grows with the number of
 * processes: call it off the event loop. */
int iom_inuse_scan(const struct iom_address *a, char ***ret_uses);

/* The same, joined with "; "; NULL when there is no use. */
int iom_inuse_describe(const struct iom_address *a, char **ret);
