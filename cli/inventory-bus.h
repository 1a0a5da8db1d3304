/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inventory as the daemon serves it. */
#pragma once

#include <systemd/sd-bus.h>

#include "iom-inventory.h"

/* Calls GetManagedObjects on org.iommud1 and builds the model from the properties. On a bus
 * error *@ret_error holds the daemon's or the bus' message. */
int inventory_from_bus(sd_bus *bus, struct iom_inventory **ret, char **ret_error);
