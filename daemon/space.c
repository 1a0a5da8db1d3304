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

#include "iom-group.h"
#include "iom-vfio.h"
#include "log.h"
#include "manager.h"
#include "space.h"

static struct space *space_free(struct space *s) {
        if (!s)
                return NULL;
        /* The core first: freeing it unmaps through the back end, which needs the container. */
        iom_space_free(s->core);
        iom_vfio_free(s->vfio);
        if (s->memory)
                (void) munmap(s->memory, s->memory_size);
        sd_bus_track_unref(s->track);
        free(s->path);
        free(s->guest);
        free(s->creator);
        free(s);
        return NULL;
}

/* The core tells us of each contiguous range it removed, before unmap returns: the
 * Unmapped signal goes out before the method's reply. */
DEFINE_TRIVIAL_CLEANUP_FUNC(struct space *, space_free);

static void on_unmapped(void *userdata, uint64_t iova, uint64_t size) {
        struct space *s = userdata;

        if (s->quiet || !s->manager->bus)
                return;
        (void) sd_bus_emit_signal(s->manager->bus, s->path, "org.iommud1.Space", "Unmapped", "tt",
                                  iova, size);
}

static int on_creator_gone(sd_bus_track *track, void *userdata) {
        struct space *s = userdata;

        log_info("Space %" PRIu32 " of guest %s: its creator %s left the bus, destroying it", s->id,
                 s->guest, s->creator);
        space_destroy(s);
        return 0;
}

/* Maps the creator's memory: a backed space's targets are offsets into it. */
static int map_memory(struct space *s, int fd, char **ret_why) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size % IOM_SPACE_PAGE_SIZE)
                return asprintf(ret_why,
                                "memory must be a memfd or file whose size is a non-zero "
                                "multiple of 4 KiB (it has %jd bytes)",
                                (intmax_t) st.st_size) < 0
                               ? -ENOMEM
                               : -EINVAL;
        s->memory = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (s->memory == MAP_FAILED) {
                int r = -errno;
                s->memory = NULL;
                return asprintf(ret_why, "memory cannot be mapped read-write: %s", strerror(-r)) < 0
                               ? -ENOMEM
                               : -EINVAL;
        }
        s->memory_size = st.st_size;
        return 0;
}

/* The group must already belong to the guest and sit on vfio-pci: the assignment is where
 * policy and in-use protection had their say. */
static int open_backend(struct space *s, const struct space_request *req, char **ret_why) {
        const struct iom_group *g = iom_inventory_find_group(s->manager->inventory, req->group);
        int r;

        if (!g)
                return asprintf(ret_why, "There is no IOMMU group %u", req->group) < 0 ? -ENOMEM
                                                                                       : -ENOENT;
        if (!g->owner || !streq(g->owner, req->guest) || !streq(iom_group_state(g), "assigned"))
                return asprintf(ret_why,
                                "IOMMU group %u is not assigned to %s on vfio-pci (owner: %s, "
                                "state: %s); assign it first",
                                req->group, req->guest, g->owner ? g->owner : "the host",
                                iom_group_state(g)) < 0
                               ? -ENOMEM
                               : -EPERM;
        if (space_find_by_group(s->manager, req->group))
                return asprintf(ret_why, "IOMMU group %u already backs a space", req->group) < 0
                               ? -ENOMEM
                               : -EBUSY;
        if (req->memory_fd < 0)
                return (*ret_why = strdup("A space backed by a group needs the 'memory' option "
                                          "(a memfd whose offsets are the targets)"))
                               ? -EINVAL
                               : -ENOMEM;
        r = map_memory(s, req->memory_fd, ret_why);
        if (r < 0)
                return r;
        r = iom_vfio_open(req->group, s->memory, s->memory_size, &s->vfio);
        if (r < 0)
                return asprintf(ret_why, "IOMMU group %u cannot be opened through VFIO: %s%s",
                                req->group, strerror(-r),
                                r == -EBUSY ? " (a VFIO user holds it already)" : "") < 0
                               ? -ENOMEM
                               : r;
        s->has_group = true;
        s->group = req->group;
        return 0;
}

