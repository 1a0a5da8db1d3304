/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's state: the event loop, the bus, and the inventory it serves. */
#pragma once

#include <pthread.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "iom-inventory.h"
#include "iom-journal.h"
#include "macro.h"

#define IOMMUD_BUS_NAME "org.iommud1"
#define IOMMUD_PATH "/org/iommud1"
#define IOMMUD_GROUP_PREFIX IOMMUD_PATH "/group"
#define IOMMUD_DEVICE_PREFIX IOMMUD_PATH "/device"

struct auth;
struct hotplug;
struct iom_policy;
struct job;
struct worker;

struct manager {
        sd_event *event;
        sd_bus *bus;
        struct auth *auth; /* who may call what (daemon/auth.c) */
        struct iom_inventory *inventory;

        struct hotplug *hotplug; /* uevents and the devices they name (daemon/hotplug.c) */

        /* Work off the loop (daemon/worker.c): the binder's jobs, rescans, in-use scans. */
        struct worker *worker;
        unsigned n_explaining; /* Explain calls waiting for their in-use scans */

        /* Rescans (daemon/rescan.c); only the loop swaps the inventory. rescan_again: one is
         * wanted once the running rescan or the running hot-plug batches are done. */
        bool rescan_running, rescan_again, rescan_retry_intents;
        /* Bumped whenever a job that may have written sysfs ends: a rescan that began before
         * may have read its devices half moved, and is read again; so are the devices of a
         * hot-plug batch that the job touched (hotplug_moved()). */
        uint64_t model_generation, rescan_generation;

        /* The binder's jobs (daemon/binder.c): those waiting, in arrival order (appended at
         * the tail), and the few running (at most BINDER_MAX_RUNNING). */
        struct job *jobs, *jobs_tail, *jobs_running;
        unsigned n_jobs_running;

        /* What is allowed (daemon/policy.c). */
        char *policy_dir;
        struct iom_policy *policy;
        sd_event_source *policy_reload_source; /* a change in the directory, settling */
        /* Devices whose autobind failed: not tried again until re-added or a reload. */
        struct iom_address *autobind_failed;
        size_t n_autobind_failed;

        /* The libvirt followed (daemon/libvirt.c), read-only; NULL URI: none. */
        char *libvirt_uri;
        uint64_t libvirt_timeout_usec;
        struct libvirt *libvirt;

        /* Who owns what, persisted; worker threads replace it (manager_save_journal()). */
        char *journal_path;
        struct iom_journal *journal;
        /* journal_save_lock: held by a writer of the journal through its copy, change, save
         * (fsync) and swap, so writers take turns; journal_lock: held by readers and by the
         * swap alone, so a reader (the bus's property getters, on the loop) never waits for a
         * disk. */
        pthread_mutex_t journal_lock, journal_save_lock;

        /* logind's sleep inhibitor, held while a guest owns a group (daemon/inhibit.c). */
        int inhibit_fd;
        const char *inhibit_mode;  /* held, asked for or refused; NULL: none wanted */
        sd_bus_slot *inhibit_slot; /* the Inhibit call waiting for its reply */
        sd_bus_slot *sleep_match;  /* logind's PrepareForSleep */
        bool preparing_sleep;      /* between PrepareForSleep(true) and (false) */

        /* Mediated I/O address spaces (daemon/space.c), in creation order. */
        struct space **spaces;
        size_t n_spaces;
        struct space_creator **creators;
        size_t n_creators;
        uint32_t last_space_id;

        /* What the metrics count (daemon/export.c): changes that ran and failed, policy
         * reloads that replaced the policy and those refused. */
        uint64_t binder_failures, policy_reloads, policy_reload_errors;
        /* The export files kept written (NULL: not configured), what was last written to
         * each, when, and the timer of the next write. */
        char *nfd_file, *metrics_file;
        char *nfd_written, *metrics_written;
        uint64_t export_last_usec;
        sd_event_source *export_source;
};

int manager_new(struct manager **ret);
struct manager *manager_free(struct manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct manager *, manager_free);

/* Scans the host, connects to the bus, exports the objects and takes the bus name. */
int manager_start(struct manager *m);

/* Emits PropertiesChanged for the devices and groups a plan touched (daemon/manager.c). */
void manager_emit_plan_changes(struct manager *m, const struct iom_plan *plan);

/* Makes @inv (taken) the inventory and tells the bus what appeared, vanished or changed;
 * claims on devices it lacks are closed (manager_close_lost_claims()). */
