/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rescanning the host off the event loop. Reading sysfs can block: driver_override takes the
 * device lock, which an unbind holds for as long as a VFIO user keeps the device. A scan runs
 * as a task of the daemon's worker; its completion, on the loop, swaps the inventory in, tells
 * the bus, and starts the next scan if one was asked for meanwhile. */
#include <errno.h>
#include <stdlib.h>

#include "binder.h"
#include "log.h"
#include "manager.h"
#include "policy.h"
#include "worker.h"

/* A scan's result, handed from its task to the loop. */
struct rescan {
        struct manager *manager;
        int error;
        struct iom_inventory *inventory;
};

static void rescan_work(void *userdata) {
        struct rescan *scan = userdata;

        scan->error = iom_inventory_scan(&scan->inventory);
}

static void rescan_done(void *userdata);

static void rescan_begin(struct manager *m) {
        struct rescan *scan = calloc(1, sizeof(*scan));
        int r;

        if (!scan)
                return (void) log_oom();
        scan->manager = m;
        m->rescan_running = true;
        m->rescan_generation = m->model_generation;
        /* A scan stuck on a held device must not hold up the daemon's exit. */
        r = worker_run(m->worker, WORKER_ABANDON, rescan_work, rescan_done, scan);
        if (r < 0) {
                free(scan);
                m->rescan_running = false;
                log_warning_errno(r, "Failed to start a rescan, keeping what we knew: %m");
                hotplug_resume(m);
        }
}

static void rescan_done(void *userdata) {
        struct rescan *scan = userdata;
        struct manager *m = scan->manager;
        bool retry = m->rescan_retry_intents;

        m->rescan_running = false;
        m->rescan_retry_intents = false;
        if (m->rescan_generation != m->model_generation) {
                /* A job finished while this scan read sysfs: it may have seen the devices
                 * half moved. The job asked for a rescan; that one counts. */
                iom_inventory_free(scan->inventory);
                m->rescan_again = true;
        } else if (scan->error < 0)
                log_warning_errno(scan->error,
                                  "Failed to rescan the host, keeping what we knew: %m");
        else
                (void) manager_apply_inventory(m, TAKE_PTR(scan->inventory));
        free(scan);
        if (retry) {
                binder_retry_intents(m);
                manager_autobind(m);
        }
        if (m->rescan_again) {
                m->rescan_again = false;
                rescan_begin(m);
        } else
                hotplug_resume(m);
}

void manager_request_rescan(struct manager *m, bool retry_intents) {
        m->rescan_retry_intents = m->rescan_retry_intents || retry_intents;
        /* A rescan and hot-plug batches never read at once: whichever applied last would
         * overwrite the newer reads of the other. */
        if (m->rescan_running || hotplug_busy(m)) {
                m->rescan_again = true;
                return;
        }
        rescan_begin(m);
}
