/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's state and its lifecycle: start, refresh, stop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/inotify.h>
#include <sys/stat.h>

#include "auth.h"
#include "binder.h"
#include "export.h"
#include "inhibit.h"
#include "iom-policy.h"
#include "iom-strv.h"
#include "libvirt.h"
#include "log.h"
#include "manager.h"
#include "policy.h"
#include "space.h"
#include "worker.h"

#define POLICY_SETTLE_USEC (200 * 1000)

int manager_new(struct manager **ret) {
        _cleanup_(manager_freep) struct manager *m = NULL;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        (void) pthread_mutex_init(&m->journal_lock, NULL);
        (void) pthread_mutex_init(&m->journal_save_lock, NULL);
        m->inhibit_fd = -EBADF;
        m->journal_path = strdup(IOMMUD_STATEDIR "/state.json");
        m->policy_dir = strdup(IOMMUD_POLICYDIR);
        m->libvirt_timeout_usec = LIBVIRT_TIMEOUT_DEFAULT_USEC;
        if (!m->journal_path || !m->policy_dir)
                return -ENOMEM;
        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

struct manager *manager_free(struct manager *m) {
        if (!m)
                return NULL;
        /* The running jobs finish first (a scan stuck on a held device is left behind). */
        worker_free(m->worker);
        libvirt_free(m->libvirt);
        free(m->libvirt_uri);
        binder_stop(m);
        space_destroy_all(m);
        inhibit_stop(m);
        iom_journal_free(m->journal);
        free(m->journal_path);
        iom_policy_free(m->policy);
        free(m->policy_dir);
        free(m->autobind_failed);
        sd_event_source_unref(m->export_source);
        free(m->nfd_file);
        free(m->metrics_file);
        free(m->nfd_written);
        free(m->metrics_written);
        (void) pthread_mutex_destroy(&m->journal_lock);
        (void) pthread_mutex_destroy(&m->journal_save_lock);
        sd_event_source_unref(m->policy_reload_source);
        hotplug_free(m->hotplug);
        auth_free(m->auth);
        sd_bus_flush_close_unref(m->bus);
        iom_inventory_free(m->inventory);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

char *manager_group_path(unsigned id) {
        char *path;
        if (asprintf(&path, IOMMUD_GROUP_PREFIX "/%u", id) < 0)
                return NULL;
        return path;
}

char *manager_device_path(const struct iom_address *a) {
        char buf[IOM_ADDRESS_STRING_MAX], *path;
        if (asprintf(&path, IOMMUD_DEVICE_PREFIX "/%s", iom_address_format_path(a, buf)) < 0)
                return NULL;
        return path;
}

static void log_inventory(const struct iom_inventory *inv) {
        log_info("Found %zu PCI devices in %zu IOMMU groups.", inv->n_devices, inv->n_groups);
        if (inv->host->notice)
                log_notice("%s", inv->host->notice);
        if (inv->host->acs_override)
                log_warning("%s.", IOM_ACS_OVERRIDE_WARNING);
        if (inv->host->groups_present && !inv->host->interrupt_remapping)
                log_warning("Interrupt remapping is off: VFIO refuses assignment unless "
                            "vfio_iommu_type1.allow_unsafe_interrupts=1 (currently %s).",
                            inv->host->allow_unsafe_interrupts ? "on" : "off");
}

/* A claim (owner and host drivers) or a quarantine record (reason and host drivers). */
static int apply_record(struct iom_inventory *inv, const struct iom_claim *c) {
        struct iom_group *g = iom_inventory_find_group(inv, c->group);

        if (!g) {
                if (c->owner)
                        log_warning("IOMMU group %u, owned by '%s', is gone.", c->group,
                                    IOM_ESCAPE(c->owner));
                else
                        log_warning("IOMMU group %u, quarantined, is gone.", c->group);
                return 0;
        }
        if (c->owner &&
            (!(g->owner = strdup(c->owner)) || (c->uuid && !(g->owner_uuid = strdup(c->uuid)))))
                return -ENOMEM;
        if (c->reason && !(g->quarantine = strdup(c->reason)))
                return -ENOMEM;
        for (size_t k = 0; k < c->n_devices; k++) {
                struct iom_device *d = iom_inventory_find_device(inv, &c->devices[k].address);
                if (!d || !c->devices[k].host_driver)
                        continue;
                free(d->host_driver);
                d->host_driver = strdup(c->devices[k].host_driver);
                if (!d->host_driver)
                        return -ENOMEM;
        }
        return 0;
}

int manager_apply_claims(struct manager *m, struct iom_inventory *inv) {
        int r;

        /* From scratch: a claim released since the last time leaves no owner behind. */
        for (size_t i = 0; i < inv->n_groups; i++) {
                inv->groups[i]->owner = mfree(inv->groups[i]->owner);
                inv->groups[i]->owner_uuid = mfree(inv->groups[i]->owner_uuid);
                inv->groups[i]->quarantine = mfree(inv->groups[i]->quarantine);
        }
        for (size_t i = 0; i < inv->n_devices; i++)
                inv->devices[i]->host_driver = mfree(inv->devices[i]->host_driver);
        for (size_t i = 0; i < m->journal->n_claims; i++)
                if ((r = apply_record(inv, &m->journal->claims[i])) < 0)
                        return r;
        for (size_t i = 0; i < m->journal->n_quarantined; i++)
                if ((r = apply_record(inv, &m->journal->quarantined[i])) < 0)
                        return r;
        return 0;
}

static int compare_address(const void *x, const void *y) {
        return iom_address_compare(x, y);
}

/* The devices of @c that are in @gone (sorted), joined for a log line; @ret_lost gets them
 * one by one. */
static int lost_devices(const struct iom_claim *c, const struct iom_address *gone, size_t n_gone,
                        struct iom_strv *ret_lost, char **ret_list) {
        for (size_t k = 0; k < c->n_devices; k++) {
                char a[IOM_ADDRESS_STRING_MAX];

                if (!bsearch(&c->devices[k].address, gone, n_gone, sizeof(*gone), compare_address))
                        continue;
                if (iom_strv_push_copy(ret_lost, iom_address_format(&c->devices[k].address, a)) < 0)
                        return -ENOMEM;
        }
        *ret_list = iom_strv_join(ret_lost->v, ", ");
        return *ret_list ? 0 : -ENOMEM;
}

/* Logs and signals one closed claim: the owner, the group and the devices of it that went. */
static void report_lost_claim(struct manager *m, const struct iom_claim *c,
                              const struct iom_address *gone, size_t n_gone) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *signal = NULL;
        _cleanup_(iom_strv_done) struct iom_strv lost = {};
        _cleanup_free_ char *list = NULL;
        int r;

        if (lost_devices(c, gone, n_gone, &lost, &list) < 0)
                return (void) log_oom();
        log_warning("IOMMU group %u of '%s' lost %s (removed from the host): its ownership is "
                    "closed; the device is not given back if it returns.",
                    c->group, IOM_ESCAPE(c->owner), list);
        if (!m->bus)
                return; /* at start: nobody listens yet */
        r = sd_bus_message_new_signal(m->bus, &signal, IOMMUD_PATH, "org.iommud1.Manager",
                                      "OwnershipLost");
        if (r >= 0)
                r = sd_bus_message_append(signal, "su", c->owner, c->group);
        if (r >= 0)
                r = sd_bus_message_append_strv(signal, lost.v);
        if (r >= 0)
                r = sd_bus_message_append(signal, "s", "removed");
        if (r >= 0)
                r = sd_bus_send(m->bus, signal, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to send OwnershipLost, ignoring: %m");
}

/* A quarantine keeps devices whose reset failed on vfio-pci. One that left the host leaves the
 * record, which goes with its last device: what comes back at its address is a device to start
 * clean with, a new card, a new VF (clearing VF Enable resets the VFs, PCI SR-IOV 3.3.3.1), or
 * the same function after a remove and a rescan, which the kernel gives its host driver at once
 * (a record could not keep it on vfio-pci anyway). */
static int close_lost_quarantine(struct iom_journal *next, const struct iom_claim *c,
                                 const struct iom_address *gone, size_t n_gone) {
        _cleanup_(iom_strv_done) struct iom_strv lost = {};
        _cleanup_free_ char *list = NULL;
        bool closed = false;

        if (lost_devices(c, gone, n_gone, &lost, &list) < 0)
                return -ENOMEM;
        for (size_t k = 0; k < c->n_devices; k++)
                if (bsearch(&c->devices[k].address, gone, n_gone, sizeof(*gone), compare_address))
                        closed |= iom_journal_unquarantine_device(next, c->group,
                                                                  &c->devices[k].address) > 0;
        if (closed)
                log_warning("IOMMU group %u, quarantined, lost %s (removed from the host): its "
                            "quarantine is closed; a device that comes back there starts clean.",
                            c->group, list);
        else
                log_notice("IOMMU group %u, quarantined, lost %s (removed from the host): the "
                           "quarantine stays on its other devices.",
                           c->group, list);
        return 0;
}

/* The journal's records in one sequence: the claims, then the quarantine records. */
static size_t journal_n_records(const struct iom_journal *j) {
        return j->n_claims + j->n_quarantined;
}

static const struct iom_claim *journal_record(const struct iom_journal *j, size_t i) {
        return i < j->n_claims ? &j->claims[i] : &j->quarantined[i - j->n_claims];
}

/* Whether a device of @c is in @gone (sorted). */
static bool record_lost(const struct iom_claim *c, const struct iom_address *gone, size_t n_gone) {
        for (size_t k = 0; k < c->n_devices; k++)
                if (bsearch(&c->devices[k].address, gone, n_gone, sizeof(*gone), compare_address))
                        return true;
        return false;
}

void manager_close_lost_claims(struct manager *m, const struct iom_address *gone, size_t n_gone) {
        _cleanup_(iom_journal_freep) struct iom_journal *next = NULL;
        bool any = false;

        (void) pthread_mutex_lock(&m->journal_save_lock);
        for (size_t i = 0; i < journal_n_records(m->journal); i++) {
                const struct iom_journal *j = m->journal;
                const struct iom_claim *c = journal_record(j, i);
                bool quarantine = i >= j->n_claims;

                if (!record_lost(c, gone, n_gone))
                        continue;
                if ((!next && iom_journal_copy(j, &next) < 0) ||
                    (quarantine && close_lost_quarantine(next, c, gone, n_gone) < 0)) {
                        (void) pthread_mutex_unlock(&m->journal_save_lock);
                        return (void) log_oom();
                }
                if (!quarantine) {
                        report_lost_claim(m, c, gone, n_gone);
                        iom_journal_unclaim(next, c->group);
                }
                any = true;
        }
        if (any)
                (void) manager_save_journal(m, TAKE_PTR(next));
        (void) pthread_mutex_unlock(&m->journal_save_lock);
}

/* Adds @a to @absent when the inventory lacks it. Returns 1 when added. */
static int push_absent(struct manager *m, const struct iom_address *a, struct iom_address **absent,
                       size_t *n) {
        if (iom_inventory_find_device(m->inventory, a))
                return 0;
        if (GREEDY_REALLOC(*absent, *n + 1) < 0)
                return -ENOMEM;
        (*absent)[(*n)++] = *a;
        return 1;
}

static void close_absent(struct manager *m, struct iom_address *absent, size_t n) {
        if (n == 0)
                return;
        qsort(absent, n, sizeof(*absent), compare_address);
        manager_close_lost_claims(m, absent, n);
}

void manager_close_vanished_records(struct manager *m, const struct iom_plan *plan) {
        _cleanup_free_ struct iom_address *absent = NULL;
        size_t n = 0;

        for (size_t i = 0; i < plan->n_steps; i++) {
                char buf[IOM_ADDRESS_STRING_MAX];
                int r = push_absent(m, &plan->steps[i].address, &absent, &n);

                if (r < 0)
                        return (void) log_oom();
                if (r > 0)
                        log_notice("%s left the host during the %s of its IOMMU group %u.",
                                   iom_address_format(&plan->steps[i].address, buf),
                                   iom_plan_op_to_string(plan->op), plan->steps[i].group);
        }
        close_absent(m, absent, n);
}

/* At start: the records of devices that left the host while the daemon was not watching
 * (stopped, or a reboot that took VFs away) are closed as they would have been then. */
static void close_records_of_absent_devices(struct manager *m) {
        _cleanup_free_ struct iom_address *absent = NULL;
        size_t n = 0;

        for (size_t i = 0; i < journal_n_records(m->journal); i++) {
                const struct iom_claim *c = journal_record(m->journal, i);

                for (size_t k = 0; k < c->n_devices; k++)
                        if (push_absent(m, &c->devices[k].address, &absent, &n) < 0)
                                return (void) log_oom();
        }
        close_absent(m, absent, n);
}

int manager_save_journal(struct manager *m, struct iom_journal *next) {
        int r = iom_journal_save(next, m->journal_path);
        if (r < 0) {
                iom_journal_free(next);
                return log_error_errno(r, "Failed to save the journal %s: %m", m->journal_path);
        }
        (void) pthread_mutex_lock(&m->journal_lock);
        iom_journal_free(m->journal);
        m->journal = next;
        (void) pthread_mutex_unlock(&m->journal_lock);
        return 0;
}

/* mkdir -p of @path's directory. */
static int mkdir_parents(const char *path) {
        _cleanup_free_ char *dir = strdup(path);

        if (!dir)
                return -ENOMEM;
        for (char *p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
                *p = '\0';
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                *p = '/';
        }
        return 0;
}

/* Reads the journal; a corrupt one is moved aside and the daemon starts from what sysfs says. */
static int load_journal(struct manager *m) {
        _cleanup_free_ char *error = NULL, *aside = NULL;
        int r;

        /* The journal's directory: StateDirectory= makes it under systemd; by hand, we do. */
        r = mkdir_parents(m->journal_path);
        if (r < 0)
                return log_error_errno(r, "Failed to create the directory of %s: %m",
                                       m->journal_path);

        r = iom_journal_load(m->journal_path, &m->journal, &error);
        if (r == -EBADMSG) {
                r = iom_journal_move_aside(m->journal_path, &aside);
                if (r < 0)
                        return log_error_errno(r,
                                               "The journal is corrupt (%s) and cannot be moved "
                                               "aside: %m",
                                               error);
                log_error("The journal is corrupt: %s. Moved it to %s; starting from what sysfs "
                          "says.",
                          strempty(error), aside);
                m->journal = iom_journal_new();
                return m->journal ? 0 : log_oom();
        }
        if (r < 0)
                return log_error_errno(r, "Failed to read the journal %s: %m", m->journal_path);
        return 0;
}

/* A claimed device someone moved by hand is reported, not fought: its group's State says
 * "inconsistent" until its owner releases it. */
static void log_hand_moves(const struct iom_inventory *inv) {
        for (size_t i = 0; i < inv->n_groups; i++) {
                const struct iom_group *g = inv->groups[i];
                if (!streq(iom_group_state(g), "inconsistent"))
                        continue;
                for (size_t k = 0; k < g->n_devices; k++) {
                        const struct iom_device *d = g->devices[k];
                        char a[IOM_ADDRESS_STRING_MAX];
                        if (iom_device_is_bridge(d) || iom_driver_is_vfio(d->driver))
                                continue;
                        log_warning("IOMMU group %u belongs to '%s', but %s is on %s, not "
                                    "vfio-pci: moved by hand? Leaving it as it is.",
                                    g->id, IOM_ESCAPE(g->owner), iom_address_format(&d->address, a),
                                    d->driver ? d->driver : "no driver");
                }
        }
}

/* Reloads the policy; a broken one is reported and the one in force stays. */
static void reload_policy(struct manager *m) {
        _cleanup_free_ char *errors = NULL;

        if (manager_load_policy(m, &errors) < 0)
                log_error("The policy in %s is broken; the policy in force stays:\n%s",
                          m->policy_dir, strempty(errors));
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        reload_policy(userdata);
        return 0;
}

static int on_policy_settled(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;

        m->policy_reload_source = sd_event_source_unref(m->policy_reload_source);
        reload_policy(m);
        return 0;
}

/* A file of the policy directory changed: reload once the writes settle (an editor saves in
 * several steps). */
static int on_policy_dir_change(sd_event_source *s, const struct inotify_event *event,
                                void *userdata) {
        struct manager *m = userdata;
        int r;

        if (m->policy_reload_source)
                return 0;
        r = sd_event_add_time_relative(m->event, &m->policy_reload_source, CLOCK_MONOTONIC,
                                       POLICY_SETTLE_USEC, 0, on_policy_settled, m);
        if (r < 0)
                log_warning_errno(r, "Failed to schedule a policy reload, ignoring: %m");
        return 0;
}

int manager_start(struct manager *m) {
        _cleanup_free_ char *policy_errors = NULL;
        int r;

        r = manager_load_policy(m, &policy_errors);
        if (r < 0)
                return log_error_errno(r, "The policy in %s is broken, not starting:\n%s",
                                       m->policy_dir, strempty(policy_errors));
        r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m);
        if (r < 0)
                return log_error_errno(r, "Failed to handle SIGHUP: %m");
        r = sd_event_add_inotify(m->event, NULL, m->policy_dir,
                                 IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                         IN_CREATE | IN_ONLYDIR,
                                 on_policy_dir_change, m);
        if (r < 0)
                log_notice_errno(r, "Not watching %s for changes (%m): reload with SIGHUP.",
                                 m->policy_dir);

        r = load_journal(m);
        if (r < 0)
                return r;
        r = iom_inventory_scan(&m->inventory);
        if (r < 0)
                return log_error_errno(r, "Failed to read the host's PCI devices: %m");
        log_inventory(m->inventory);

        /* A crash left changes half done: finish or roll them back before serving. What cannot
         * be done now (a device still held) stays journaled and is retried on uevents. */
        (void) binder_recover(m);
        close_records_of_absent_devices(m);
        r = manager_apply_claims(m, m->inventory);
        if (r < 0)
                return log_oom();
        log_hand_moves(m->inventory);
        r = worker_new(m->event, &m->worker);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the worker threads: %m");
        manager_autobind(m);
        manager_sriov_by_policy(m);

        /* sd_bus_open_system() honours $DBUS_SYSTEM_BUS_ADDRESS: tests use a private bus. */
        r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        /* Off the bus, the daemon serves nobody and its name is gone: it exits with a failure
         * and systemd starts it again (Restart=on-failure); the journal makes that safe. */
        r = sd_bus_set_exit_on_disconnect(m->bus, true);
        if (r < 0)
                return log_error_errno(r, "Failed to follow the bus connection: %m");

        /* The filter first: no handler runs for a call it has not let through. */
        r = auth_new(m, &m->auth);
        if (r < 0)
                return log_error_errno(r, "Failed to install the authorization filter: %m");
        r = sd_bus_add_object_manager(m->bus, NULL, IOMMUD_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to add the object manager: %m");
        r = bus_manager_register(m);
        if (r < 0)
                return r;
        r = bus_group_register(m);
        if (r < 0)
                return r;
        r = bus_device_register(m);
        if (r < 0)
                return r;
        r = bus_space_register(m);
        if (r < 0)
                return r;

        r = hotplug_start(m);
        if (r < 0)
                return r;

        manager_exports_start(m);

        r = sd_bus_request_name(m->bus, IOMMUD_BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to take the bus name " IOMMUD_BUS_NAME ": %m");
        r = inhibit_start(m); /* and take it for groups owned since before this start */
        if (r < 0)
                return r;

        /* Serving first: libvirt may be absent or slow, which is normal. */
        if (m->libvirt_uri) {
                r = libvirt_new(m, m->libvirt_uri, m->libvirt_timeout_usec, &m->libvirt);
                if (r < 0)
                        return log_error_errno(r, "Failed to follow libvirt: %m");
        }
        return 0;
}

static bool strings_differ(const char *a, const char *b) {
        return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

void group_snapshot_done(struct group_snapshot *s) {
        free(s->devices);
        for (size_t i = 0; s->blockers && i < s->n_blockers; i++) {
                free(s->blockers[i].driver);
                free(s->blockers[i].reason);
        }
        free(s->blockers);
        free(s->owner);
        free(s->owner_uuid);
        free(s->quarantine);
        *s = (struct group_snapshot){};
}

static int strdup_ptr(const char *s, char **ret) {
        *ret = s ? strdup(s) : NULL;
        return s && !*ret ? -ENOMEM : 0;
}

int group_snapshot_take(const struct iom_group *g, struct group_snapshot *ret) {
        _cleanup_(group_snapshot_done) struct group_snapshot s = {
                .viable = g->viable,
                .state = iom_group_state(g),
                .n_devices = g->n_devices,
                .n_blockers = g->n_blockers,
        };

        s.devices = calloc(g->n_devices ?: 1, sizeof(*s.devices));
        s.blockers = calloc(g->n_blockers ?: 1, sizeof(*s.blockers));
        if (!s.devices || !s.blockers)
                return -ENOMEM;
        for (size_t i = 0; i < g->n_devices; i++)
                s.devices[i] = g->devices[i]->address;
        for (size_t i = 0; i < g->n_blockers; i++) {
                s.blockers[i].address = g->blockers[i].address;
                if (strdup_ptr(g->blockers[i].driver, &s.blockers[i].driver) < 0 ||
                    strdup_ptr(g->blockers[i].reason, &s.blockers[i].reason) < 0)
                        return -ENOMEM;
        }
        if (strdup_ptr(g->owner, &s.owner) < 0 || strdup_ptr(g->owner_uuid, &s.owner_uuid) < 0 ||
            strdup_ptr(g->quarantine, &s.quarantine) < 0)
                return -ENOMEM;
        *ret = s;
        s = (struct group_snapshot){};
        return 0;
}

static bool blockers_differ(const struct group_snapshot *before, const struct iom_group *g) {
        if (before->n_blockers != g->n_blockers)
                return true;
        for (size_t i = 0; i < g->n_blockers; i++)
                if (!iom_address_equal(&before->blockers[i].address, &g->blockers[i].address) ||
                    strings_differ(before->blockers[i].driver, g->blockers[i].driver) ||
                    strings_differ(before->blockers[i].reason, g->blockers[i].reason))
                        return true;
        return false;
}

/* Which of @g's signalled properties differ from @before: Devices, Viable, Blockers, State and
 * the owner's and quarantine's. */
static unsigned group_changes(const struct group_snapshot *before, const struct iom_group *g) {
        unsigned changes = 0;

        if (strings_differ(before->owner, g->owner) ||
            strings_differ(before->quarantine, g->quarantine) ||
            !streq(before->state, iom_group_state(g)))
                changes |= GROUP_CHANGED | GROUP_HOLDER_CHANGED;
        if (before->n_devices != g->n_devices || before->viable != g->viable ||
            strings_differ(before->owner_uuid, g->owner_uuid) || blockers_differ(before, g))
                changes |= GROUP_CHANGED;
        for (size_t i = 0; !(changes & GROUP_CHANGED) && i < g->n_devices; i++)
                if (!iom_address_equal(&before->devices[i], &g->devices[i]->address))
                        changes |= GROUP_CHANGED;
        return changes;
}

void manager_emit_group_changes(struct manager *m, const struct group_snapshot *before,
                                const struct iom_group *g) {
        unsigned changes = group_changes(before, g);

        /* A device's Owner and State are its group's. */
        if (changes & GROUP_HOLDER_CHANGED)
                for (size_t k = 0; k < g->n_devices; k++)
                        bus_device_emit_changed(m, &g->devices[k]->address);
        if (changes & GROUP_CHANGED)
                bus_group_emit_changed(m, g->id);
}

/* Objects in @from that @to lacks: removed (before the swap) or added (after it). */
static void emit_membership(struct manager *m, const struct iom_inventory *from,
                            const struct iom_inventory *to, bool added) {
        for (size_t i = 0; i < from->n_devices; i++) {
                if (iom_inventory_find_device(to, &from->devices[i]->address))
                        continue;
                _cleanup_free_ char *path = manager_device_path(&from->devices[i]->address);
                if (path)
                        (void) (added ? sd_bus_emit_object_added(m->bus, path)
                                      : sd_bus_emit_object_removed(m->bus, path));
        }
        for (size_t i = 0; i < from->n_groups; i++) {
                if (iom_inventory_find_group(to, from->groups[i]->id))
                        continue;
                _cleanup_free_ char *path = manager_group_path(from->groups[i]->id);
                if (path)
                        (void) (added ? sd_bus_emit_object_added(m->bus, path)
                                      : sd_bus_emit_object_removed(m->bus, path));
        }
}

/* A device whose driver changed and whose group's holder changed is signalled twice, once
 * here and once by its group (Owner, State): skipping the first would need the groups' changes
 * before the devices', kept per group; a rescan is rare, and a repeated PropertiesChanged only
 * repeats the values. */
static void emit_changes(struct manager *m, const struct iom_inventory *old) {
        const struct iom_inventory *new = m->inventory;

        for (size_t i = 0; i < new->n_devices; i++) {
                const struct iom_device *d = new->devices[i];
                const struct iom_device *was = iom_inventory_find_device(old, &d->address);

                if (!was || (!strings_differ(was->driver, d->driver) &&
                             !strings_differ(was->driver_override, d->driver_override) &&
                             !strings_differ(was->host_driver, d->host_driver) &&
                             was->sriov_num_vfs == d->sriov_num_vfs))
                        continue;
                bus_device_emit_changed(m, &d->address);
        }
        for (size_t i = 0; i < new->n_groups; i++) {
                const struct iom_group *g = new->groups[i];
                const struct iom_group *was = iom_inventory_find_group(old, g->id);
                _cleanup_(group_snapshot_done) struct group_snapshot before = {};

                if (!was)
                        continue;
                if (group_snapshot_take(was, &before) < 0) {
                        bus_group_emit_changed(m, g->id); /* when in doubt, it changed */
                        continue;
                }
                manager_emit_group_changes(m, &before, g);
        }
        if (old->n_devices != new->n_devices || old->n_groups != new->n_groups)
                (void) sd_bus_emit_properties_changed(m->bus, IOMMUD_PATH, "org.iommud1.Manager",
                                                      "DeviceCount", "GroupCount", NULL);
}

void manager_emit_plan_changes(struct manager *m, const struct iom_plan *plan) {
        for (size_t i = 0; i < plan->n_steps; i++)
                bus_device_emit_changed(m, &plan->steps[i].address);
        for (size_t i = 0; i < plan->n_groups; i++)
                bus_group_emit_changed(m, plan->groups[i]);
        manager_exports_changed(m);
}

/* The devices of @old that @new lacks, sorted. */
static int vanished(const struct iom_inventory *old, const struct iom_inventory *new,
                    struct iom_address **ret, size_t *ret_n) {
        _cleanup_free_ struct iom_address *gone = NULL;
        size_t n = 0;

        for (size_t i = 0; i < old->n_devices; i++) {
                if (iom_inventory_find_device(new, &old->devices[i]->address))
                        continue;
                if (GREEDY_REALLOC(gone, n + 1) < 0)
                        return -ENOMEM;
                gone[n++] = old->devices[i]->address; /* in order: old is sorted */
        }
        *ret = TAKE_PTR(gone);
        *ret_n = n;
        return 0;
}

int manager_apply_inventory(struct manager *m, struct iom_inventory *owned) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *old = NULL, *new = owned;
        _cleanup_free_ struct iom_address *gone = NULL;
        size_t n_gone;
        int r;

        r = vanished(m->inventory, new, &gone, &n_gone);
        if (r < 0)
                return log_oom();
        if (n_gone > 0)
                manager_close_lost_claims(m, gone, n_gone);
        for (size_t i = 0; i < n_gone; i++)
                hotplug_forget(m, &gone[i]);
        (void) pthread_mutex_lock(&m->journal_lock);
        r = manager_apply_claims(m, new);
        (void) pthread_mutex_unlock(&m->journal_lock);
        if (r < 0)
                return log_oom();

        /* sd-bus asks the object tree for the interfaces of a removed object: emit removals
         * while the old inventory still answers, additions once the new one does. */
        emit_membership(m, m->inventory, new, false);
        old = m->inventory;
        m->inventory = TAKE_PTR(new);
        emit_membership(m, m->inventory, old, true);
        emit_changes(m, old);
        manager_exports_changed(m);
        inhibit_update(m);

        log_debug("Rescanned: %zu devices, %zu groups.", m->inventory->n_devices,
                  m->inventory->n_groups);
        return 0;
}
