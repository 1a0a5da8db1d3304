/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one place errno values become org.iommud1.Error.* names, and back. */
#pragma once

#include <systemd/sd-bus.h>

#define IOMMUD_ERROR_NOT_FOUND "org.iommud1.Error.NotFound"
#define IOMMUD_ERROR_INVALID_ARGUMENT "org.iommud1.Error.InvalidArgument"
#define IOMMUD_ERROR_IN_USE "org.iommud1.Error.InUse"
#define IOMMUD_ERROR_OWNED "org.iommud1.Error.Owned"
#define IOMMUD_ERROR_NOT_VIABLE "org.iommud1.Error.NotViable"
#define IOMMUD_ERROR_BUSY "org.iommud1.Error.Busy"
#define IOMMUD_ERROR_FAILED "org.iommud1.Error.Failed"
#define IOMMUD_ERROR_POLICY_DENIED "org.iommud1.Error.PolicyDenied"
#define IOMMUD_ERROR_NOT_OWNER "org.iommud1.Error.NotOwner"
/* The mapping core's (org.iommud1.Space). */
#define IOMMUD_ERROR_OVERLAP "org.iommud1.Error.Overlap"
#define IOMMUD_ERROR_RESERVED "org.iommud1.Error.Reserved"
#define IOMMUD_ERROR_LIMIT_EXCEEDED "org.iommud1.Error.LimitExceeded"
#define IOMMUD_ERROR_FAULT "org.iommud1.Error.Fault"
#define IOMMUD_ERROR_QUARANTINED "org.iommud1.Error.Quarantined"

/* Registers the map with sd-bus so sd_bus_error_set_errnof() names our errors and a client's
 * sd_bus_error_get_errno() gets the errno back. Call once per process before using the bus. */
int bus_error_register(void);

/* Sets @error from a negative errno and a message; errno values without a name of ours become
 * the nearest one (ambiguous names are invalid arguments, timeouts are "busy"). Returns the
 * (negative) errno sd-bus will report. */
int bus_error_set_errno(sd_bus_error *error, int r, const char *message);

/* The same with a printf-style message. */
int bus_error_set_errnof(sd_bus_error *error, int r, const char *format, ...)
        __attribute__((format(printf, 3, 4)));
