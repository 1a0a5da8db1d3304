/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The binder's jobs: queueing per group, worker threads, completion on the event loop.
 *
 * A job holds one request. It may start when none of the groups its plan touches is held by a
 * running job, and fewer than BINDER_MAX_RUNNING run; otherwise it waits in order. It runs as a
 * task of the daemon's worker (daemon/worker.c: sysfs writes can block for as long as a driver's
 * remove path takes); its completion, on the event loop, replies on the bus, rescans, and starts
 * whatever was waiting. The cap keeps a storm of jobs (an autobind rule matching 2000 VFs) from
 * being 2000 threads forking writers at once, and keeps each pass over the waiting jobs short:
 * the loop's work per job stays the same however long the queue is.
 * Only the event loop touches the job list and the inventory; tasks touch their job and, under
 * the journal lock, the journal. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "binder-group.h"
#include "binder-sriov.h"
#include "binder.h"
#include "bus-error.h"
#include "export.h"
#include "inhibit.h"
#include "iom-bind.h"
#include "log.h"
#include "manager.h"
#include "policy.h"
#include "worker.h"

/* Jobs on different groups run side by side up to this many; the others wait. */
#define BINDER_MAX_RUNNING 4

struct job {
        struct manager *manager;
        struct binder_request request;
        sd_bus_message *message;
        struct iom_plan *plan; /* set when the job starts */
        /* SR-IOV: the PF, and its VFs an autobind rule gives to vfio-pci (set when the job
         * starts, as the plan); the writes made, attribute and value in pairs. */
        struct iom_address sriov_pf;
        char **vfio_vfs;
        char **writes;
        /* The devices the request names, parsed once (binder_device_busy()). */
        struct iom_address *named;
        size_t n_named;

        /* Written by the thread, read by the loop after the join. */
        int result;
        char *error_message;

        struct job *next;
};

void binder_request_done(struct binder_request *req) {
        free(req->owner);
        free(req->uuid);
        strv_free(req->devices);
        free(req->driver);
        *req = (struct binder_request){};
}

static struct job *job_free(struct job *j) {
        if (!j)
                return NULL;
        binder_request_done(&j->request);
        sd_bus_message_unref(j->message);
        iom_plan_free(j->plan);
        strv_free(j->vfio_vfs);
        strv_free(j->writes);
        free(j->named);
        free(j->error_message);
        free(j);
        return NULL;
}

/* A release does what the claim recorded at assign: the reset method the rule picked, its
 * quarantine_after, the d3cold_allowed to put back. Letting a quarantined group go (no owner)
 * requires a reset in the kernel's own order instead of the one that failed. */
static int plan_add_claimed_choices(struct manager *m, struct iom_plan *plan) {
        int r = 0;

        (void) pthread_mutex_lock(&m->journal_lock);
        for (size_t i = 0; r >= 0 && i < plan->n_steps; i++) {
                struct iom_plan_step *s = &plan->steps[i];
                const struct iom_claim *c =
                        plan->owner ? iom_journal_find_claim(m->journal, s->group)
                                    : iom_journal_find_quarantine(m->journal, s->group);
                for (size_t k = 0; c && k < c->n_devices; k++) {
                        const struct iom_claim_device *d = &c->devices[k];
                        if (!iom_address_equal(&d->address, &s->address))
                                continue;
                        s->quarantine_after = c->quarantine_after;
                        if (!plan->owner && !(s->reset_method = strdup(IOM_RESET_DEFAULT)))
                                r = -ENOMEM;
                        if (plan->owner && d->reset_method &&
                            !(s->reset_method = strdup(d->reset_method)))
                                r = -ENOMEM;
                        s->d3cold_was = d->d3cold_was;
                }
        }
        (void) pthread_mutex_unlock(&m->journal_lock);
        return r;
}

