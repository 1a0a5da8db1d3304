/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iommuctl space list | show ID | translate ID IOVA [ACCESS]: the daemon's mediated I/O
 * address spaces. They live in the daemon only: these verbs have no --offline form. */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "iom-bus-ranges.h"
#include "iommuctl.h"
#include "json-print.h"
#include "macro.h"
#include "table.h"

#define SPACE_PREFIX "/org/iommud1/space/"
#define SPACE_INTERFACE "org.iommud1.Space"

struct space_info {
        char *path;
        char *guest, *creator, *group;
        uint64_t mappings, mapped_bytes, pinned_bytes, max_mappings, max_pinned_bytes;
        uint64_t aperture[2];
        uint64_t page_sizes;
        uint64_t (*reserved)[2];
        size_t n_reserved;
        int dirty_tracking;
};

static void space_info_done(struct space_info *s) {
        free(s->path);
        free(s->guest);
        free(s->creator);
        free(s->group);
        free(s->reserved);
}

/* Spaces live in the daemon only: no --offline form, the daemon must be reached. */
static int open_bus(sd_bus **ret, const char *what) {
        int r = iommuctl_bus_open(ret);
        return r < 0 ? bus_error(what, NULL, r) : 0;
}

/* Says when @what could not be printed (@r < 0, from a table or json_print()); returns @r. */
static int print_done(const char *what, int r) {
        if (r < 0)
                fprintf(stderr, "iommuctl: cannot print %s: %s\n", what, strerror(-r));
        return r;
}

/* "3" or "/org/iommud1/space/3" -> the object path. */
static int space_path(const char *arg, char **ret) {
        const char *id = strncmp(arg, SPACE_PREFIX, strlen(SPACE_PREFIX)) == 0
                                 ? arg + strlen(SPACE_PREFIX)
                                 : arg;

        if (!*id || strspn(id, "0123456789") != strlen(id) || (id[0] == '0' && id[1])) {
                fprintf(stderr,
                        "iommuctl: '%s' is not a space id (a number, as 'space list' shows)\n",
                        arg);
                return -EINVAL;
        }
        return asprintf(ret, SPACE_PREFIX "%s", id) < 0 ? log_oom() : 0;
}

static int read_string(sd_bus_message *m, const char *type, char **ret) {
        const char *v;
        int r = sd_bus_message_read(m, "v", type, &v);
        if (r < 0)
                return r;
        free(*ret);
        *ret = strdup(v);
        return *ret ? 0 : -ENOMEM;
}

