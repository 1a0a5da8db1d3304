/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What iommuctl's verbs share: global options and the way to the inventory. */
#pragma once

#include <stdbool.h>

#include <systemd/sd-bus.h>

#include "iom-inventory.h"

/* Exit statuses (iommuctl(1)): refused or failed, and usage errors. */
#define EXIT_REFUSED 1
#define EXIT_USAGE 2

extern bool arg_json;
extern bool arg_offline;
extern bool arg_numeric;
extern bool arg_color;
extern bool arg_dry_run;
extern bool arg_force;
extern const char *arg_guest;
extern bool arg_ask_password;

/* Connects to the system bus, where iommud serves; calls on it let polkit ask for a password
 * (interactive authorization) unless --no-ask-password or stdin is not a terminal. */
int iommuctl_bus_open(sd_bus **ret);

/* Reads the inventory from the daemon, or from the host directly when the daemon cannot be
 * reached (said once on stderr) or --offline asks for it. *@ret_source: "daemon" or "host". */
int inventory_load(struct iom_inventory **ret, const char **ret_source);

int verb_list(int argc, char *argv[]);
int verb_show(int argc, char *argv[]);
int verb_assign(int argc, char *argv[]);
int verb_release(int argc, char *argv[]);
int verb_rebind(int argc, char *argv[]);
int verb_policy(int argc, char *argv[]);
int verb_explain(int argc, char *argv[]);
int verb_space(int argc, char *argv[]);
