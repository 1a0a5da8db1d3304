/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.iommud1.Space at /org/iommud1/space/<N>: the mapping core over the bus. Every error
 * names the rule that was broken and changes nothing. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-error.h"
#include "bus-util.h"
#include "export.h"
#include "manager.h"
#include "space-error.h"
#include "space.h"

/* Bounds on what one reply may carry (a D-Bus array holds at most 64 MiB). */
#define LIST_MAX 65536u
#define DIRTY_BITMAP_MAX (UINT64_C(16) << 20)
/* Bounds on what one call may carry in. */
#define MAP_BATCH_MAX (1u << 20)

/* ---- Finding spaces ---- */

static int space_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                             void **ret_found, sd_bus_error *error) {
        struct space *s;
        uint32_t id;

        if (bus_path_get_id(path, IOMMUD_SPACE_PREFIX, &id) < 0)
                return 0;
        s = space_find(userdata, id);
        if (!s)
                return 0;
        *ret_found = s;
        return 1;
}

static int space_enumerate(sd_bus *bus, const char *path, void *userdata, char ***ret_nodes,
                           sd_bus_error *error) {
        struct manager *m = userdata;
        _cleanup_strv_free_ char **nodes = calloc(m->n_spaces + 1, sizeof(char *));

        if (!nodes)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_spaces; i++)
                if (!(nodes[i] = strdup(m->spaces[i]->path)))
                        return -ENOMEM;
        *ret_nodes = TAKE_PTR(nodes);
        return 0;
}

/* A creator past its memory limit maps nothing more until it unmaps or destroys. */
static int check_creator_memory(const struct space *s, sd_bus_error *error) {
        if (!space_creator_over_memory(s))
                return 0;
        return sd_bus_error_setf(error, IOMMUD_ERROR_LIMIT_EXCEEDED,
                                 "The spaces of %s hold %" PRIu64 " MiB of the daemon's memory, "
                                 "the most one bus peer may; unmap or destroy first",
                                 s->creator, SPACE_MEMORY_PER_CREATOR_MAX >> 20);
}

/* ---- Methods ---- */

static int method_map(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        struct space *s = userdata;
        uint64_t iova, size, target;
        uint32_t prot;
        int r;

        r = sd_bus_message_read(message, "tttu", &iova, &size, &target, &prot);
        if (r < 0)
                return r;
        r = check_creator_memory(s, error);
        if (r < 0)
                return r;
        r = iom_space_map(s->core, iova, size, target, prot);
        if (r < 0)
                return explain_change(s, r, iova, size, target, prot, error);
        manager_exports_changed(s->manager); /* the mapped bytes in --metrics-file */
        return sd_bus_reply_method_return(message, NULL);
}

struct batch_entry {
        uint64_t iova, size, target;
        uint32_t prot;
};

