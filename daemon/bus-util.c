/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Property getters shared by the bus objects. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bus-util.h"
#include "iom-strv.h"
#include "macro.h"

int bus_property_get_bool(sd_bus *bus, const char *path, const char *interface,
                          const char *property, sd_bus_message *reply, void *userdata,
                          sd_bus_error *error) {
        int b = *(bool *) userdata;
        return sd_bus_message_append_basic(reply, 'b', &b);
}

int bus_path_get_id(const char *path, const char *prefix, uint32_t *ret) {
        size_t n = strlen(prefix);
        const char *suffix;
        unsigned long id;
        char *end;

        if (strncmp(path, prefix, n) != 0 || path[n] != '/')
                return -EINVAL;
        suffix = path + n + 1;
        /* Decimal without leading zeros or signs: one spelling per object. */
        if (suffix[0] < '0' || suffix[0] > '9' || (suffix[0] == '0' && suffix[1]))
                return -EINVAL;
        errno = 0;
        id = strtoul(suffix, &end, 10);
        if (errno || *end || id > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) id;
        return 0;
}

int bus_read_strv(sd_bus_message *m, size_t max, char ***ret) {
        _cleanup_(iom_strv_done) struct iom_strv strv = {};
        const char *s;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read_basic(m, 's', &s)) > 0) {
                if (strv.n == max)
                        return -E2BIG;
                if (iom_strv_push_copy(&strv, s) < 0)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        if (!strv.v && !(strv.v = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(strv.v);
        return 0;
}
