/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who may change what: each privileged method's polkit action, denied by default. */
#pragma once

#include <systemd/sd-bus.h>

#define IOMMUD_ACTION_MANAGE "org.iommud1.manage"
#define IOMMUD_ACTION_POLICY "org.iommud1.policy"
#define IOMMUD_ACTION_SPACES "org.iommud1.spaces"

/* Checks that the sender of @m may call @m's method. Root is allowed; anyone else is asked
 * of polkit, without interaction. Returns 1 when allowed, or a negative errno with @error set
 * (org.freedesktop.DBus.Error.AccessDenied) when not. A method missing from the table is
 * denied. */
int auth_check(sd_bus_message *m, sd_bus_error *error);

/* Whether the sender of @m is root, for options only an administrator may give ("force"). */
int auth_sender_is_root(sd_bus_message *m);
