/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Property getters shared by the bus objects. */
#pragma once

#include <systemd/sd-bus.h>

/* For C bool fields: sd-bus' automatic "b" getter reads an int. */
int bus_property_get_bool(sd_bus *bus, const char *path, const char *interface,
                          const char *property, sd_bus_message *reply, void *userdata,
                          sd_bus_error *error);