static int make_config(const struct space *s, const struct space_request *req,
                       struct iom_space_config *ret, char **ret_why) {
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
                return asprintf(ret_why,
                                "The aperture 0x%" PRIx64 "-0x%" PRIx64
                                " is empty or leaves 0x%" PRIx64 "-0x%" PRIx64 "%s",
                                ret->aperture_first, ret->aperture_last, limits.aperture_first,
                                limits.aperture_last,
                                s->vfio ? ", what the group's IOMMU allows" : "") < 0
                               ? -ENOMEM
                               : -EINVAL;
        if (req->max_mappings)
                ret->max_mappings = MIN(req->max_mappings, limits.max_mappings);
        if (req->max_pinned_bytes)
                ret->max_pinned_bytes = MIN(req->max_pinned_bytes, limits.max_pinned_bytes);
        return 0;
}

static int add_reserved(struct space *s, const struct space_request *req, char **ret_why) {
        for (size_t i = 0; i < req->n_reserved; i++) {
                uint64_t first = req->reserved[i][0], last = req->reserved[i][1];
                int r = iom_space_add_reserved(s->core, first, last);

                if (r < 0)
                        return asprintf(ret_why,
                                        "Reserved range 0x%" PRIx64 "-0x%" PRIx64
                                        " must start on a 4 KiB page, end on the last byte of "
                                        "one, and lie inside the aperture",
                                        first, last) < 0
                                       ? -ENOMEM
                                       : r;
        }
        return 0;
}

static int space_track(struct space *s) {
        int r;

        r = sd_bus_track_new(s->manager->bus, &s->track, on_creator_gone, s);
        if (r < 0)
                return r;
        return sd_bus_track_add_name(s->track, s->creator);
}

static int manager_add_space(struct manager *m, struct space *s) {
        struct space **a = reallocarray(m->spaces, m->n_spaces + 1, sizeof(*a));

        if (!a)
                return -ENOMEM;
        m->spaces = a;
        m->spaces[m->n_spaces++] = s;
        return 0;
}

int space_create(struct manager *m, const struct space_request *req, struct space **ret,
                 char **ret_why) {
        _cleanup_(space_freep) struct space *s = NULL;
        struct iom_space_config config;
        int r;

        *ret_why = NULL;
        if (req->memory_fd >= 0 && !req->has_group)
                return (*ret_why = strdup("The 'memory' option goes with 'group': only a space "
                                          "backed by a VFIO container maps memory"))
                               ? -EINVAL
                               : -ENOMEM;
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
                r = open_backend(s, req, ret_why);
                if (r < 0)
                        return r;
        }
        r = make_config(s, req, &config, ret_why);
        if (r < 0)
                return r;
        r = iom_space_new(&config, &s->core);
        if (r == -EINVAL)
                return asprintf(ret_why,
                                "The aperture 0x%" PRIx64 "-0x%" PRIx64
                                " must start on a 4 KiB page and end on the last byte of one, "
                                "and the limits must not be 0",
                                config.aperture_first, config.aperture_last) < 0
                               ? -ENOMEM
                               : r;
        if (r < 0)
                return r;
        r = add_reserved(s, req, ret_why);
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
        r = space_track(s);
        if (r < 0)
                return r;
        r = manager_add_space(m, s);
        if (r < 0)
                return r;
        (void) sd_bus_emit_object_added(m->bus, s->path);
        (void) sd_bus_emit_properties_changed(m->bus, IOMMUD_PATH, "org.iommud1.Manager", "Spaces",
                                              NULL);
        log_info("Space %" PRIu32 " created for guest %s by %s%s", s->id, s->guest, s->creator,
                 s->vfio ? ", backed by VFIO" : "");
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
        if (m->bus) {
                (void) sd_bus_emit_object_removed(m->bus, s->path);
                (void) sd_bus_emit_properties_changed(m->bus, IOMMUD_PATH, "org.iommud1.Manager",
                                                      "Spaces", NULL);
        }
        space_free(s);
}

void space_destroy_all(struct manager *m) {
        while (m->n_spaces > 0)
                space_destroy(m->spaces[m->n_spaces - 1]);
        m->spaces = mfree(m->spaces);
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
