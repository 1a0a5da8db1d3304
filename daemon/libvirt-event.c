/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt's event callbacks (virEventRegisterImpl) as sd-event sources.
 *
 * libvirt asks for watches on file descriptors and for timers, each named by an int it gets
 * back. A watch is an I/O source, a timer a monotonic time source that re-arms itself after
 * each dispatch (libvirt's timers repeat until removed or disabled with -1; 0 fires on every
 * iteration). A removed watch or timer stops at once, but its free callback runs from a defer
 * source on a later iteration: libvirt may hold the lock the callback takes while it removes.
 * Only the event loop's thread calls into libvirt, so only it calls these. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "libvirt-event.h"
#include "log.h"
#include "macro.h"

struct lv_source {
        int id;
        bool timer;
        sd_event_source *source;
        int fd;
        int interval_ms; /* a timer's; -1 when disabled */
        virEventHandleCallback on_handle;
        virEventTimeoutCallback on_timeout;
        void *opaque;
        virFreeCallback ff;
};

static sd_event *loop;
static struct lv_source **sources; /* live, and removed ones waiting for their free */
static size_t n_sources;
static int last_id;
static sd_event_source *free_pending;

static struct lv_source *source_find(int id, bool timer) {
        for (size_t i = 0; i < n_sources; i++)
                if (sources[i]->id == id && sources[i]->timer == timer && sources[i]->source)
                        return sources[i];
        return NULL;
}

static int source_add(struct lv_source *s) {
        if (GREEDY_REALLOC(sources, n_sources + 1) < 0)
                return -ENOMEM;
        sources[n_sources++] = s;
        s->id = ++last_id;
        return s->id;
}

/* Frees what libvirt removed since the last iteration, with libvirt's free callbacks. */
static int on_free_pending(sd_event_source *es, void *userdata) {
        for (size_t i = 0; i < n_sources;) {
                struct lv_source *s = sources[i];
                if (s->source) {
                        i++;
                        continue;
                }
                sources[i] = sources[--n_sources];
                if (s->ff)
                        s->ff(s->opaque);
                free(s);
        }
        return 0;
}

static int source_remove(struct lv_source *s) {
        s->source = sd_event_source_disable_unref(s->source);
        return sd_event_source_set_enabled(free_pending, SD_EVENT_ONESHOT);
}

static uint32_t to_epoll(int events) {
        return (events & VIR_EVENT_HANDLE_READABLE ? EPOLLIN : 0) |
               (events & VIR_EVENT_HANDLE_WRITABLE ? EPOLLOUT : 0);
}

static int from_epoll(uint32_t revents) {
        return (revents & EPOLLIN ? VIR_EVENT_HANDLE_READABLE : 0) |
               (revents & EPOLLOUT ? VIR_EVENT_HANDLE_WRITABLE : 0) |
               (revents & EPOLLERR ? VIR_EVENT_HANDLE_ERROR : 0) |
               (revents & EPOLLHUP ? VIR_EVENT_HANDLE_HANGUP : 0);
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        struct lv_source *s = userdata;

        s->on_handle(s->id, s->fd, from_epoll(revents), s->opaque);
        return 0;
}

static int add_handle(int fd, int events, virEventHandleCallback cb, void *opaque,
                      virFreeCallback ff) {
        struct lv_source *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -1;
        *s = (struct lv_source){.fd = fd, .on_handle = cb, .opaque = opaque, .ff = ff};
        r = sd_event_add_io(loop, &s->source, fd, to_epoll(events), on_io, s);
        if (r >= 0 && events == 0)
                r = sd_event_source_set_enabled(s->source, SD_EVENT_OFF);
        if (r >= 0)
                r = source_add(s);
        if (r < 0) {
                log_debug_errno(r, "libvirt: cannot watch fd %d: %m", fd);
                sd_event_source_unref(s->source);
                free(s);
                return -1;
        }
        return r;
}

static void update_handle(int watch, int events) {
        struct lv_source *s = source_find(watch, false);

        if (!s)
                return;
        if (events == 0) {
                (void) sd_event_source_set_enabled(s->source, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_io_events(s->source, to_epoll(events));
        (void) sd_event_source_set_enabled(s->source, SD_EVENT_ON);
}

static int remove_handle(int watch) {
        struct lv_source *s = source_find(watch, false);

        if (!s)
                return -1;
        (void) source_remove(s);
        return 0;
}

static int arm(struct lv_source *s) {
        uint64_t now;
        int r;

        if (s->interval_ms < 0)
                return sd_event_source_set_enabled(s->source, SD_EVENT_OFF);
        r = sd_event_now(loop, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        r = sd_event_source_set_time(s->source, now + (uint64_t) s->interval_ms * 1000);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(s->source, SD_EVENT_ONESHOT);
}

static int on_time(sd_event_source *es, uint64_t usec, void *userdata) {
        struct lv_source *s = userdata;
        int id = s->id;

        /* Re-armed first: the callback may change or remove the timer. */
        (void) arm(s);
        s->on_timeout(id, s->opaque);
        return 0;
}

static int add_timeout(int timeout, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff) {
        struct lv_source *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -1;
        *s = (struct lv_source){.timer = true,
                                .fd = -EBADF,
                                .interval_ms = timeout,
                                .on_timeout = cb,
                                .opaque = opaque,
                                .ff = ff};
        r = sd_event_add_time(loop, &s->source, CLOCK_MONOTONIC, 0, 0, on_time, s);
        if (r >= 0)
                r = arm(s);
        if (r >= 0)
                r = source_add(s);
        if (r < 0) {
                log_debug_errno(r, "libvirt: cannot add a timer: %m");
                sd_event_source_unref(s->source);
                free(s);
                return -1;
        }
        return r;
}

static void update_timeout(int timer, int timeout) {
        struct lv_source *s = source_find(timer, true);

        if (!s)
                return;
        s->interval_ms = timeout;
        (void) arm(s);
}

static int remove_timeout(int timer) {
        struct lv_source *s = source_find(timer, true);

        if (!s)
                return -1;
        (void) source_remove(s);
        return 0;
}

int libvirt_event_register(sd_event *event) {
        int r;

        if (loop)
                return -EALREADY;
        r = sd_event_add_defer(event, &free_pending, on_free_pending, NULL);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(free_pending, SD_EVENT_OFF);
        if (r < 0)
                return r;
        loop = sd_event_ref(event);
        virEventRegisterImpl(add_handle, update_handle, remove_handle, add_timeout, update_timeout,
                             remove_timeout);
        return 0;
}
