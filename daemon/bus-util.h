/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Property getters shared by the bus objects. */
#pragma once

#include <stdint.h>

#include <systemd/sd-bus.h>

/* For C bool fields: sd-bus' automatic "b" getter reads an int. */
int bus_property_get_bool(sd_bus *bus, const char *path, const char *interface,
                          const char *property, sd_bus_message *reply, void *userdata,
                          sd_bus_error *error);

/* The decimal id at the end of @path below @prefix ("/org/iommud1/group/7" -> 7), spelled one
 * way only: no sign, no leading zero. Returns 0, or -EINVAL for any other path. */
int bus_path_get_id(const char *path, const char *prefix, uint32_t *ret);

/* Reads an array of strings ("as") at the message's position, at most @max of them, in time
 * linear in their number (sd_bus_message_read_strv() is quadratic in libsystemd 252). Returns
 * 0, -E2BIG when the array holds more than @max, or a negative errno. */
int bus_read_strv(sd_bus_message *m, size_t max, char ***ret);
