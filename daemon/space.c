/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The life of a served space: created for a guest by a bus peer, backed by a VFIO container
 * when it names a group, announced on the bus, and destroyed with its creator. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "export.h"
#include "iom-error.h"
#include "iom-group.h"
#include "iom-vfio.h"
#include "log.h"
#include "manager.h"
#include "space.h"

static void creator_drop(struct space_creator *c);

static struct space *space_free(struct space *s) {
        if (!s)
                return NULL;
        /* The core first: freeing it unmaps through the back end, which needs the container. */
        iom_space_free(s->core);
        iom_vfio_free(s->vfio);
        if (s->memory)
                (void) munmap(s->memory, s->memory_size);
        if (s->owner)
                creator_drop(s->owner);
        free(s->unmapped);
        free(s->path);
        free(s->guest);
        free(s->creator);
        free(s);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct space *, space_free);

void space_announce_unmapped(struct space *s) {
        int r = 0;

        for (size_t i = 0; r >= 0 && i < s->n_unmapped; i += UNMAPPED_PER_SIGNAL) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *signal = NULL;
                size_t n = MIN(s->n_unmapped - i, (size_t) UNMAPPED_PER_SIGNAL);

                r = sd_bus_message_new_signal(s->manager->bus, &signal, s->path,
                                              "org.iommud1.Space", "Unmapped");
                if (r >= 0)
                        r = sd_bus_message_open_container(signal, 'a', "(tt)");
                for (size_t j = i; r >= 0 && j < i + n; j++)
                        r = sd_bus_message_append(signal, "(tt)", s->unmapped[j][0],
                                                  s->unmapped[j][1]);
                if (r >= 0)
                        r = sd_bus_message_close_container(signal);
                if (r >= 0)
                        r = sd_bus_send(NULL, signal, NULL);
        }
        if (r < 0)
                log_warning_errno(r, "Space %" PRIu32 ": cannot announce what was unmapped: %m",
                                  s->id);
        s->n_unmapped = 0;
}

/* The core tells us of each contiguous range it removed, before unmap returns; the call's
 * handler announces them all before its reply (space_announce_unmapped()). */
static void on_unmapped(void *userdata, uint64_t iova, uint64_t size) {
        struct space *s = userdata;

        if (s->quiet || !s->manager->bus)
                return;
        if (GREEDY_REALLOC(s->unmapped, s->n_unmapped + 1) < 0) {
                /* Never lose an invalidation: announce what is pending to make room. */
                space_announce_unmapped(s);
                (void) sd_bus_emit_signal(s->manager->bus, s->path, "org.iommud1.Space", "Unmapped",
                                          "a(tt)", 1, iova, size);
                return;
        }
        s->unmapped[s->n_unmapped][0] = iova;
        s->unmapped[s->n_unmapped][1] = size;
        s->n_unmapped++;
}

static struct space *space_of(struct manager *m, const struct space_creator *c) {
        for (size_t i = m->n_spaces; i > 0; i--)
                if (m->spaces[i - 1]->owner == c)
                        return m->spaces[i - 1];
        return NULL;
}

static int on_creator_gone(sd_bus_track *track, void *userdata) {
        struct space_creator *c = userdata;
        struct manager *m = c->manager;
        bool last = false;

        log_info("%s left the bus: destroying the %zu space(s) it created", c->name, c->n_spaces);
        /* Each space destroyed drops its hold on @c, and the last one frees it. */
        while (!last) {
                struct space *s = space_of(m, c);
                if (!s)
                        break;
                last = c->n_spaces == 1;
                space_destroy(s);
        }
        return 0;
}

static struct space_creator *creator_find(struct manager *m, const char *name) {
        for (size_t i = 0; i < m->n_creators; i++)
                if (streq(m->creators[i]->name, name))
                        return m->creators[i];
        return NULL;
}

/* The creator record for @name, made (and followed on the bus) on its first space. */
static int creator_take(struct manager *m, const char *name, struct space_creator **ret) {
        struct space_creator *c = creator_find(m, name);
        int r;

        if (c) {
                c->n_spaces++;
                *ret = c;
                return 0;
        }
        if (GREEDY_REALLOC(m->creators, m->n_creators + 1) < 0)
                return -ENOMEM;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (struct space_creator){.manager = m, .name = strdup(name), .n_spaces = 1};
        r = c->name ? sd_bus_track_new(m->bus, &c->track, on_creator_gone, c) : -ENOMEM;
        if (r >= 0)
                r = sd_bus_track_add_name(c->track, name);
        if (r < 0) {
                sd_bus_track_unref(c->track);
                free(c->name);
                free(c);
                return r;
        }
        m->creators[m->n_creators++] = c;
        *ret = c;
        return 0;
}

static void creator_drop(struct space_creator *c) {
        struct manager *m = c->manager;

        if (--c->n_spaces > 0)
                return;
        for (size_t i = 0; i < m->n_creators; i++)
                if (m->creators[i] == c) {
                        m->creators[i] = m->creators[--m->n_creators];
                        break;
                }
        sd_bus_track_unref(c->track);
        free(c->name);
        free(c);
}

