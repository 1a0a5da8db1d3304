/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What orchestrators read: Manager.Export's text, and the NFD and Prometheus files kept
 * written when the inventory, ownership, policy or spaces change (iommud.export(7)). */
#pragma once

#include "iom-export.h"

struct manager;

/* Renders @format from the inventory, the policy in force and the daemon's counters. */
int manager_export(struct manager *m, enum iom_export_format format, char **ret);

/* Something the exports show changed: the files are written again at the next iteration of
 * the loop, or, a tenth of a second after the previous write if that is later, so a burst of
 * changes costs a write or two. No-op without files. */
void manager_exports_changed(struct manager *m);

/* Writes the configured files for the first time (at start, once the inventory is read). */
void manager_exports_start(struct manager *m);
