/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tasks on threads of their own, completed on the event loop through a pipe. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "worker.h"

struct task {
        struct worker *worker;
        enum worker_stop stop;
        void (*work)(void *userdata);
        void (*done)(void *userdata);
        void *userdata;
        pthread_t thread;
        struct task *next;
};

struct worker {
        int pipe[2];
        sd_event_source *source;
        struct task *running;
};

static void *task_thread(void *userdata) {
        struct task *t = userdata;
        ssize_t n;

        t->work(t->userdata);
        /* The write end blocks, so a full pipe never loses a completion. */
        do
                n = write(t->worker->pipe[1], &t, sizeof(t));
        while (n < 0 && errno == EINTR);
        if (n != sizeof(t))
                log_error_errno(errno, "Failed to report a finished task, the daemon is stuck: %m");
        return NULL;
}

static void task_unlink(struct worker *w, struct task *t) {
        for (struct task **p = &w->running; *p; p = &(*p)->next)
                if (*p == t) {
                        *p = t->next;
                        return;
                }
}

static int on_task_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct worker *w = userdata;
        struct task *t;

        while (read(fd, &t, sizeof(t)) == sizeof(t)) {
                (void) pthread_join(t->thread, NULL);
                task_unlink(w, t);
                t->done(t->userdata);
                free(t);
        }
        return 0;
}

int worker_new(sd_event *event, struct worker **ret) {
        struct worker *w = calloc(1, sizeof(*w));
        int r;

        if (!w)
                return -ENOMEM;
        w->pipe[0] = w->pipe[1] = -EBADF;
        if (pipe2(w->pipe, O_CLOEXEC) < 0 || fcntl(w->pipe[0], F_SETFL, O_NONBLOCK) < 0) {
                r = -errno;
                worker_free(w);
                return r;
        }
        r = sd_event_add_io(event, &w->source, w->pipe[0], EPOLLIN, on_task_done, w);
        if (r < 0) {
                worker_free(w);
                return r;
        }
        *ret = w;
        return 0;
}

struct worker *worker_free(struct worker *w) {
        bool abandoned = false;

        if (!w)
                return NULL;
        for (struct task *t = w->running, *next; t; t = next) {
                next = t->next;
                if (t->stop == WORKER_WAIT)
                        (void) pthread_join(t->thread, NULL);
                else {
                        (void) pthread_detach(t->thread);
                        abandoned = true;
                }
        }
        w->source = sd_event_source_unref(w->source);
        /* An abandoned task still writes its completion at its end: the pipe, the task and
         * the worker stay for it until the process exits. */
        if (abandoned)
                return NULL;
        for (struct task *t = w->running, *next; t; t = next) {
                next = t->next;
                free(t);
        }
        for (int i = 0; i < 2; i++)
                if (w->pipe[i] >= 0)
                        (void) close(w->pipe[i]);
        return mfree(w);
}

int worker_run(struct worker *w, enum worker_stop stop, void (*work)(void *userdata),
               void (*done)(void *userdata), void *userdata) {
        struct task *t = calloc(1, sizeof(*t));
        int r;

        if (!t)
                return -ENOMEM;
        *t = (struct task){.worker = w,
                           .stop = stop,
                           .work = work,
                           .done = done,
                           .userdata = userdata,
                           .next = w->running};
        r = pthread_create(&t->thread, NULL, task_thread, t);
        if (r != 0) {
                free(t);
                return -r;
        }
        w->running = t;
        return 0;
}
