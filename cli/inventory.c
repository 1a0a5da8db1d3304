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

static int load_from_host(struct iom_inventory **ret) {
        int r = iom_inventory_scan(ret);
        if (r < 0)
                fprintf(stderr, "iommuctl: cannot read the host's PCI devices from sysfs: %s\n",
                        strerror(-r));
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
        if (r >= 0) {
                r = inventory_from_bus(bus, ret, &error);
                if (r >= 0) {
                        *ret_source = "daemon";
                        return 0;
                }
                /* A call that failed says so in @error; without it, the answer did not read. */
                if (r == -ENOMEM)
                        return log_oom();
                if (!error) {
                        fprintf(stderr,
                                "iommuctl: iommud answered with an inventory this iommuctl cannot "
                                "read (%s): restart iommud after an upgrade ('systemctl restart "
                                "iommud'), or read the host with --offline\n",
                                strerror(-r));
                        return r;
                }
                if (!bus_unreachable(NULL, r)) {
                        fprintf(stderr,
                                "iommuctl: iommud refused the inventory (%s); --offline reads the "
                                "host directly\n",
                                error);
                        return r;
                }
        }
        fprintf(stderr,
                "iommuctl: iommud is not running or not reachable on the system bus (%s); "
                "reading the host directly.\n",
                error ? error : strerror(-r));
        return load_from_host(ret);
}
