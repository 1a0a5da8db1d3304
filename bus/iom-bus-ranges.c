/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Arrays in variants on the bus (properties, options): one walk for every reader of them, and
 * the IOVA ranges the daemon's options and the client's properties share. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "iom-bus-ranges.h"
#include "macro.h"

int iom_bus_read_variant_array(sd_bus_message *m, const char *element,
                               int (*read_one)(sd_bus_message *m, void *userdata), void *userdata) {
        char array[32];
        int r;

        if (snprintf(array, sizeof(array), "a%s", element) >= (int) sizeof(array))
                return -EINVAL;
        r = sd_bus_message_enter_container(m, 'v', array);
        if (r <= 0)
                return r < 0 ? r : -ENXIO;
        r = sd_bus_message_enter_container(m, 'a', element);
        if (r < 0)
                return r;
        while ((r = read_one(m, userdata)) > 0)
                ;
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int iom_bus_read_entries(sd_bus_message *m, const char *entry,
                         int (*read_entry)(sd_bus_message *m, void *userdata), void *userdata) {
        char array[64];
        int r;

        if (snprintf(array, sizeof(array), "{%s}", entry) >= (int) sizeof(array))
                return -EINVAL;
        r = sd_bus_message_enter_container(m, 'a', array);
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', entry)) > 0) {
                r = read_entry(m, userdata);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

struct dict {
        int (*read_value)(sd_bus_message *m, const char *key, void *userdata);
        void *userdata;
};

static int read_dict_entry(sd_bus_message *m, void *userdata) {
        struct dict *d = userdata;
        const char *key;
        int r = sd_bus_message_read_basic(m, 's', &key);

        return r < 0 ? r : d->read_value(m, key, d->userdata);
}

int iom_bus_read_dict(sd_bus_message *m,
                      int (*read_value)(sd_bus_message *m, const char *key, void *userdata),
                      void *userdata) {
        return iom_bus_read_entries(m, "sv", read_dict_entry, &(struct dict){read_value, userdata});
}

struct ranges {
        uint64_t (**ranges)[2];
        size_t *n;
        size_t max;
};

static int read_range(sd_bus_message *m, void *userdata) {
        struct ranges *x = userdata;
        uint64_t first, last;
        int r = sd_bus_message_read(m, "(tt)", &first, &last);

        if (r <= 0)
                return r;
        if (*x->n >= x->max)
                return -E2BIG;
        if (GREEDY_REALLOC(*x->ranges, *x->n + 1) < 0)
                return -ENOMEM;
        (*x->ranges)[*x->n][0] = first;
        (*x->ranges)[*x->n][1] = last;
        (*x->n)++;
        return 1;
}

int iom_bus_read_ranges(sd_bus_message *m, size_t max, uint64_t (**ranges)[2], size_t *n) {
        return iom_bus_read_variant_array(m, "(tt)", read_range, &(struct ranges){ranges, n, max});
}
