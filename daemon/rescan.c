/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rescanning the host off the event loop. Reading sysfs can block: driver_override takes the
 * device lock, which an unbind holds for as long as a VFIO user keeps the device. A scan runs
 * on a thread that hands its result through a pipe; the loop swaps the inventory in, tells the
 * bus, and starts the next scan if one was asked for meanwhile. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "binder.h"
#include "log.h"
#include "manager.h"
#include "policy.h"

/* What a scan hands to the loop; the thread owns it until the pipe takes it. */
struct rescan {
        int error;
        struct iom_inventory *inventory;
};

static void *rescan_thread(void *userdata) {
        int fd = (int) (intptr_t) userdata;
        struct rescan *result = calloc(1, sizeof(*result));
        ssize_t n;

        if (result)
                result->error = iom_inventory_scan(&result->inventory);
        do
                n = write(fd, &result, sizeof(result));
        while (n < 0 && errno == EINTR);
        if (n != sizeof(result) && result) { /* the daemon is stopping */
                iom_inventory_free(result->inventory);
                free(result);
        }
        return NULL;
}

static void rescan_begin(struct manager *m) {
        int r;

        m->rescan_running = true;
        m->rescan_generation = m->model_generation;
        r = pthread_create(&m->rescan_thread, NULL, rescan_thread,
                           (void *) (intptr_t) m->rescan_pipe[1]);
        if (r != 0) {
                m->rescan_running = false;
                log_warning_errno(r, "Failed to start a rescan, keeping what we knew: %m");
        }
}

static int on_rescan_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct manager *m = userdata;
        bool retry = m->rescan_retry_intents;
        struct rescan *result;

        if (read(fd, &result, sizeof(result)) != sizeof(result))
                return 0;
        (void) pthread_join(m->rescan_thread, NULL);
        m->rescan_running = false;
        m->rescan_retry_intents = false;
        if (!result)
                log_oom();
        else if (m->rescan_generation != m->model_generation) {
                /* A job finished while this scan read sysfs: it may have seen the devices
                 * half moved. The job asked for a rescan; that one counts. */
                iom_inventory_free(result->inventory);
                m->rescan_again = true;
        }
        else if (result->error < 0)
                log_warning_errno(result->error,
                                  "Failed to rescan the host, keeping what we knew: %m");
        else
                (void) manager_apply_inventory(m, TAKE_PTR(result->inventory));
        free(result);
        if (retry) {
                binder_retry_intents(m);
                manager_autobind(m);
        }
        if (m->rescan_again) {
                m->rescan_again = false;
                rescan_begin(m);
        }
        return 0;
}

void manager_request_rescan(struct manager *m, bool retry_intents) {
        m->rescan_retry_intents = m->rescan_retry_intents || retry_intents;
        if (m->rescan_running) {
                m->rescan_again = true;
                return;
        }
        rescan_begin(m);
}

int rescan_start(struct manager *m) {
        int r;

        if (pipe2(m->rescan_pipe, O_CLOEXEC) < 0 ||
            fcntl(m->rescan_pipe[0], F_SETFL, O_NONBLOCK) < 0)
                return log_error_errno(errno, "Failed to create the rescan pipe: %m");
        r = sd_event_add_io(m->event, &m->rescan_source, m->rescan_pipe[0], EPOLLIN, on_rescan_done,
                            m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the rescan pipe: %m");
        return 0;
}

void rescan_stop(struct manager *m) {
        /* A scan stuck on a held device would hold up the exit: leave it to the process's end. */
        if (m->rescan_running)
                (void) pthread_detach(m->rescan_thread);
        m->rescan_source = sd_event_source_unref(m->rescan_source);
        for (int i = 0; i < 2; i++)
                if (m->rescan_pipe[i] >= 0)
                        (void) close(m->rescan_pipe[i]);
}