int binder_plan(struct manager *m, const struct binder_request *req, struct iom_plan **ret,
                char **ret_error) {
        if (req->recover) {
                /* Only the group matters: the steps are in the journal. */
                int r = iom_plan_new(IOM_PLAN_REBIND, NULL, ret);
                if (r >= 0 && (r = iom_plan_add_group(*ret, req->group)) < 0)
                        *ret = iom_plan_free(*ret);
                return r;
        }
        if (req->sriov)
                return binder_sriov_plan(m, req->devices[0], req->vfs, ret, NULL, ret_error);
        switch (req->op) {
        case IOM_PLAN_ASSIGN: {
                int r = iom_plan_assign(m->inventory, req->owner, req->devices, ret, ret_error);
                if (r < 0)
                        return r;
                if (req->uuid && !((*ret)->owner_uuid = strdup(req->uuid)))
                        r = -ENOMEM;
                else
                        r = manager_check_policy(m, *ret, ret_error);
                if (r < 0)
                        *ret = iom_plan_free(*ret);
                return r;
        }
        case IOM_PLAN_RELEASE: {
                int r = req->from_quarantine
                                ? iom_plan_release_quarantine(m->inventory,
                                                              req->devices ? req->devices[0] : NULL,
                                                              ret, ret_error)
                                : iom_plan_release(m->inventory, req->owner, req->devices, ret,
                                                   ret_error);
                if (r >= 0 && (r = plan_add_claimed_choices(m, *ret)) < 0)
                        *ret = iom_plan_free(*ret);
                return r;
        }
        case IOM_PLAN_REBIND:
                return iom_plan_rebind(m->inventory, req->devices ? req->devices[0] : NULL,
                                       req->driver, ret, ret_error);
        default:
                return -EINVAL;
        }
}

/* Whether a running job holds a group @plan needs. */
static bool job_must_wait(struct manager *m, const struct iom_plan *plan) {
        for (struct job *j = m->jobs_running; j; j = j->next) {
                for (size_t i = 0; i < plan->n_groups; i++)
                        if (iom_plan_has_group(j->plan, plan->groups[i]))
                                return true;
        }
        return false;
}

static void job_work(void *userdata) {
        struct job *job = userdata;

        if (job->request.recover)
                job->result =
                        binder_group_recover(job->manager, job->request.group, &job->error_message);
        else if (job->request.sriov)
                job->result = binder_sriov_run(&job->sriov_pf, job->request.vfs, job->vfio_vfs,
                                               job->request.dry_run, &job->writes,
                                               &job->error_message);
        else
                job->result = binder_group_run_plan(job->manager, job->plan, job->request.force,
                                                    job->request.dry_run, &job->error_message);
}

static void job_done(void *userdata);

/* SetVFs' answer, a(ss): each sysfs attribute written (below /sys/bus/pci/devices), its value. */
static int bus_append_writes(sd_bus_message *reply, char *const *writes) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ss)");
        for (char *const *w = writes; r >= 0 && w && w[0] && w[1]; w += 2)
                r = sd_bus_message_append(reply, "(ss)", w[0], w[1]);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static void job_reply(struct job *job) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        if (!job->message) { /* nobody waits for it (a recovery, an autobind, libvirt's): the
                              * log says how it went */
                if (job->result == -ENOENT && job->request.quiet_if_none)
                        log_debug("%s", strempty(job->error_message));
                else if (job->result < 0)
                        log_warning("%s", strempty(job->error_message));
                return;
        }
        if (job->result < 0) {
                (void) bus_error_set_errno(&error, job->result, job->error_message);
                (void) sd_bus_reply_method_error(job->message, &error);
                sd_bus_error_free(&error);
                return;
        }
        r = sd_bus_message_new_method_return(job->message, &reply);
        if (r >= 0)
                r = job->request.sriov ? bus_append_writes(reply, job->writes)
                                       : bus_append_plan(reply, job->plan);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to reply to a finished job, ignoring: %m");
}

/* Queues @job at the tail of the waiting jobs, with the devices its request names parsed. */
static int job_append(struct manager *m, struct job *job) {
        size_t n = 0;

        while (job->request.devices && job->request.devices[n])
                n++;
        job->named = n > 0 ? calloc(n, sizeof(*job->named)) : NULL;
        if (n > 0 && !job->named)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (iom_address_parse(job->request.devices[i], &job->named[job->n_named],
                                      NULL) >= 0)
                        job->n_named++;
        job->next = NULL;
        if (m->jobs_tail)
                m->jobs_tail->next = job;
        else
                m->jobs = job;
        m->jobs_tail = job;
        return 0;
}

/* Takes the waiting job *@p (@prev before it, or NULL) off the waiting list. */
static struct job *job_take_waiting(struct manager *m, struct job **p, struct job *prev) {
        struct job *job = *p;

        *p = job->next;
        if (m->jobs_tail == job)
                m->jobs_tail = prev;
        job->next = NULL;
        return job;
}

static void job_unlink_running(struct manager *m, struct job *job) {
        for (struct job **p = &m->jobs_running; *p; p = &(*p)->next)
                if (*p == job) {
                        *p = job->next;
                        m->n_jobs_running--;
                        log_debug("Binder: a job ends (%u running).", m->n_jobs_running);
                        return;
                }
}

