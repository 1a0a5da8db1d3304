/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* IOVA ranges on the bus: one reader for the daemon's options and the client's properties. */
#include <errno.h>
#include <stdlib.h>

#include "iom-bus-ranges.h"

int iom_bus_read_ranges(sd_bus_message *m, uint64_t (**ranges)[2], size_t *n) {
        uint64_t first, last;
        int r;

        r = sd_bus_message_enter_container(m, 'v', "a(tt)");
        if (r <= 0)
                return r < 0 ? r : -ENXIO;
        r = sd_bus_message_enter_container(m, 'a', "(tt)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(tt)", &first, &last)) > 0) {
                uint64_t(*a)[2] = reallocarray(*ranges, *n + 1, sizeof(*a));
                if (!a)
                        return -ENOMEM;
                *ranges = a;
                (*ranges)[*n][0] = first;
                (*ranges)[*n][1] = last;
                (*n)++;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}