/* Every property of the space at @path (org.freedesktop.DBus.Properties.GetAll). */
static int space_info_load(sd_bus *bus, const char *path, struct space_info *s,
                           sd_bus_error *error) {
        static const struct {
                const char *name;
                size_t offset;
        } counts[] = {
                {"Mappings", offsetof(struct space_info, mappings)},
                {"MappedBytes", offsetof(struct space_info, mapped_bytes)},
                {"PinnedBytes", offsetof(struct space_info, pinned_bytes)},
                {"MaxMappings", offsetof(struct space_info, max_mappings)},
                {"MaxPinnedBytes", offsetof(struct space_info, max_pinned_bytes)},
                {"PageSizes", offsetof(struct space_info, page_sizes)},
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name;
        int r;

        s->path = strdup(path);
        if (!s->path)
                return -ENOMEM;
        r = sd_bus_call_method(bus, "org.iommud1", path, "org.freedesktop.DBus.Properties",
                               "GetAll", error, &reply, "s", SPACE_INTERFACE);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                bool done = false;

                r = sd_bus_message_read(reply, "s", &name);
                if (r < 0)
                        break;
                for (size_t i = 0; i < ELEMENTSOF(counts); i++)
                        if (streq(name, counts[i].name)) {
                                r = sd_bus_message_read(reply, "v", "t",
                                                        (uint8_t *) s + counts[i].offset);
                                done = true;
                        }
                if (done)
                        ;
                else if (streq(name, "Guest"))
                        r = read_string(reply, "s", &s->guest);
                else if (streq(name, "Creator"))
                        r = read_string(reply, "s", &s->creator);
                else if (streq(name, "Group"))
                        r = read_string(reply, "o", &s->group);
                else if (streq(name, "Aperture"))
                        r = sd_bus_message_read(reply, "v", "(tt)", &s->aperture[0],
                                                &s->aperture[1]);
                else if (streq(name, "ReservedRanges"))
                        r = iom_bus_read_ranges(reply, SIZE_MAX, &s->reserved, &s->n_reserved);
                else if (streq(name, "DirtyTracking"))
                        r = sd_bus_message_read(reply, "v", "b", &s->dirty_tracking);
                else
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        return r < 0 ? r : 0;
}

static const char *prot_string(uint32_t prot) {
        return prot == 1 ? "r" : prot == 2 ? "w" : prot == 3 ? "rw" : "?";
}

static const char *id_of(const char *path) {
        return path + strlen(SPACE_PREFIX);
}

static const char *group_of(const struct space_info *s) {
        const char *slash = s->group ? strrchr(s->group, '/') : NULL;
        return slash && slash[1] ? slash + 1 : NULL;
}

/* A SPACE of iommuctl(1); @document makes it a top-level object (space show). */
static json_object *space_json(const struct space_info *s, bool document) {
        json_object *o = document ? json_document_new() : json_object_new_object(),
                    *reserved = json_object_new_array(), *aperture = json_object_new_array(),
                    *sizes = json_object_new_array();
        const char *group = group_of(s);

        json_object_object_add(o, "id", json_object_new_uint64(strtoull(id_of(s->path), NULL, 10)));
        json_object_object_add(o, "path", json_object_new_string(s->path));
        json_object_object_add(o, "guest", json_object_new_string(s->guest ? s->guest : ""));
        json_object_object_add(o, "creator", json_object_new_string(s->creator ? s->creator : ""));
        json_object_object_add(o, "group",
                               group ? json_object_new_uint64(strtoull(group, NULL, 10)) : NULL);
        json_object_array_add(aperture, json_object_new_uint64(s->aperture[0]));
        json_object_array_add(aperture, json_object_new_uint64(s->aperture[1]));
        json_object_object_add(o, "aperture", aperture);
        for (unsigned bit = 0; bit < 64; bit++)
                if (s->page_sizes & (UINT64_C(1) << bit))
                        json_object_array_add(sizes, json_object_new_uint64(UINT64_C(1) << bit));
        json_object_object_add(o, "page_sizes", sizes);
        for (size_t i = 0; i < s->n_reserved; i++) {
                json_object *range = json_object_new_array();
                json_object_array_add(range, json_object_new_uint64(s->reserved[i][0]));
                json_object_array_add(range, json_object_new_uint64(s->reserved[i][1]));
                json_object_array_add(reserved, range);
        }
        json_object_object_add(o, "reserved", reserved);
        json_object_object_add(o, "mappings_count", json_object_new_uint64(s->mappings));
        json_object_object_add(o, "mapped_bytes", json_object_new_uint64(s->mapped_bytes));
        json_object_object_add(o, "pinned_bytes", json_object_new_uint64(s->pinned_bytes));
        json_object_object_add(o, "max_mappings", json_object_new_uint64(s->max_mappings));
        json_object_object_add(o, "max_pinned_bytes", json_object_new_uint64(s->max_pinned_bytes));
        json_object_object_add(o, "dirty_tracking", json_object_new_boolean(s->dirty_tracking));
        return o;
}

static int list_paths(sd_bus *bus, char ***ret, sd_bus_error *error) {
        return sd_bus_get_property_strv(bus, "org.iommud1", "/org/iommud1", "org.iommud1.Manager",
                                        "Spaces", error, ret);
}

static int space_list(void) {
        static const char *const headers[] = {"ID",     "GUEST", "MAPPINGS",
                                              "MAPPED", "GROUP", "CREATOR"};
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(table_freep) struct table *t = NULL;
        _cleanup_strv_free_ char **paths = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        json_object *array = NULL;
        int r;

        r = open_bus(&bus, "space list");
        if (r < 0)
                return r;
        r = list_paths(bus, &paths, &error);
        if (r < 0)
                return bus_error("space list", &error, r);
        o = json_document_new();
        array = json_object_new_array();
        t = table_new(ELEMENTSOF(headers), headers);
        if (!o || !array || !t) {
                json_object_put(array);
                return log_oom();
        }
        json_object_object_add(o, "spaces", array);
        /* sd-bus reads an empty array as a NULL strv. */
        for (char **p = paths; p && *p; p++) {
                struct space_info s = {};
                char mappings[24], mapped[24];

                r = space_info_load(bus, *p, &s, &error);
                if (r == -ENOENT || sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_OBJECT)) {
                        /* Destroyed since the list was read. */
                        sd_bus_error_free(&error);
                        space_info_done(&s);
                        continue;
                }
                if (r < 0) {
                        space_info_done(&s);
                        return bus_error("space list", &error, r);
                }
                (void) snprintf(mappings, sizeof(mappings), "%" PRIu64, s.mappings);
                (void) snprintf(mapped, sizeof(mapped), "0x%" PRIx64, s.mapped_bytes);
                const char *cells[] = {id_of(s.path), s.guest,      mappings,
                                       mapped,        group_of(&s), s.creator};
                r = arg_json ? json_object_array_add(array, space_json(&s, false))
                             : table_add_row(t, cells, NULL);
                space_info_done(&s);
                if (r < 0)
                        return log_oom();
        }
        r = 0;
        if (arg_json)
                r = json_print(o);
        else if (!paths || !paths[0])
                printf("No I/O address spaces.\n");
        else
                r = table_print(t, stdout);
        return print_done("the spaces", r);
}

