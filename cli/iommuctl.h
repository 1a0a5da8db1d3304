/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What iommuctl's verbs share: global options and the way to the inventory. */
#pragma once

#include <stdbool.h>

#include <systemd/sd-bus.h>

#include "iom-inventory.h"
#include "macro.h"

/* What a verb returns; main() alone turns it into the exit status (iommuctl(1), EXIT STATUS):
 * 0, a negative errno once stderr says what failed and what to do, or one of these. */
#define VERB_NO 1    /* a question answered with no (explain) */
#define VERB_USAGE 2 /* the command line is wrong; stderr says how */

extern bool arg_json;
extern bool arg_offline;
extern bool arg_numeric;
extern bool arg_color;
extern bool arg_dry_run;
extern bool arg_force;
extern bool arg_from_quarantine;
extern const char *arg_guest;
extern bool arg_ask_password;
extern const char *arg_output;

/* Connects to the system bus, where iommud serves; calls on it let polkit ask for a password
 * (interactive authorization) unless --no-ask-password or stdin is not a terminal. */
int iommuctl_bus_open(sd_bus **ret);

/* Whether a failed call (@error may be NULL or unset: then @r alone) means that nobody serves
 * org.iommud1 on the system bus, as opposed to a daemon that answered. */
bool bus_unreachable(const sd_bus_error *error, int r);

/* The one way a failed call to iommud is told: "iommuctl: @what ..." on stderr with what to
 * do (start the daemon, ask an administrator), and the daemon's error name and message.
 * Returns @r (negative). */
int bus_error(const char *what, const sd_bus_error *error, int r);

/* "iommuctl: out of memory" on stderr; returns -ENOMEM. */
int log_oom(void);

/* "iommuctl: ..." on stderr, for a wrong command line; returns VERB_USAGE. */
int usage_error(const char *format, ...) _printf_(1, 2);

/* Reads the inventory from the daemon, or from the host directly when the daemon cannot be
 * reached (said once on stderr) or --offline asks for it. *@ret_source: "daemon" or "host". */
int inventory_load(struct iom_inventory **ret, const char **ret_source);

int verb_list(int argc, char *argv[]);
int verb_show(int argc, char *argv[]);
int verb_assign(int argc, char *argv[]);
int verb_release(int argc, char *argv[]);
int verb_rebind(int argc, char *argv[]);
int verb_sriov(int argc, char *argv[]);
int verb_policy(int argc, char *argv[]);
int verb_explain(int argc, char *argv[]);
int verb_space(int argc, char *argv[]);
int verb_export(int argc, char *argv[]);
int verb_monitor(int argc, char *argv[]);
