/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iommuctl explain DEVICE [--guest GUEST]: may this guest own this device, and why (not). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "iom-json-explain.h"
#include "iommuctl.h"
#include "macro.h"
#include "table.h"

static int print(const char *device, int allowed, char **kinds, char **texts, size_t n) {
        static const char *const headers[] = {"REASON", "DETAIL"};
        _cleanup_(table_freep) struct table *t = NULL;
        int r;

        if (arg_json) {
                _cleanup_free_ char *json =
                        iom_json_explain(device, arg_guest, allowed, kinds, texts, n);
                if (!json)
                        return -ENOMEM;
                puts(json);
                return 0;
        }
        if (arg_guest)
                printf("May '%s' own %s? %s.\n", arg_guest, device, allowed ? "Yes" : "No");
        else
                printf("What assigning %s involves:\n", device);
        t = table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const char *cells[] = {kinds[i], texts[i]};
                r = table_add_row(t, cells, NULL);
                if (r < 0)
                        return r;
        }
        return table_print(t, stdout);
}

int verb_explain(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **kinds = calloc(1, sizeof(char *)),
                                 **texts = calloc(1, sizeof(char *));
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *kind, *text;
        size_t n = 0;
        int allowed = 0, r;

        if (!kinds || !texts)
                return EXIT_REFUSED;
        r = iommuctl_bus_open(&bus);
        if (r >= 0)
                r = sd_bus_call_method(bus, "org.iommud1", "/org/iommud1", "org.iommud1.Manager",
                                       "Explain", &error, &reply, "ss", argv[1],
                                       strempty(arg_guest));
        if (r >= 0)
                r = sd_bus_message_read(reply, "b", &allowed);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(ss)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ss)", &kind, &text)) > 0) {
                char **k = realloc(kinds, (n + 2) * sizeof(char *));
                char **t = k ? realloc(texts, (n + 2) * sizeof(char *)) : NULL;
                if (k)
                        kinds = k;
                if (t)
                        texts = t;
                if (!k || !t)
                        return EXIT_REFUSED;
                kinds[n] = strdup(kind);
                texts[n] = strdup(text);
                n++;
                kinds[n] = texts[n] = NULL;
        }
        if (r >= 0)
                r = print(argv[1], allowed, kinds, texts, n);
        if (r < 0) {
                fprintf(stderr, "iommuctl: explain failed: %s\n",
                        error.message ? error.message : strerror(-r));
                sd_bus_error_free(&error);
                return EXIT_REFUSED;
        }
        return allowed ? 0 : EXIT_REFUSED;
}