/* Every mapping, in address order, paging through ListMappings; as a table or into @array. */
static int load_mappings(sd_bus *bus, const char *path, struct table *t, json_object *array,
                         sd_bus_error *error) {
        uint64_t from = 0;
        int r;

        for (;;) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                uint64_t iova, size, target;
                uint32_t prot;
                unsigned n = 0;

                r = sd_bus_call_method(bus, "org.iommud1", path, SPACE_INTERFACE, "ListMappings",
                                       error, &reply, "tu", from, 0);
                if (r < 0)
                        return r;
                r = sd_bus_message_enter_container(reply, 'a', "(tttu)");
                while (r >= 0 && (r = sd_bus_message_read(reply, "(tttu)", &iova, &size, &target,
                                                          &prot)) > 0) {
                        char a[24], b[24], c[24];

                        n++;
                        from = iova + size;
                        if (array) {
                                json_object *o = json_object_new_object();
                                json_object_object_add(o, "iova", json_object_new_uint64(iova));
                                json_object_object_add(o, "size", json_object_new_uint64(size));
                                json_object_object_add(o, "target", json_object_new_uint64(target));
                                json_object_object_add(o, "prot",
                                                       json_object_new_string(prot_string(prot)));
                                r = json_object_array_add(array, o);
                                continue;
                        }
                        (void) snprintf(a, sizeof(a), "0x%" PRIx64, iova);
                        (void) snprintf(b, sizeof(b), "0x%" PRIx64, size);
                        (void) snprintf(c, sizeof(c), "0x%" PRIx64, target);
                        const char *cells[] = {a, b, c, prot_string(prot)};
                        r = table_add_row(t, cells, NULL);
                }
                if (r < 0)
                        return r;
                if (n == 0 || from == 0)
                        return 0;
        }
}