int manager_apply_inventory(struct manager *m, struct iom_inventory *inv);

/* Rescans the host off the event loop and applies the result; a request while a rescan runs
 * makes one more afterwards. With @retry_intents, unfinished changes are retried after it. */
void manager_request_rescan(struct manager *m, bool retry_intents);

/* Closes every claim that holds one of the devices in @gone (sorted; @n_gone of them): they
 * disappeared (unplugged, device_del, VFs destroyed). Each closed claim is logged and
 * signalled (OwnershipLost); the owner's other groups stay. A device that comes back is not
 * given back. The devices in @gone also leave their quarantine records, and a record goes
 * with its last device (logged): a device that comes back starts clean. Call before
 * manager_apply_claims(); manager_start() does so for the devices that left while the daemon
 * was stopped (no signal then: nobody listens yet). */
void manager_close_lost_claims(struct manager *m, const struct iom_address *gone, size_t n_gone);

/* Closes, as above, the records (claims, quarantines) a job of @plan committed for its devices
 * that left the host while it ran: their removal was applied before the records existed. Call
 * on the loop when the job is done, before its plan is applied to the inventory. */
void manager_close_vanished_records(struct manager *m, const struct iom_plan *plan);

/* Copies owners and host drivers from the journal into @inv (call with the journal lock). */
int manager_apply_claims(struct manager *m, struct iom_inventory *inv);

/* Saves @next (taken) and makes it the journal; when the save fails @next is freed and the
 * journal stays as it is on disk. Call with journal_save_lock held (not journal_lock). */
int manager_save_journal(struct manager *m, struct iom_journal *next);

/* A copy of what a group's signals are decided on, taken before a change: its devices,
 * viability, blockers, state, owner and quarantine. */
struct group_snapshot {
        bool viable;
        const char *state; /* iom_group_state(), a constant */
        size_t n_devices, n_blockers;
        struct iom_address *devices;
        struct iom_blocker *blockers;
        char *owner, *owner_uuid, *quarantine;
};

enum {
        GROUP_CHANGED = 1 << 0,        /* a property of the group changed */
        GROUP_HOLDER_CHANGED = 1 << 1, /* its owner, quarantine or state: its devices show them */
};

int group_snapshot_take(const struct iom_group *g, struct group_snapshot *ret);
void group_snapshot_done(struct group_snapshot *s);

/* Emits PropertiesChanged for @g if any property changed since @before, and for each of its
 * devices if its owner or quarantine did: the one comparison behind the rescan's signals and
 * the hot-plug's. */
void manager_emit_group_changes(struct manager *m, const struct group_snapshot *before,
                                const struct iom_group *g);

/* Object paths of the model. */
char *manager_group_path(unsigned id);
char *manager_device_path(const struct iom_address *a);

/* Each interface's file exports its vtable, and tells the bus that an object's changing
 * properties (those its vtable marks as emitting change) may have changed. */
int bus_manager_register(struct manager *m);
int bus_group_register(struct manager *m);
void bus_group_emit_changed(struct manager *m, unsigned id);
int bus_device_register(struct manager *m);
void bus_device_emit_changed(struct manager *m, const struct iom_address *a);

/* Follows udev's pci uevents, one device at a time (daemon/hotplug.c). */
int hotplug_start(struct manager *m);
struct hotplug *hotplug_free(struct hotplug *h);
/* A job ended that moved the devices of @plan (or tried to), in model generation
 * m->model_generation: hot-plug batches that read them before are read again, and the drivers
 * it moved them between are its own doing, not a foreign driver's, when uevents report them.
 * With @unknown_devices, it may have touched devices the model does not know yet (SR-IOV):
 * every batch that began before reads again. */
void hotplug_moved(struct manager *m, const struct iom_plan *plan, bool unknown_devices);
/* The device at @a went: what comes back there is a new device, neither iommud's own move
 * (hotplug_moved()) nor a device whose autobind failed. Both the hot-plug path and a rescan that
 * finds it gone call it. */
void hotplug_forget(struct manager *m, const struct iom_address *a);
/* Reads the device at @a again soon, off the loop (after a job moved it, say). */
void hotplug_refresh(struct manager *m, const struct iom_address *a);
/* Whether device reads run (a rescan waits for them). */
bool hotplug_busy(struct manager *m);
/* Starts the device reads that waited for a rescan. */
void hotplug_resume(struct manager *m);