bool space_creator_over_memory(const struct space *s) {
        struct manager *m = s->manager;
        uint64_t total = 0;

        for (size_t i = 0; i < m->n_spaces; i++)
                if (m->spaces[i]->owner == s->owner) {
                        struct iom_space_stats st;
                        iom_space_get_stats(m->spaces[i]->core, &st);
                        total += st.memory_bytes;
                }
        return total >= SPACE_MEMORY_PER_CREATOR_MAX;
}

/* The limits of iommud.dbus(7): checked before anything is made. */
static int check_limits(struct manager *m, const char *creator, char **ret_error) {
        const struct space_creator *c = creator_find(m, creator);
        const char *what = NULL;
        unsigned limit = 0;

        if (m->n_spaces >= SPACES_MAX)
                what = "spaces on this host", limit = SPACES_MAX;
        else if (c && c->n_spaces >= SPACES_PER_CREATOR_MAX)
                what = "spaces per bus peer", limit = SPACES_PER_CREATOR_MAX;
        else if (!c && m->n_creators >= SPACE_CREATORS_MAX)
                what = "bus peers holding spaces", limit = SPACE_CREATORS_MAX;
        if (!what)
                return 0;
        return iom_error(ret_error, -ENOSPC, "At most %u %s; destroy a space first", limit, what);
}

/* Maps the creator's memory: a backed space's targets are offsets into it. */
static int map_memory(struct space *s, int fd, char **ret_error) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size % IOM_SPACE_PAGE_SIZE)
                return iom_error(ret_error, -EINVAL,
                                 "memory must be a memfd or file whose size is a non-zero "
                                 "multiple of 4 KiB (it has %jd bytes)",
                                 (intmax_t) st.st_size);
        s->memory = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (s->memory == MAP_FAILED) {
                int r = -errno;
                s->memory = NULL;
                return iom_error(ret_error, -EINVAL, "memory cannot be mapped read-write: %s",
                                 strerror(-r));
        }
        s->memory_size = st.st_size;
        return 0;
}

/* The group must already belong to the guest and sit on vfio-pci: the assignment is where
 * policy and in-use protection had their say. */
static int open_backend(struct space *s, const struct space_request *req, char **ret_error) {
        const struct iom_group *g = iom_inventory_find_group(s->manager->inventory, req->group);
        int r;

        if (!g)
                return iom_error(ret_error, -ENOENT, "There is no IOMMU group %u", req->group);
        if (!g->owner || !streq(g->owner, req->guest) || !streq(iom_group_state(g), "assigned"))
                return iom_error(ret_error, -EPERM,
                                 "IOMMU group %u is not assigned to %s on vfio-pci (owner: %s, "
                                 "state: %s); assign it first",
                                 req->group, req->guest, g->owner ? g->owner : "the host",
                                 iom_group_state(g));
        if (space_find_by_group(s->manager, req->group))
                return iom_error(ret_error, -EBUSY, "IOMMU group %u already backs a space",
                                 req->group);
        if (req->memory_fd < 0)
                return iom_error(ret_error, -EINVAL,
                                 "A space backed by a group needs the 'memory' option "
                                 "(a memfd whose offsets are the targets)");
        r = map_memory(s, req->memory_fd, ret_error);
        if (r < 0)
                return r;
        r = iom_vfio_open(req->group, s->memory, s->memory_size, &s->vfio);
        if (r < 0)
                return iom_error(ret_error, r, "IOMMU group %u cannot be opened through VFIO: %s%s",
                                 req->group, strerror(-r),
                                 r == -EBUSY ? " (a VFIO user holds it already)" : "");
        s->has_group = true;
        s->group = req->group;
        return 0;
}

static int make_config(const struct space *s, const struct space_request *req,
                       struct iom_space_config *ret, char **ret_error) {
        struct iom_space_config limits;

        iom_space_config_init(&limits);
        if (s->vfio)
                iom_vfio_limit_config(s->vfio, &limits);
        *ret = limits;
        if (req->has_aperture_start)
                ret->aperture_first = req->aperture_start;
        if (req->has_aperture_end)
                ret->aperture_last = req->aperture_end;
        if (ret->aperture_first < limits.aperture_first ||
            ret->aperture_last > limits.aperture_last || ret->aperture_first > ret->aperture_last)
                return iom_error(ret_error, -EINVAL,
                                 "The aperture 0x%" PRIx64 "-0x%" PRIx64
                                 " is empty or leaves 0x%" PRIx64 "-0x%" PRIx64 "%s",
                                 ret->aperture_first, ret->aperture_last, limits.aperture_first,
                                 limits.aperture_last,
                                 s->vfio ? ", what the group's IOMMU allows" : "");
        if (req->max_mappings)
                ret->max_mappings = MIN(req->max_mappings, limits.max_mappings);
        if (req->max_pinned_bytes)
                ret->max_pinned_bytes = MIN(req->max_pinned_bytes, limits.max_pinned_bytes);
        return 0;
}