static int space_show(const char *arg) {
        static const char *const headers[] = {"IOVA", "SIZE", "TARGET", "PROT"};
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(table_freep) struct table *t = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        struct space_info s = {};
        json_object *mappings = NULL;
        int r;

        r = space_path(arg, &path);
        if (r < 0)
                return r;
        r = open_bus(&bus, "space show");
        if (r < 0)
                return r;
        r = space_info_load(bus, path, &s, &error);
        if (r < 0) {
                space_info_done(&s);
                if (sd_bus_error_has_names(&error, SD_BUS_ERROR_UNKNOWN_OBJECT,
                                           SD_BUS_ERROR_UNKNOWN_INTERFACE)) {
                        fprintf(stderr,
                                "iommuctl: there is no space %s; 'iommuctl space list' "
                                "shows those there are\n",
                                arg);
                        return -ENOENT;
                }
                return bus_error("space show", &error, r);
        }
        if (arg_json) {
                o = space_json(&s, true);
                mappings = json_object_new_array();
                json_object_object_add(o, "mappings", mappings);
        } else if (!(t = table_new(ELEMENTSOF(headers), headers))) {
                space_info_done(&s);
                return log_oom();
        }
        r = load_mappings(bus, path, t, mappings, &error);
        if (r < 0) {
                space_info_done(&s);
                return bus_error("space show", &error, r);
        }
        if (arg_json) {
                space_info_done(&s);
                return print_done("the space", json_print(o));
        }
        printf("Space %s (%s)\n", id_of(s.path), s.path);
        printf("  Guest:          %s\n", s.guest);
        printf("  Creator:        %s\n", s.creator);
        printf("  Backed by:      %s%s\n",
               group_of(&s) ? "VFIO, IOMMU group " : "nothing (mediated only)",
               group_of(&s) ? group_of(&s) : "");
        printf("  Aperture:       0x%" PRIx64 "-0x%" PRIx64 "\n", s.aperture[0], s.aperture[1]);
        printf("  Page sizes:     0x%" PRIx64 "\n", s.page_sizes);
        for (size_t i = 0; i < s.n_reserved; i++)
                printf("  %s 0x%" PRIx64 "-0x%" PRIx64 "\n",
                       i == 0 ? "Reserved:      " : "               ", s.reserved[i][0],
                       s.reserved[i][1]);
        printf("  Mappings:       %" PRIu64 " of at most %" PRIu64 "\n", s.mappings,
               s.max_mappings);
        printf("  Mapped bytes:   0x%" PRIx64 "\n", s.mapped_bytes);
        printf("  Pinned bytes:   0x%" PRIx64 " of at most 0x%" PRIx64 "\n", s.pinned_bytes,
               s.max_pinned_bytes);
        printf("  Dirty tracking: %s\n\n", s.dirty_tracking ? "on" : "off");
        space_info_done(&s);
        return print_done("the space", table_print(t, stdout));
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;

        if (!*s || *s == '-')
                return -EINVAL;
        errno = 0;
        *ret = strtoull(s, &end, 0);
        return errno || *end ? -EINVAL : 0;
}

static int space_translate(const char *arg, const char *iova_arg, const char *access_arg) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        uint64_t iova, target, contiguous;
        uint32_t access, prot;
        int r;

        r = space_path(arg, &path);
        if (r < 0)
                return r;
        if (parse_u64(iova_arg, &iova) < 0) {
                fprintf(stderr, "iommuctl: '%s' is not an IOVA (decimal, or hex with 0x)\n",
                        iova_arg);
                return -EINVAL;
        }
        if (!access_arg || streq(access_arg, "read"))
                access = 1;
        else if (streq(access_arg, "write"))
                access = 2;
        else if (streq(access_arg, "rw"))
                access = 3;
        else
                return usage_error("the access is read, write or rw, not '%s'", access_arg);
        r = open_bus(&bus, "space translate");
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, "org.iommud1", path, SPACE_INTERFACE, "Translate", &error,
                               &reply, "tu", iova, access);
        if (r >= 0)
                r = sd_bus_message_read(reply, "tut", &target, &prot, &contiguous);
        if (r < 0)
                return bus_error("space translate", &error, r);
        if (arg_json) {
                _cleanup_(json_object_putp) json_object *o = json_document_new();
                json_object_object_add(o, "iova", json_object_new_uint64(iova));
                json_object_object_add(o, "target", json_object_new_uint64(target));
                json_object_object_add(o, "prot", json_object_new_string(prot_string(prot)));
                json_object_object_add(o, "contiguous", json_object_new_uint64(contiguous));
                return print_done("the translation", json_print(o));
        }
        printf("IOVA 0x%" PRIx64 " -> 0x%" PRIx64 " (%s), contiguous for 0x%" PRIx64 " bytes\n",
               iova, target, prot_string(prot), contiguous);
        return 0;
}

int verb_space(int argc, char *argv[]) {
        const char *sub = argv[1];

        if (streq(sub, "list") && argc == 2)
                return space_list();
        if (streq(sub, "show") && argc == 3)
                return space_show(argv[2]);
        if (streq(sub, "translate") && (argc == 4 || argc == 5))
                return space_translate(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
        return usage_error("usage: iommuctl space list | space show ID | space translate ID IOVA "
                           "[read|write|rw]");
}
