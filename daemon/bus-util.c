/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Property getters shared by the bus objects. */
#include <stdbool.h>

#include "bus-util.h"

int bus_property_get_bool(sd_bus *bus, const char *path, const char *interface,
                          const char *property, sd_bus_message *reply, void *userdata,
                          sd_bus_error *error) {
        int b = *(bool *) userdata;
        return sd_bus_message_append_basic(reply, 'b', &b);
}