/* Fails a job that never started (taken off the waiting list), on the loop. */
static void job_fail(struct job *job, int r, char *message) {
        job->result = r;
        job->error_message = message;
        job_reply(job);
        if (job->request.autobind)
                manager_autobind_failed(job->manager, job->request.devices[0], r);
        job_free(job);
}

/* Plans @job against today's inventory; an SR-IOV job also learns which of the VFs it makes
 * the policy gives to vfio-pci. */
static int job_plan(struct manager *m, struct job *job, struct iom_plan **ret, char **ret_error) {
        const struct iom_device *pf;
        int r;

        if (!job->request.sriov || job->request.recover)
                return binder_plan(m, &job->request, ret, ret_error);
        r = binder_sriov_plan(m, job->request.devices[0], job->request.vfs, ret, &pf, ret_error);
        if (r < 0)
                return r;
        job->sriov_pf = pf->address;
        job->vfio_vfs = strv_free(job->vfio_vfs);
        r = manager_sriov_vfio_vfs(m, pf, job->request.vfs, &job->vfio_vfs);
        if (r < 0)
                *ret = iom_plan_free(*ret);
        return r;
}

/* Starts waiting jobs in order while fewer than BINDER_MAX_RUNNING run, each whose groups are
 * free, planning each against today's inventory. */
static void jobs_dispatch(struct manager *m) {
        struct job **p = &m->jobs, *prev = NULL;

        while (*p && m->n_jobs_running < BINDER_MAX_RUNNING) {
                _cleanup_(iom_plan_freep) struct iom_plan *plan = NULL;
                struct job *job = *p;
                char *why = NULL;
                int r;

                r = job_plan(m, job, &plan, &why);
                if (r < 0) {
                        job_fail(job_take_waiting(m, p, prev), r, why);
                        continue;
                }
                if (job_must_wait(m, plan)) {
                        prev = job;
                        p = &job->next;
                        continue;
                }
                job = job_take_waiting(m, p, prev);
                job->plan = TAKE_PTR(plan);
                r = worker_run(m->worker, WORKER_WAIT, job_work, job_done, job);
                if (r < 0) {
                        job_fail(job, r, strdup("Cannot start a worker thread"));
                        continue;
                }
                job->next = m->jobs_running;
                m->jobs_running = job;
                m->n_jobs_running++;
                log_debug("Binder: a job starts (%u running).", m->n_jobs_running);
        }
}

/* Makes the inventory show what a successful job did, at once: the caller's next read, and
 * the next job's plan, must see it without waiting for a rescan (which may itself be stuck on
 * a held device). The rescan that follows confirms it from sysfs. */
static void job_apply(struct manager *m, const struct job *job) {
        const struct iom_plan *plan = job->plan;

        for (size_t i = 0; i < plan->n_steps; i++) {
                const struct iom_plan_step *s = &plan->steps[i];
                struct iom_device *d = iom_inventory_find_device(m->inventory, &s->address);
                const char *override = binder_step_final_override(plan, s);
                char *driver = s->to ? strdup(s->to) : NULL;
                char *ov = override ? strdup(override) : NULL;

                if (!d || (s->to && !driver) || (override && !ov)) {
                        free(driver);
                        free(ov);
                        continue;
                }
                free(d->driver);
                d->driver = driver;
                free(d->driver_override);
                d->driver_override = ov;
        }
        (void) pthread_mutex_lock(&m->journal_lock);
        (void) manager_apply_claims(m, m->inventory);
        (void) pthread_mutex_unlock(&m->journal_lock);
        for (size_t i = 0; i < plan->n_groups; i++) {
                struct iom_group *g = iom_inventory_find_group(m->inventory, plan->groups[i]);
                if (g)
                        (void) iom_group_update_viability(g);
        }
        manager_emit_plan_changes(m, plan);
        inhibit_update(m);
}

