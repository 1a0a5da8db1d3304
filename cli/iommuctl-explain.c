/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iommuctl explain DEVICE [--guest GUEST]: may this guest own this device, and why (not). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "iommuctl.h"
#include "json-print.h"
#include "macro.h"
#include "table.h"

/* Prints the reasons of an Explain reply, a(ss) of kind and text, as a table or as
 * {"device", "guest", "allowed", "reasons": [{"kind", "text"}]}. */
static int print(const char *device, int allowed, sd_bus_message *reply) {
        static const char *const headers[] = {"REASON", "DETAIL"};
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(table_freep) struct table *t = NULL;
        json_object *reasons = NULL;
        const char *kind, *text;
        int r;

        if (arg_json) {
                o = json_document_new();
                reasons = json_object_new_array();
                if (!o || !reasons) {
                        json_object_put(reasons);
                        return -ENOMEM;
                }
                json_object_object_add(o, "device", json_object_new_string(device));
                json_object_object_add(
                        o, "guest",
                        json_string_or_null(arg_guest && *arg_guest ? arg_guest : NULL));
                json_object_object_add(o, "allowed", json_object_new_boolean(allowed));
                json_object_object_add(o, "reasons", reasons);
        } else if (!(t = table_new(ELEMENTSOF(headers), headers)))
                return -ENOMEM;

        r = sd_bus_message_enter_container(reply, 'a', "(ss)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ss)", &kind, &text)) > 0) {
                if (t) {
                        const char *cells[] = {kind, text};
                        r = table_add_row(t, cells, NULL);
                        continue;
                }
                json_object *row = json_object_new_object();
                json_object_object_add(row, "kind", json_object_new_string(kind));
                json_object_object_add(row, "text", json_object_new_string(text));
                r = json_object_array_add(reasons, row);
        }
        if (r < 0)
                return r;
        if (o)
                return json_print(o);
        if (arg_guest)
                printf("May '%s' own %s? %s.\n", arg_guest, device, allowed ? "Yes" : "No");
        else
                printf("What assigning %s involves:\n", device);
        return table_print(t, stdout);
}

int verb_explain(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int allowed = 0, r;

        r = iommuctl_bus_open(&bus);
        if (r >= 0)
                r = sd_bus_call_method(bus, "org.iommud1", "/org/iommud1", "org.iommud1.Manager",
                                       "Explain", &error, &reply, "ss", argv[1],
                                       strempty(arg_guest));
        if (r < 0)
                return bus_error("explain", &error, r);
        r = sd_bus_message_read(reply, "b", &allowed);
        if (r >= 0)
                r = print(argv[1], allowed, reply);
        if (r < 0) {
                fprintf(stderr, "iommuctl: cannot print iommud's explanation: %s\n", strerror(-r));
                return r;
        }
        return allowed ? 0 : VERB_NO;
}