static int add_reserved(struct space *s, const struct space_request *req, char **ret_error) {
        for (size_t i = 0; i < req->n_reserved; i++) {
                uint64_t first = req->reserved[i][0], last = req->reserved[i][1];
                int r = iom_space_add_reserved(s->core, first, last);

                if (r < 0)
                        return iom_error(ret_error, r,
                                         "Reserved range 0x%" PRIx64 "-0x%" PRIx64
                                         " must start on a 4 KiB page, end on the last byte of "
                                         "one, and lie inside the aperture",
                                         first, last);
        }
        return 0;
}

static int manager_add_space(struct manager *m, struct space *s) {
        if (GREEDY_REALLOC(m->spaces, m->n_spaces + 1) < 0)
                return -ENOMEM;
        m->spaces[m->n_spaces++] = s;
        return 0;
}

int space_create(struct manager *m, const struct space_request *req, struct space **ret,
                 char **ret_error) {
        _cleanup_(space_freep) struct space *s = NULL;
        struct iom_space_config config;
        int r;

        r = check_limits(m, req->creator, ret_error);
        if (r < 0)
                return r;
        if (req->memory_fd >= 0 && !req->has_group)
                return iom_error(ret_error, -EINVAL,
                                 "The 'memory' option goes with 'group': only a space "
                                 "backed by a VFIO container maps memory");
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->manager = m;
        s->id = ++m->last_space_id;
        if (asprintf(&s->path, IOMMUD_SPACE_PREFIX "/%" PRIu32, s->id) < 0)
                return -ENOMEM;
        s->guest = strdup(req->guest);
        s->creator = strdup(req->creator);
        if (!s->guest || !s->creator)
                return -ENOMEM;
        if (req->has_group) {
                r = open_backend(s, req, ret_error);
                if (r < 0)
                        return r;
        }
        r = make_config(s, req, &config, ret_error);
        if (r < 0)
                return r;
        r = iom_space_new(&config, &s->core);
        if (r == -EINVAL)
                return iom_error(ret_error, r,
                                 "The aperture 0x%" PRIx64 "-0x%" PRIx64
                                 " must start on a 4 KiB page and end on the last byte of one, "
                                 "and the limits must not be 0",
                                 config.aperture_first, config.aperture_last);
        if (r < 0)
                return r;
        r = add_reserved(s, req, ret_error);
        if (r < 0)
                return r;
        if (s->vfio) {
                r = iom_vfio_attach(s->vfio, s->core);
                if (r < 0)
                        return r;
        }
        r = iom_space_subscribe(s->core, on_unmapped, s);
        if (r < 0)
                return r;
        r = creator_take(m, s->creator, &s->owner);
        if (r < 0)
                return r;
        r = manager_add_space(m, s);
        if (r < 0)
                return r;
        (void) sd_bus_emit_object_added(m->bus, s->path);
        (void) sd_bus_emit_properties_changed(m->bus, IOMMUD_PATH, "org.iommud1.Manager", "Spaces",
                                              NULL);
        manager_exports_changed(m);
        log_info("Space %" PRIu32 " created for guest '%s' by %s%s", s->id, IOM_ESCAPE(s->guest),
                 s->creator, s->vfio ? ", backed by VFIO" : "");
        *ret = TAKE_PTR(s);
        return 0;
}

void space_destroy(struct space *s) {
        struct manager *m = s->manager;

        for (size_t i = 0; i < m->n_spaces; i++)
                if (m->spaces[i] == s) {
                        memmove(m->spaces + i, m->spaces + i + 1,
                                (m->n_spaces - i - 1) * sizeof(*m->spaces));
                        m->n_spaces--;
                        break;
                }
        /* Freeing the core unmaps every range and announces each from the space's path:
         * before the object goes. */
        s->core = iom_space_free(s->core);
        if (m->bus)
                space_announce_unmapped(s);
        if (m->bus) {
                (void) sd_bus_emit_object_removed(m->bus, s->path);
                (void) sd_bus_emit_properties_changed(m->bus, IOMMUD_PATH, "org.iommud1.Manager",
                                                      "Spaces", NULL);
                manager_exports_changed(m);
        }
        space_free(s);
}

void space_destroy_all(struct manager *m) {
        while (m->n_spaces > 0)
                space_destroy(m->spaces[m->n_spaces - 1]);
        m->spaces = mfree(m->spaces);
        m->creators = mfree(m->creators);
}

struct space *space_find(struct manager *m, uint32_t id) {
        for (size_t i = 0; i < m->n_spaces; i++)
                if (m->spaces[i]->id == id)
                        return m->spaces[i];
        return NULL;
}

struct space *space_find_by_group(struct manager *m, unsigned group) {
        for (size_t i = 0; i < m->n_spaces; i++)
                if (m->spaces[i]->has_group && m->spaces[i]->group == group)
                        return m->spaces[i];
        return NULL;
}
