/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who may call what: one table of every method of ours, checked by a bus filter before any
 * handler runs, with polkit asked asynchronously. Anything not in the table is denied. */
#pragma once

#include <systemd/sd-bus.h>

#define IOMMUD_ACTION_MANAGE "org.iommud1.manage"
#define IOMMUD_ACTION_REBIND "org.iommud1.rebind"
#define IOMMUD_ACTION_POLICY "org.iommud1.policy"
#define IOMMUD_ACTION_SPACES "org.iommud1.spaces"

/* At most this many polkit questions wait at once, and this many per caller: a caller that
 * asks more gets org.iommud1.Error.Busy at once. */
#define AUTH_PENDING_MAX 256u
#define AUTH_PENDING_PER_SENDER_MAX 16u

struct manager;
struct auth;

/* Installs the filter on the manager's bus. Every method call to an org.iommud1 interface is
 * decided from its member, its object and its sender alone, before its arguments are read:
 * public methods pass; a space's methods pass for its creator (and, for those that only read,
 * root); a privileged method passes for root and for anyone else when polkit says so. Who the
 * sender is (the bus) and what polkit says are asked without blocking the loop, polkit with
 * interaction when the caller allows it; the call is dispatched again when the answer comes. */
int auth_new(struct manager *m, struct auth **ret);
struct auth *auth_free(struct auth *a);

/* Whether the sender of @m is root, for options only an administrator may give ("force"):
 * known in the handler of a call whose sender the filter asked the bus about (every
 * privileged method); -ENODATA for any other. */
int auth_sender_is_root(struct auth *a, sd_bus_message *m);
