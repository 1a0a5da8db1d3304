/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Mediated I/O address spaces served by the daemon: one lib/mapping space each, owned by the
 * D-Bus peer that created it and destroyed when that peer leaves the bus. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-bus.h>

#include "iom-space.h"

#define IOMMUD_SPACE_PREFIX "/org/iommud1/space"

/* What one bus peer, and all of them, may hold (iommud.dbus(7), LIMITS): each creator costs
 * the daemon one match on the bus, which allows a few hundred per connection. */
#define SPACES_MAX 1024u
#define SPACES_PER_CREATOR_MAX 64u
#define SPACE_CREATORS_MAX 128u
#define SPACE_MEMORY_PER_CREATOR_MAX (UINT64_C(1) << 30)
/* Reserved ranges CreateSpace takes, beside the MSI window and the group's. */
#define SPACE_RESERVED_MAX 256u
/* Ranges one Unmapped signal carries (16 bytes each). */
#define UNMAPPED_PER_SIGNAL 65536u

struct manager;
struct iom_vfio;

/* A bus peer that created spaces: followed with one watch, whatever their number. */
struct space_creator {
        struct manager *manager;
        char *name; /* its unique bus name */
        sd_bus_track *track;
        size_t n_spaces;
};

struct space {
        struct manager *manager;
        uint32_t id;
        char *path;
        char *guest;
        char *creator; /* the unique bus name that may change it */
        struct space_creator *owner;
        struct iom_space *core;

        /* Ranges unmapped by the call at hand, announced in one Unmapped signal (or a few)
         * before its reply: space_announce_unmapped(). */
        uint64_t (*unmapped)[2];
        size_t n_unmapped;

        /* A space backed by a VFIO container (CreateSpace's "group" and "memory"). */
        bool has_group;
        unsigned group;
        struct iom_vfio *vfio;
        void *memory;
        uint64_t memory_size;

        /* Set while a failed MapBatch takes back what it mapped: nobody could see those
         * mappings, so their removal is not announced. */
        bool quiet;
};

/* What CreateSpace asks for; zero fields take the defaults. */
struct space_request {
        const char *guest;
        const char *creator;
        bool has_aperture_start, has_aperture_end;
        uint64_t aperture_start, aperture_end;
        uint64_t max_mappings, max_pinned_bytes;
        uint64_t (*reserved)[2];
        size_t n_reserved;
        bool has_group;
        unsigned group;
        int memory_fd; /* -EBADF when not given */
};

/* Creates a space for @req, exports it and starts following its creator. On failure
 * returns a negative errno with *@ret_error saying what is wrong (may be NULL on -ENOMEM). */
int space_create(struct manager *m, const struct space_request *req, struct space **ret,
                 char **ret_error);

/* Sends the Unmapped signals for what the call at hand unmapped: before its reply. */
void space_announce_unmapped(struct space *s);

/* Whether @s's creator has reached its memory limit: it may map nothing more. */
bool space_creator_over_memory(const struct space *s);

/* Unexports and frees @s (every mapping removed, subscribers told). */
void space_destroy(struct space *s);

/* Destroys every space (daemon shutdown). */
void space_destroy_all(struct manager *m);

struct space *space_find(struct manager *m, uint32_t id);

/* The space backed by group @group, if any: releasing the group must wait for it. */
struct space *space_find_by_group(struct manager *m, unsigned group);

int bus_space_register(struct manager *m);
