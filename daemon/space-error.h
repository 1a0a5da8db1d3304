/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A space's refusals in words (daemon/space-error.c). Each sets @error and returns the
 * negative errno of its org.iommud1.Error.* name. */
#pragma once

#include <stdint.h>

#include <systemd/sd-bus.h>

struct space;

/* Why [iova, iova + size) -> target is invalid (-EINVAL): the first rule it breaks. */
int explain_invalid(const struct space *s, uint64_t iova, uint64_t size, uint64_t target,
                    sd_bus_error *error);

/* A map or unmap the core refused with @r: InvalidArgument, Overlap (naming the mapping),
 * Reserved (naming the range), LimitExceeded (naming the limit). */
int explain_change(const struct space *s, int r, uint64_t iova, uint64_t size, uint64_t target,
                   unsigned prot, sd_bus_error *error);

/* A translate that faulted with @r, as a Fault with its reason. */
int explain_fault(const struct space *s, int r, uint64_t iova, unsigned access,
                  sd_bus_error *error);
