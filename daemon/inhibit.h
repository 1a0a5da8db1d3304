/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* logind's sleep inhibitor, held while any group is owned by a guest. */
#pragma once

struct manager;

/* Follows logind's PrepareForSleep (a delay lock is let go when the host is about to sleep,
 * and taken again when it wakes), then takes the inhibitor when a guest owns a group. */
int inhibit_start(struct manager *m);

/* Takes the inhibitor (in the policy's sleep_inhibit mode) when a guest owns a group and none
 * is held, drops it when none does or the mode changed. Call after anything that can change
 * owners or the policy. Failures are logged: a host without logind runs without it. */
void inhibit_update(struct manager *m);

/* Drops the inhibitor and any Inhibit call in flight. */
void inhibit_release(struct manager *m);

/* Drops the inhibitor and stops following logind. */
void inhibit_stop(struct manager *m);
