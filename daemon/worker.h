/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Work off the event loop: a task runs on a thread of its own, then its completion runs on
 * the loop. The binder's jobs, the rescans, hot-plug's device reads and Explain's in-use scans
 * share it. */
#pragma once

#include <stdbool.h>

#include <systemd/sd-event.h>

struct worker;

/* When the daemon stops: a task that must finish (a rebind half done) is waited for; others
 * (a scan stuck on a held device) are left to end with the process. */
enum worker_stop {
        WORKER_WAIT,
        WORKER_ABANDON,
};

int worker_new(sd_event *event, struct worker **ret);

/* Waits for or abandons the running tasks (their completions never run) and frees @w. */
struct worker *worker_free(struct worker *w);

/* Runs @work(@userdata) on a new thread; when it returns, @done(@userdata) runs on the event
 * loop. Only the loop may touch the daemon's state: @work touches what @userdata holds. */
int worker_run(struct worker *w, enum worker_stop stop, void (*work)(void *userdata),
               void (*done)(void *userdata), void *userdata);
