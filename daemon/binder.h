/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The binder: the only code that changes which driver a device has. It runs each change as a
 * job on a worker thread, whole IOMMU groups at a time, journaled, verified and rolled back on
 * failure; requests touching the same group wait for each other, others run side by side. */
#pragma once

#include <stdbool.h>

#include <systemd/sd-bus.h>

#include "iom-plan.h"

struct manager;

/* What a caller asked for; planned against the inventory when the job starts, so a request
 * that waited for its group sees what the previous one did. */
struct binder_request {
        enum iom_plan_op op;
        char *owner;    /* assign, release */
        char *uuid;     /* assign: the owner's libvirt UUID, recorded with the claim */
        char **devices; /* assign, release (empty: all of the owner's), rebind (one) */
        char *driver;   /* rebind */
        bool force;
        /* Release: owning nothing is not worth a warning (libvirt's stop event and the release
         * hook both ask; the second finds the groups home). */
        bool quiet_if_none;
        /* Only check, as the real run would (the in-use scan included), and reply the plan. */
        bool dry_run;
        /* Instead: give the PF devices[0] @vfs VFs (SetVFs, a policy's sriov_numvfs). */
        bool sriov;
        unsigned vfs;
        /* Release: an administrator lets a quarantined group (of devices[0]) go home. */
        bool from_quarantine;
        /* Instead: put home the group of an intent the journal still holds. */
        bool recover;
        unsigned group;
        /* The policy's autobind of devices[0]: a failure stops its retries (daemon/policy.c). */
        bool autobind;
};

void binder_request_done(struct binder_request *req);

/* Plans @req against the current inventory. */
int binder_plan(struct manager *m, const struct binder_request *req, struct iom_plan **ret,
                char **ret_error);

/* Queues @req (taking its contents) and replies to @message when it has run. */
int binder_submit(struct manager *m, struct binder_request *req, sd_bus_message *message,
                  sd_bus_error *error);

/* Whether a job, running or waiting, holds @group; moves (or names) the device at @a. */
bool binder_group_busy(struct manager *m, unsigned group);
bool binder_device_busy(struct manager *m, const struct iom_address *a);

/* Queues a recovery for every intent left in the journal whose group no job holds: called
 * when the host changed (a held device was let go, say). */
void binder_retry_intents(struct manager *m);

/* Frees the jobs; call after the worker has waited for the running ones. */
void binder_stop(struct manager *m);

/* Appends a plan to a reply as a(ssss). */
int bus_append_plan(sd_bus_message *reply, const struct iom_plan *plan);

/* Finishes or rolls back the intents a crash left in the journal (at start, before serving):
 * the groups they touched go home. In daemon/binder-group.c. */
int binder_recover(struct manager *m);
