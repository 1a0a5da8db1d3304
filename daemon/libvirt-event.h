/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt's event loop on the daemon's own: one loop, no extra thread. */
#pragma once

#include <stdbool.h>

#include <systemd/sd-event.h>

/* Registers sd-event as libvirt's event implementation (virEventRegisterImpl): libvirt's
 * file descriptor watches and timers become sources of @event. Call once, before any libvirt
 * connection is opened; libvirt keeps it for the process's life, and calls it from any
 * thread. */
int libvirt_event_register(sd_event *event);

/* Whether the caller runs on the event loop's thread: libvirt calls back from others too. */
bool libvirt_event_on_loop(void);
