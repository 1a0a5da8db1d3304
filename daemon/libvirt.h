/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Following libvirt's domains: who runs, who stopped, which PCI devices each holds. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct manager;
struct libvirt;

#define LIBVIRT_DEFAULT_URI "qemu:///system"
/* Reconnection waits double from the first to the last, and stay there. */
#define LIBVIRT_RETRY_FIRST_USEC (1 * UINT64_C(1000000))
#define LIBVIRT_RETRY_MAX_USEC (60 * UINT64_C(1000000))
/* How long one libvirt call may take before the connection is given up (--libvirt-timeout). */
#define LIBVIRT_TIMEOUT_DEFAULT_USEC (30 * UINT64_C(1000000))

/* Starts following the libvirt at @uri (read-only): a connection now or, while libvirt is
 * absent or restarting, retried with backoff; the daemon serves meanwhile. libvirt is only
 * called off the loop; a call that takes longer than @timeout_usec drops the connection, which
 * is opened again later. At every
 * connection the running domains are reconciled with the groups' owners (see iommud(8),
 * LIBVIRT): a running domain's devices on vfio-pci become its own, a group whose owner libvirt
 * started (its UUID is recorded) but no longer runs goes home, a device two claim is reported.
 * Then lifecycle events keep it so: a domain that stops gives its groups back. */
int libvirt_new(struct manager *m, const char *uri, uint64_t timeout_usec, struct libvirt **ret);
struct libvirt *libvirt_free(struct libvirt *l);

/* The state of the domain named @name as libvirt last told ("running", "paused", "shut off",
 * "crashed", ...), or NULL when libvirt is not connected or knows no such domain. */
const char *libvirt_domain_state(const struct libvirt *l, const char *name);
