/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iommuctl export FORMAT [--output FILE]: what KubeVirt, Nova, NFD or Prometheus read of this
 * host, as the daemon renders it (iommud.export(7)). */
#include <stdio.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "iom-export.h"
#include "iom-file.h"
#include "iommuctl.h"
#include "macro.h"

int verb_export(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *text;
        int r;

        if (iom_export_format_from_string(argv[1]) < 0)
                return usage_error("unknown export format '%s'; known: kubevirt, kubevirt-yaml, "
                                   "nova, nfd, prometheus",
                                   argv[1]);
        r = iommuctl_bus_open(&bus);
        if (r >= 0)
                r = sd_bus_call_method(bus, "org.iommud1", "/org/iommud1", "org.iommud1.Manager",
                                       "Export", &error, &reply, "s", argv[1]);
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &text);
        if (r < 0)
                return bus_error("export", &error, r);
        if (!arg_output) {
                fputs(text, stdout);
                return fflush(stdout) == 0 ? 0 : -EIO;
        }
        /* Replaced whole: a collector reading the file never sees half of it. */
        r = iom_file_replace(arg_output, text, 0644, true);
        if (r < 0) {
                fprintf(stderr, "iommuctl: cannot write %s: %s\n", arg_output, strerror(-r));
                return r;
        }
        return 0;
}