static int read_batch(sd_bus_message *message, struct batch_entry **ret, size_t *ret_n) {
        _cleanup_free_ struct batch_entry *entries = NULL;
        size_t n = 0;
        struct batch_entry e;
        int r;

        r = sd_bus_message_enter_container(message, 'a', "(tttu)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(message, "(tttu)", &e.iova, &e.size, &e.target, &e.prot)) >
               0) {
                if (n == MAP_BATCH_MAX)
                        return -E2BIG;
                if (GREEDY_REALLOC(entries, n + 1) < 0)
                        return -ENOMEM;
                entries[n++] = e;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(message);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(entries);
        *ret_n = n;
        return 0;
}

/* All or nothing: on the first refusal, what this batch mapped is taken back (quietly: no
 * reader could have been handed it, the loop serves one call at a time). */
static int method_map_batch(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        struct space *s = userdata;
        _cleanup_free_ struct batch_entry *entries = NULL;
        sd_bus_error inner = SD_BUS_ERROR_NULL;
        size_t n;
        int r;

        r = read_batch(message, &entries, &n);
        if (r == -E2BIG)
                return sd_bus_error_setf(error, IOMMUD_ERROR_INVALID_ARGUMENT,
                                         "At most %u mappings in one batch", MAP_BATCH_MAX);
        if (r < 0)
                return r;
        r = check_creator_memory(s, error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const struct batch_entry *e = &entries[i];

                r = iom_space_map(s->core, e->iova, e->size, e->target, e->prot);
                if (r >= 0)
                        continue;
                /* Explained before the rollback: the mapping in the way may be this batch's. */
                (void) explain_change(s, r, e->iova, e->size, e->target, e->prot, &inner);
                s->quiet = true;
                for (size_t j = i; j > 0; j--)
                        (void) iom_space_unmap(s->core, entries[j - 1].iova, entries[j - 1].size,
                                               NULL);
                s->quiet = false;
                r = sd_bus_error_setf(error, inner.name, "Entry %zu of %zu: %s; nothing was mapped",
                                      i, n, inner.message);
                sd_bus_error_free(&inner);
                return r;
        }
        manager_exports_changed(s->manager);
        return sd_bus_reply_method_return(message, NULL);
}

static int method_unmap(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        struct space *s = userdata;
        uint64_t iova, size, unmapped;
        int r;

        r = sd_bus_message_read(message, "tt", &iova, &size);
        if (r < 0)
                return r;
        r = iom_space_unmap(s->core, iova, size, &unmapped);
        space_announce_unmapped(s);
        manager_exports_changed(s->manager);
        if (r < 0)
                return explain_change(s, r, iova, size, 0, IOM_SPACE_RW, error);
        return sd_bus_reply_method_return(message, "t", unmapped);
}

static int method_translate(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        struct space *s = userdata;
        uint64_t iova, target, contiguous;
        uint32_t access;
        unsigned prot;
        int r;

        r = sd_bus_message_read(message, "tu", &iova, &access);
        if (r < 0)
                return r;
        r = iom_space_translate(s->core, iova, access, &target, &prot, &contiguous);
        if (r < 0)
                return explain_fault(s, r, iova, access, error);
        return sd_bus_reply_method_return(message, "tut", target, (uint32_t) prot, contiguous);
}

static int method_get_dirty(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct space *s = userdata;
        _cleanup_free_ uint8_t *bitmap = NULL;
        uint64_t iova, size, bytes;
        int clear, r;

        r = sd_bus_message_read(message, "ttb", &iova, &size, &clear);
        if (r < 0)
                return r;
        /* Root may read the bitmap (the filter let it through); clearing it is the
         * creator's, whose migration reads it. */
        if (clear && !streq_ptr(sd_bus_message_get_sender(message), s->creator))
                return sd_bus_error_setf(error, IOMMUD_ERROR_NOT_OWNER,
                                         "Space %" PRIu32 " belongs to %s, which created it; only "
                                         "it may clear its dirty bitmap",
                                         s->id, s->creator);
        if (!iom_space_get_dirty_tracking(s->core))
                return bus_error_set_errnof(error, -EINVAL,
                                            "Dirty tracking is off: SetDirtyTracking(true) first");
        if (size == 0 || (iova | size) & (IOM_SPACE_PAGE_SIZE - 1))
                return explain_invalid(s, iova, size, 0, error);
        bytes = (size / IOM_SPACE_PAGE_SIZE + 7) / 8;
        if (bytes > DIRTY_BITMAP_MAX)
                return bus_error_set_errnof(
                        error, -EINVAL,
                        "0x%" PRIx64 " bytes is more than one call reads: at most %" PRIu64 " GiB",
                        size, DIRTY_BITMAP_MAX * 8 * IOM_SPACE_PAGE_SIZE >> 30);
        bitmap = malloc(bytes);
        if (!bitmap)
                return -ENOMEM;
        r = iom_space_get_dirty(s->core, iova, size, clear, bitmap, bytes);
        if (r < 0)
                return explain_invalid(s, iova, size, 0, error);
        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(reply, 'y', bitmap, bytes);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_set_dirty_tracking(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        struct space *s = userdata;
        int enable, r;

        r = sd_bus_message_read(message, "b", &enable);
        if (r < 0)
                return r;
        r = iom_space_set_dirty_tracking(s->core, enable);
        if (r < 0)
                return bus_error_set_errnof(error, r, "Dirty tracking cannot be turned %s: %s",
                                            enable ? "on" : "off", strerror(-r));
        (void) sd_bus_emit_properties_changed(sd_bus_message_get_bus(message), s->path,
                                              "org.iommud1.Space", "DirtyTracking", NULL);
        return sd_bus_reply_method_return(message, NULL);
}

static int method_destroy(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        space_destroy(userdata);
        return sd_bus_reply_method_return(message, NULL);
}

/* ListMappings(t from, u max) -> a(tttu): the mappings that end at or after @from, in
 * address order, at most @max of them (0 or more than 65536: 65536); page on from the end
 * of the last one. */
static int method_list_mappings(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct space *s = userdata;
        struct iom_mapping m;
        uint64_t from;
        uint32_t max;
        int r;

        r = sd_bus_message_read(message, "tu", &from, &max);
        if (r < 0)
                return r;
        if (max == 0 || max > LIST_MAX)
                max = LIST_MAX;
        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(tttu)");
        for (uint32_t i = 0; r >= 0 && i < max && iom_space_next_mapping(s->core, from, &m) >= 0;
             i++) {
                r = sd_bus_message_append(reply, "(tttu)", m.iova, m.size, m.target,
                                          (uint32_t) m.prot);
                from = m.iova + m.size;
                if (from == 0) /* the last page of a 64-bit space */
                        break;
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* ---- Properties ---- */

static int property_get_string(sd_bus *bus, const char *path, const char *interface,
                               const char *property, sd_bus_message *reply, void *userdata,
                               sd_bus_error *error) {
        struct space *s = userdata;
        _cleanup_free_ char *group = NULL;

        if (streq(property, "Guest"))
                return sd_bus_message_append(reply, "s", s->guest);
        if (streq(property, "Creator"))
                return sd_bus_message_append(reply, "s", s->creator);
        /* Group: the group object backing it, "/" when none. */
        if (s->has_group && !(group = manager_group_path(s->group)))
                return -ENOMEM;
        return sd_bus_message_append(reply, "o", group ? group : "/");
}

static int property_get_counts(sd_bus *bus, const char *path, const char *interface,
                               const char *property, sd_bus_message *reply, void *userdata,
                               sd_bus_error *error) {
        struct space *s = userdata;
        struct iom_space_config c;
        struct iom_space_stats st;
        uint64_t v;

        iom_space_get_config(s->core, &c);
        iom_space_get_stats(s->core, &st);
        if (streq(property, "Mappings"))
                v = st.mappings;
        else if (streq(property, "MappedBytes"))
                v = st.mapped_bytes;
        else if (streq(property, "PinnedBytes"))
                v = st.pinned_bytes;
        else if (streq(property, "MaxMappings"))
                v = c.max_mappings;
        else if (streq(property, "MaxPinnedBytes"))
                v = c.max_pinned_bytes;
        else
                v = c.page_sizes;
        return sd_bus_message_append(reply, "t", v);
}

static int property_get_aperture(sd_bus *bus, const char *path, const char *interface,
                                 const char *property, sd_bus_message *reply, void *userdata,
                                 sd_bus_error *error) {
        struct space *s = userdata;
        struct iom_space_config c;

        iom_space_get_config(s->core, &c);
        return sd_bus_message_append(reply, "(tt)", c.aperture_first, c.aperture_last);
}

static int property_get_reserved(sd_bus *bus, const char *path, const char *interface,
                                 const char *property, sd_bus_message *reply, void *userdata,
                                 sd_bus_error *error) {
        struct space *s = userdata;
        size_t n = iom_space_get_reserved(s->core, NULL, 0);
        _cleanup_free_ uint64_t(*ranges)[2] = calloc(n ? n : 1, sizeof(*ranges));
        int r;

        if (!ranges)
                return -ENOMEM;
        n = MIN(n, iom_space_get_reserved(s->core, ranges, n));
        r = sd_bus_message_open_container(reply, 'a', "(tt)");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append(reply, "(tt)", ranges[i][0], ranges[i][1]);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int property_get_dirty_tracking(sd_bus *bus, const char *path, const char *interface,
                                       const char *property, sd_bus_message *reply, void *userdata,
                                       sd_bus_error *error) {
        struct space *s = userdata;
        return sd_bus_message_append(reply, "b", iom_space_get_dirty_tracking(s->core));
}

static const sd_bus_vtable space_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Guest", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Creator", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Group", "o", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Mappings", "t", property_get_counts, 0, 0),
        SD_BUS_PROPERTY("MappedBytes", "t", property_get_counts, 0, 0),
        SD_BUS_PROPERTY("PinnedBytes", "t", property_get_counts, 0, 0),
        SD_BUS_PROPERTY("MaxMappings", "t", property_get_counts, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MaxPinnedBytes", "t", property_get_counts, 0,
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Aperture", "(tt)", property_get_aperture, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PageSizes", "t", property_get_counts, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ReservedRanges", "a(tt)", property_get_reserved, 0,
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DirtyTracking", "b", property_get_dirty_tracking, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Map", SD_BUS_ARGS("t", iova, "t", size, "t", target, "u", prot),
                                SD_BUS_NO_RESULT, method_map, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MapBatch", SD_BUS_ARGS("a(tttu)", mappings), SD_BUS_NO_RESULT,
                                method_map_batch, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Unmap", SD_BUS_ARGS("t", iova, "t", size),
                                SD_BUS_RESULT("t", unmapped), method_unmap,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Translate", SD_BUS_ARGS("t", iova, "u", access),
                                SD_BUS_RESULT("t", target, "u", prot, "t", contiguous),
                                method_translate, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetDirty", SD_BUS_ARGS("t", iova, "t", size, "b", clear),
                                SD_BUS_RESULT("ay", bitmap), method_get_dirty,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetDirtyTracking", SD_BUS_ARGS("b", enable), SD_BUS_NO_RESULT,
                                method_set_dirty_tracking, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListMappings", SD_BUS_ARGS("t", from, "u", max),
                                SD_BUS_RESULT("a(tttu)", mappings), method_list_mappings,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Destroy", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_destroy,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Unmapped", SD_BUS_ARGS("a(tt)", ranges), 0),
        SD_BUS_VTABLE_END,
};

int bus_space_register(struct manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, NULL, IOMMUD_SPACE_PREFIX, "org.iommud1.Space",
                                       space_vtable, space_object_find, m);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(m->bus, NULL, IOMMUD_SPACE_PREFIX, space_enumerate, m);
}
