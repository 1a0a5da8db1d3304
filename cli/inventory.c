/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where iommuctl's read-only verbs get the inventory: the daemon, else the host itself. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "inventory-bus.h"
#include "iommuctl.h"
#include "macro.h"

/* Errors that mean "nobody serves org.iommud1 here", as opposed to a daemon that answered. */
static bool daemon_unreachable(int r) {
        /* No bus socket, a bus where the name has no owner and cannot be activated, or a
         * daemon that does not answer a read in time. */
        return r == -ETIMEDOUT || r == -ENOENT || r == -ECONNREFUSED || r == -EHOSTUNREACH ||
               r == -ENOTCONN || r == -ECONNRESET || r == -EACCES || r == -ENXIO;
}

static int load_from_host(struct iom_inventory **ret) {
        int r = iom_inventory_scan(ret);
        if (r < 0)
                fprintf(stderr, "iommuctl: cannot read the host's PCI devices: %s\n", strerror(-r));
        return r;
}

int inventory_load(struct iom_inventory **ret, const char **ret_source) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        *ret_source = "host";
        if (arg_offline)
                return load_from_host(ret);

        r = iommuctl_bus_open(&bus);
        if (r >= 0)
                r = inventory_from_bus(bus, ret, &error);
        if (r >= 0) {
                *ret_source = "daemon";
                return 0;
        }
        if (!daemon_unreachable(r)) {
                fprintf(stderr, "iommuctl: cannot read the inventory from iommud: %s\n",
                        error ? error : strerror(-r));
                return r;
        }
        fprintf(stderr, "iommuctl: iommud is not reachable (%s); reading the host directly.\n",
                error ? error : strerror(-r));
        return load_from_host(ret);
}
