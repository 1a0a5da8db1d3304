/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* IOVA ranges on the bus: a(tt) of (first, last) pairs, as the daemon sends and takes them. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-bus.h>

/* Reads a variant holding a(tt) (an option's or a property's value) at the message's
 * position, appending to *@ranges (realloc'ed; the caller
 * frees it) and *@n. Returns 0 or a negative errno. */
int iom_bus_read_ranges(sd_bus_message *m, uint64_t (**ranges)[2], size_t *n);
