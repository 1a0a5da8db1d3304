/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt's event callbacks (virEventRegisterImpl) as sd-event sources.
 *
 * libvirt asks for watches on file descriptors and for timers, each named by an int it gets
 * back. A watch is an I/O source, a timer a monotonic time source that re-arms itself after
 * each dispatch (libvirt's timers repeat until removed or disabled with -1; 0 fires on every
 * iteration).
 *
 * libvirt calls these from any thread: the daemon's libvirt calls run on worker threads
 * (daemon/libvirt.c), and its client library adds, updates and removes its socket's watch and
 * its keepalive timer from the thread that makes the call. sd-event is not thread-safe, so a
 * lv_source holds what libvirt wants under one lock, and only the loop's thread touches the
 * sd-event sources: on the loop a change applies at once; from another thread it is marked and
 * the loop is woken through an eventfd to apply it. A dispatch first applies its source's
 * pending change, so a watch libvirt disabled or removed elsewhere never fires afterwards.
 * A removed watch or timer is freed, with libvirt's free callback, on a later iteration of
 * the loop: libvirt may hold the lock that callback takes while it removes. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "libvirt-event.h"
#include "log.h"
#include "macro.h"

struct lv_source {
        int id;
        bool timer;
        int fd;
        int events;      /* a watch's, libvirt's VIR_EVENT_HANDLE_* */
        int interval_ms; /* a timer's; -1 when disabled */
        bool removed;
        bool pending;            /* changed off the loop, not yet applied */
        sd_event_source *source; /* the loop's thread only */
        virEventHandleCallback on_handle;
        virEventTimeoutCallback on_timeout;
        void *opaque;
        virFreeCallback ff;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t loop_thread;
static sd_event *loop;
static struct lv_source **sources; /* live, and removed ones waiting for their free */
static size_t n_sources;
static int last_id;
static int wake_fd = -EBADF;

bool libvirt_event_on_loop(void) {
        return loop && pthread_equal(pthread_self(), loop_thread);
}

static struct lv_source *source_find(int id, bool timer) {
        for (size_t i = 0; i < n_sources; i++)
                if (sources[i]->id == id && sources[i]->timer == timer && !sources[i]->removed)
                        return sources[i];
        return NULL;
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

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata);
static int on_time(sd_event_source *es, uint64_t usec, void *userdata);

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

/* On the loop's thread, with the lock held: makes @s's sd-event source what libvirt wants. */
static int source_apply(struct lv_source *s) {
        int r;

        s->pending = false;
        if (s->removed) {
                s->source = sd_event_source_disable_unref(s->source);
                return 0;
        }
        if (!s->source) {
                /* Accuracy 1 µs: 0 would let sd-event defer each timer by up to its default
                 * 250 ms, and libvirt flushes its queued domain events on a timer of 0 ms. */
                if (s->timer)
                        r = sd_event_add_time(loop, &s->source, CLOCK_MONOTONIC, 0, 1, on_time, s);
                else
                        r = sd_event_add_io(loop, &s->source, s->fd, to_epoll(s->events), on_io, s);
                if (r < 0)
                        return r;
        }
        if (s->timer)
                return arm(s);
        if (s->events == 0)
                return sd_event_source_set_enabled(s->source, SD_EVENT_OFF);
        r = sd_event_source_set_io_events(s->source, to_epoll(s->events));
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(s->source, SD_EVENT_ON);
}

static void wake(void) {
        (void) eventfd_write(wake_fd, 1);
}

/* With the lock held, after a change to @s: applied now on the loop, else by the loop. */
static int source_changed(struct lv_source *s) {
        if (libvirt_event_on_loop()) {
                int r = source_apply(s);
                if (s->removed)
                        wake(); /* its free waits for the next iteration */
                return r;
        }
        s->pending = true;
        wake();
        return 0;
}

/* The loop applies what other threads changed and frees what was removed. */
static int on_wake(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        _cleanup_free_ struct lv_source **gone = NULL;
        size_t n_gone = 0;
        eventfd_t value;

        (void) eventfd_read(fd, &value);
        pthread_mutex_lock(&lock);
        gone = calloc(MAX(n_sources, 1u), sizeof(*gone));
        for (size_t i = 0; i < n_sources;) {
                struct lv_source *s = sources[i];
                int r;

                if (s->pending) {
                        r = source_apply(s);
                        if (r < 0)
                                log_debug_errno(r, "libvirt: cannot %s %s %d: %m",
                                                s->removed ? "remove" : "set up",
                                                s->timer ? "timer" : "watch", s->id);
                }
                if (!s->removed || !gone) {
                        i++;
                        continue;
                }
                sources[i] = sources[--n_sources];
                gone[n_gone++] = s;
        }
        pthread_mutex_unlock(&lock);
        /* Without the lock: a free callback may call into libvirt, which may call us. */
        for (size_t i = 0; i < n_gone; i++) {
                if (gone[i]->ff)
                        gone[i]->ff(gone[i]->opaque);
                free(gone[i]);
        }
        if (!gone)
                return log_oom();
        return 0;
}

/* At a dispatch, with the lock held: whether @s still wants it, its pending change applied. */
static bool source_ready(struct lv_source *s) {
        if (s->pending)
                (void) source_apply(s);
        return !s->removed && (s->timer ? s->interval_ms >= 0 : s->events != 0);
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        struct lv_source *s = userdata;
        bool ready;

        pthread_mutex_lock(&lock);
        ready = source_ready(s);
        pthread_mutex_unlock(&lock);
        /* @s stays: only this thread frees, and only from on_wake. */
        if (ready)
                s->on_handle(s->id, s->fd, from_epoll(revents), s->opaque);
        return 0;
}

static int on_time(sd_event_source *es, uint64_t usec, void *userdata) {
        struct lv_source *s = userdata;
        bool ready;

        pthread_mutex_lock(&lock);
        ready = source_ready(s);
        /* Re-armed first: the callback may change or remove the timer. */
        if (ready)
                (void) arm(s);
        pthread_mutex_unlock(&lock);
        if (ready)
                s->on_timeout(s->id, s->opaque);
        return 0;
}

static int source_add(struct lv_source *s) {
        int r;

        pthread_mutex_lock(&lock);
        if (GREEDY_REALLOC(sources, n_sources + 1) < 0) {
                pthread_mutex_unlock(&lock);
                free(s);
                return -1;
        }
        r = source_changed(s);
        if (r < 0) {
                pthread_mutex_unlock(&lock);
                log_debug_errno(r, "libvirt: cannot add a %s: %m", s->timer ? "timer" : "watch");
                sd_event_source_unref(s->source);
                free(s);
                return -1;
        }
        sources[n_sources++] = s;
        s->id = ++last_id;
        pthread_mutex_unlock(&lock);
        return s->id;
}

static int add_handle(int fd, int events, virEventHandleCallback cb, void *opaque,
                      virFreeCallback ff) {
        struct lv_source *s = calloc(1, sizeof(*s));

        if (!s)
                return -1;
        *s = (struct lv_source){
                .fd = fd, .events = events, .on_handle = cb, .opaque = opaque, .ff = ff};
        return source_add(s);
}

static int add_timeout(int timeout, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff) {
        struct lv_source *s = calloc(1, sizeof(*s));

        if (!s)
                return -1;
        *s = (struct lv_source){.timer = true,
                                .fd = -EBADF,
                                .interval_ms = timeout,
                                .on_timeout = cb,
                                .opaque = opaque,
                                .ff = ff};
        return source_add(s);
}

/* Changes or removes the watch or timer @id: @value is a watch's events or a timer's
 * interval. */
static int source_update(int id, bool timer, bool remove, int value) {
        struct lv_source *s;

        pthread_mutex_lock(&lock);
        s = source_find(id, timer);
        if (s) {
                if (remove)
                        s->removed = true;
                else if (timer)
                        s->interval_ms = value;
                else
                        s->events = value;
                (void) source_changed(s);
        }
        pthread_mutex_unlock(&lock);
        return s ? 0 : -1;
}

static void update_handle(int watch, int events) {
        (void) source_update(watch, false, false, events);
}

static int remove_handle(int watch) {
        return source_update(watch, false, true, 0);
}

static void update_timeout(int timer, int timeout) {
        (void) source_update(timer, true, false, timeout);
}

static int remove_timeout(int timer) {
        return source_update(timer, true, true, 0);
}

int libvirt_event_register(sd_event *event) {
        int r;

        if (loop)
                return -EALREADY;
        wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (wake_fd < 0)
                return -errno;
        r = sd_event_add_io(event, NULL, wake_fd, EPOLLIN, on_wake, NULL);
        if (r < 0) {
                (void) close(wake_fd);
                wake_fd = -EBADF;
                return r;
        }
        loop = sd_event_ref(event);
        loop_thread = pthread_self();
        virEventRegisterImpl(add_handle, update_handle, remove_handle, add_timeout, update_timeout,
                             remove_timeout);
        return 0;
}