static void job_done(void *userdata) {
        struct job *job = userdata;
        struct manager *m = job->manager;
        bool changed = !job->request.dry_run;

        /* Hot-plug batches and rescans that read sysfs while the job moved devices are read
         * again (daemon/hotplug.c): whether it succeeded, rolled back or recovered, they may
         * have seen a device half moved, and would apply that after what follows here. */
        if (changed)
                m->model_generation++;
        /* A device the job moved may have left the host while it ran: hot-plug closed what
         * the journal held for it then, before the job recorded its claim or quarantine. */
        if (changed && !job->request.recover && !job->request.sriov)
                manager_close_vanished_records(m, job->plan);
        /* An SR-IOV job's VFs come and go as uevents, which the hot-plug model applies and
         * autobinds: nothing of the plan to apply here. */
        if (job->result >= 0 && !job->request.recover && !job->request.sriov && changed)
                job_apply(m, job);
        else if (job->result < 0 && changed &&
                 !(job->result == -ENOENT && job->request.quiet_if_none)) {
                m->binder_failures++;
                manager_exports_changed(m);
        }
        job_reply(job);
        if (job->request.autobind && job->result < 0)
                manager_autobind_failed(m, job->request.devices[0], job->result);
        if (changed)
                hotplug_moved(m, job->plan, job->request.sriov);
        /* The groups the job touched are read again from sysfs, to confirm what job_apply()
         * assumed, or what a rollback or a recovery left. */
        for (size_t i = 0; changed && i < job->plan->n_groups; i++) {
                const struct iom_group *g =
                        iom_inventory_find_group(m->inventory, job->plan->groups[i]);
                for (size_t k = 0; g && k < g->n_devices; k++)
                        hotplug_refresh(m, &g->devices[k]->address);
        }
        job_unlink_running(m, job);
        job_free(job);
        jobs_dispatch(m);
}

int binder_submit(struct manager *m, struct binder_request *req, sd_bus_message *message,
                  sd_bus_error *error) {
        struct job *job;

        job = calloc(1, sizeof(*job));
        if (!job)
                return -ENOMEM;
        job->manager = m;
        job->request = *req;
        *req = (struct binder_request){};
        job->message = message ? sd_bus_message_ref(message) : NULL;
        if (job_append(m, job) < 0) {
                job_free(job);
                return -ENOMEM;
        }
        jobs_dispatch(m);
        return 1; /* the reply comes when the job is done */
}

/* Whether @j moves (or, not planned yet, names) the device at @a. */
static bool job_has_device(const struct job *j, const void *key) {
        const struct iom_address *a = key;

        for (size_t i = 0; j->plan && i < j->plan->n_steps; i++)
                if (iom_address_equal(&j->plan->steps[i].address, a))
                        return true;
        for (size_t i = 0; !j->plan && i < j->n_named; i++)
                if (iom_address_equal(&j->named[i], a))
                        return true;
        return false;
}

static bool job_has_group(const struct job *j, const void *key) {
        unsigned group = *(const unsigned *) key;

        return (j->plan && iom_plan_has_group(j->plan, group)) ||
               (j->request.recover && j->request.group == group);
}

/* Whether a running or waiting job has what @has looks for (device or group @key). */
static bool jobs_have(struct manager *m, bool (*has)(const struct job *j, const void *key),
                      const void *key) {
        for (const struct job *j = m->jobs_running; j; j = j->next)
                if (has(j, key))
                        return true;
        for (const struct job *j = m->jobs; j; j = j->next)
                if (has(j, key))
                        return true;
        return false;
}

bool binder_device_busy(struct manager *m, const struct iom_address *a) {
        return jobs_have(m, job_has_device, a);
}

bool binder_group_busy(struct manager *m, unsigned group) {
        return jobs_have(m, job_has_group, &group);
}

void binder_retry_intents(struct manager *m) {
        _cleanup_free_ unsigned *groups = NULL;
        size_t n;

        (void) pthread_mutex_lock(&m->journal_lock);
        n = m->journal->n_intents;
        groups = calloc(n ? n : 1, sizeof(unsigned));
        for (size_t i = 0; groups && i < n; i++)
                groups[i] = m->journal->intents[i].group;
        (void) pthread_mutex_unlock(&m->journal_lock);
        if (!groups)
                return (void) log_oom();

        for (size_t i = 0; i < n; i++) {
                struct job *job;

                if (binder_group_busy(m, groups[i]))
                        continue;
                job = calloc(1, sizeof(*job));
                if (!job)
                        return (void) log_oom();
                job->manager = m;
                job->request = (struct binder_request){.recover = true, .group = groups[i]};
                (void) job_append(m, job); /* names no device: nothing to allocate */
        }
        jobs_dispatch(m);
}

void binder_stop(struct manager *m) {
        /* Called once the worker waited for the running jobs: a rebind half done finishes or
         * rolls back, it is never cut. */
        for (struct job *job = m->jobs_running, *next; job; job = next) {
                next = job->next;
                job_free(job);
        }
        for (struct job *job = m->jobs, *next; job; job = next) {
                next = job->next;
                job_free(job);
        }
        m->jobs = m->jobs_tail = m->jobs_running = NULL;
        m->n_jobs_running = 0;
}
