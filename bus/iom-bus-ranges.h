/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Arrays in variants on the bus, and IOVA ranges: a(tt) of (first, last) pairs, as the daemon
 * sends and takes them. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-bus.h>

/* Reads a variant holding an array of @element (a signature such as "(tt)") at the message's
 * position, calling @read_one for each element: it reads one and returns 1, or returns 0 at
 * the end (sd_bus_message_read()'s answer), or a negative errno. Returns 0, -ENXIO when the
 * variant holds something else, or a negative errno. */
int iom_bus_read_variant_array(sd_bus_message *m, const char *element,
                               int (*read_one)(sd_bus_message *m, void *userdata), void *userdata);

/* Walks an array of dictionary entries a{@entry} ("oa{sa{sv}}" for GetManagedObjects' answer)
 * at the message's position: @read_entry is called inside each entry, reads all of it and
 * returns 0 or a negative errno, which ends the walk. Returns 0 or that errno. */
int iom_bus_read_entries(sd_bus_message *m, const char *entry,
                         int (*read_entry)(sd_bus_message *m, void *userdata), void *userdata);

/* Walks a dictionary a{sv} (options, properties) at the message's position: for each entry,
 * @read_value is called with its key and the message at the entry's variant, which it must
 * read or skip; it returns 0 or a negative errno, which ends the walk. Returns 0 or that
 * errno. */
int iom_bus_read_dict(sd_bus_message *m,
                      int (*read_value)(sd_bus_message *m, const char *key, void *userdata),
                      void *userdata);

/* Reads a variant holding a(tt) (an option's or a property's value) at the message's
 * position, appending to *@ranges (realloc'ed; the caller frees it) and *@n, in time linear in
 * their number. Returns 0, -E2BIG when *@n would pass @max, or a negative errno. */
int iom_bus_read_ranges(sd_bus_message *m, size_t max, uint64_t (**ranges)[2], size_t *n);
