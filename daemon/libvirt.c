/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's read-only libvirt connection: reconciled with the owners at every connection,
 * kept so by lifecycle and device events, retried with backoff.
 *
 * Every libvirt call that may wait for libvirtd (open, event registration, listing, a
 * domain's state and XML, close) runs as a "call" on the daemon's worker, never on the loop:
 * a slow or hung libvirtd must not hold D-Bus. Each libvirt call in it has a deadline (the
 * --libvirt-timeout), counted from the answer to the one before: a connection to a host with
 * many domains takes as long as it needs while libvirtd keeps answering. Past a deadline, the
 * call is left to end on its own (it closes its connection when it does), the connection is
 * dropped and opened again later, and no other is opened while a call is stuck. At most one
 * call runs at a time; events that come meanwhile queue the domains they name for the next.
 * Only the loop touches struct libvirt: a call works on what it holds. libvirt's events
 * themselves are dispatched on the loop (daemon/libvirt-event.c). */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "binder.h"
#include "iom-bind.h"
#include "iom-domain.h"
#include "iom-utf8.h"
#include "libvirt-event.h"
#include "libvirt.h"
#include "log.h"
#include "manager.h"
#include "worker.h"

#define N_CALLBACKS 3 /* lifecycle, device added, device removed */

/* What libvirt said of a domain it runs (or ran, until it is forgotten at the next
 * reconciliation). */
struct domain_state {
        char *name;
        int state; /* virDomainState */
};

/* A domain an event named, to read at the next call. */
struct domain_queued {
        char *name;
        bool detached_too; /* a device event: groups its XML no longer lists go home */
};

/* A domain as a call read it. */
struct domain_info {
        char *name;
        char *uuid;  /* NULL when libvirt gave none */
        int state;   /* virDomainState; -1 when unknown */
        char *xml;   /* its live XML, parsed on the loop; NULL when unread */
        char *error; /* why it could not be read; NULL when it is gone */
        bool detached_too;
};

enum call_kind {
        CALL_OPEN,  /* opens a connection, registers the callbacks, reads every running domain */
        CALL_READ,  /* reads the queued domains through its own reference to the connection */
        CALL_CLOSE, /* deregisters the callbacks and closes a connection; nobody waits for it */
};

struct call;

struct libvirt {
        struct manager *manager;
        char *uri;
        uint64_t timeout_usec;
        virConnectPtr conn;
        int callbacks[N_CALLBACKS];    /* -1 when none */
        struct call *call;             /* the one running, NULL when none */
        unsigned n_stuck;              /* calls past their deadline, not yet returned */
        unsigned generation;           /* of the connection, counted at each drop */
        _Atomic(virConnectPtr) closed; /* libvirt's close callback may run on a call's thread */
        sd_event_source *retry;
        uint64_t retry_usec;
        bool said_absent; /* libvirt's absence is logged once, until it comes */
        struct domain_state *states;
        size_t n_states;
        struct domain_queued *queued;
        size_t n_queued;
};

/* libvirt calls off the loop, and what they bring back. */
struct call {
        struct libvirt *libvirt; /* constant: the call's thread passes it to libvirt only */
        enum call_kind kind;
        unsigned generation; /* the connection's it reads */
        bool stuck;          /* past its deadline: nobody waits for it any more */
        char *uri;
        virConnectPtr conn;
        int callbacks[N_CALLBACKS];
        char *error; /* why the open failed */
        /* The loop's: the connection a stuck read call was using, closed once it returns. */
        virConnectPtr dropped;
        int dropped_callbacks[N_CALLBACKS];
        char *no_events; /* why libvirt sends no lifecycle events */
        struct domain_info *infos;
        size_t n_infos;
        sd_event_source *deadline;
        _Atomic uint64_t answered_usec; /* when libvirtd last answered one of its calls */
};

static void connection_open(struct libvirt *l);
static void call_next(struct libvirt *l);
static void on_close(virConnectPtr conn, int reason, void *opaque);
static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque);
static void on_device_changed(virConnectPtr conn, virDomainPtr dom, const char *alias,
                              void *opaque);

/* virsh's words for the states, which `iommuctl list` shows. */
static const char *const libvirt_state_table[] = {
        [VIR_DOMAIN_NOSTATE] = "no state",     [VIR_DOMAIN_RUNNING] = "running",
        [VIR_DOMAIN_BLOCKED] = "idle",         [VIR_DOMAIN_PAUSED] = "paused",
        [VIR_DOMAIN_SHUTDOWN] = "in shutdown", [VIR_DOMAIN_SHUTOFF] = "shut off",
        [VIR_DOMAIN_CRASHED] = "crashed",      [VIR_DOMAIN_PMSUSPENDED] = "pmsuspended",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(libvirt_state, int, static);

const char *libvirt_domain_state(const struct libvirt *l, const char *name) {
        if (!l || !l->conn || !name)
                return NULL;
        for (size_t i = 0; i < l->n_states; i++)
                if (streq(l->states[i].name, name))
                        return libvirt_state_to_string(l->states[i].state);
        return NULL;
}

static void states_clear(struct libvirt *l) {
        for (size_t i = 0; i < l->n_states; i++)
                free(l->states[i].name);
        l->states = mfree(l->states);
        l->n_states = 0;
}

/* Tells the bus that the groups of @owner show another domain state. */
static void emit_owner_state(struct libvirt *l, const char *owner) {
        const struct iom_inventory *inv = l->manager->inventory;

        for (size_t i = 0; i < inv->n_groups; i++)
                if (inv->groups[i]->owner && streq(inv->groups[i]->owner, owner))
                        bus_group_emit_changed(l->manager, inv->groups[i]->id);
}

static void state_set(struct libvirt *l, const char *name, int state) {

        for (size_t i = 0; i < l->n_states; i++)
                if (streq(l->states[i].name, name)) {
                        l->states[i].state = state;
                        emit_owner_state(l, name);
                        return;
                }
        if (GREEDY_REALLOC(l->states, l->n_states + 1) < 0)
                return (void) log_oom();
        l->states[l->n_states].name = strdup(name);
        if (!l->states[l->n_states].name)
                return (void) log_oom();
        l->states[l->n_states++].state = state;
        emit_owner_state(l, name);
}

/* Hands @owner's groups (all, or those of @devices, which it takes) back to the host, as a
 * job nobody waits for: its result goes to the log. */
static void release_owner(struct libvirt *l, const char *owner, char **devices) {
        struct binder_request req = {.op = IOM_PLAN_RELEASE, .quiet_if_none = true};
        int r;

        req.owner = strdup(owner);
        req.devices = devices ? devices : calloc(1, sizeof(char *));
        if (!req.owner || !req.devices) {
                binder_request_done(&req);
                return (void) log_oom();
        }
        r = binder_submit(l->manager, &req, NULL, NULL);
        binder_request_done(&req);
        if (r < 0)
                log_warning_errno(r, "Cannot return the groups of '%s': %m", IOM_ESCAPE(owner));
}

/* Whether sysfs shows @dev on vfio-pci. libvirt detached a managed='yes' hostdev before the
 * event that has the domain read, but the inventory may not show it yet: it follows the
 * kernel's uevents some time behind (daemon/hotplug.c), and a domain read before the inventory
 * caught up would never be adopted. The driver link is read without the device lock: this
 * cannot block the loop on a held device, as reading driver_override would. */
static bool on_vfio_now(const struct iom_device *dev) {
        _cleanup_free_ char *driver = NULL;

        return iom_bind_get_driver(&dev->address, &driver) >= 0 && iom_driver_is_vfio(driver);
}

/* What a running domain holds: devices on vfio-pci that nobody owns become its own (through
 * an assignment, which the policy decides); a device another owner holds is a conflict. */
static void adopt(struct libvirt *l, const char *name, const char *uuid,
                  const struct iom_domain *d) {
        struct manager *m = l->manager;
        _cleanup_strv_free_ char **take = calloc(d->n_pci + 1, sizeof(char *));
        struct binder_request req = {.op = IOM_PLAN_ASSIGN};
        size_t n = 0;
        int r;

        if (!take)
                return (void) log_oom();
        for (size_t i = 0; i < d->n_pci; i++) {
                const struct iom_device *dev =
                        iom_inventory_find_device(m->inventory, &d->pci[i].address);
                char a[IOM_ADDRESS_STRING_MAX];

                iom_address_format(&d->pci[i].address, a);
                if (!dev || !dev->group)
                        continue;
                if (dev->group->owner && !streq(dev->group->owner, name)) {
                        log_warning("libvirt runs '%s' with %s, which belongs to '%s': not "
                                    "taken from it.",
                                    IOM_ESCAPE(name), a, IOM_ESCAPE(dev->group->owner));
                        (void) sd_bus_emit_signal(m->bus, IOMMUD_PATH, "org.iommud1.Manager",
                                                  "OwnershipConflict", "sss", a, dev->group->owner,
                                                  name);
                        continue;
                }
                if (dev->group->owner || !on_vfio_now(dev))
                        continue;
                take[n] = strdup(a);
                if (!take[n++])
                        return (void) log_oom();
        }
        if (n == 0)
                return;
        log_info("libvirt runs '%s' with devices on vfio-pci that nobody owns: recording them "
                 "as its own.",
                 IOM_ESCAPE(name));
        req.owner = strdup(name);
        req.uuid = uuid ? strdup(uuid) : NULL;
        req.devices = TAKE_PTR(take);
        if (!req.owner || (uuid && !req.uuid)) {
                binder_request_done(&req);
                return (void) log_oom();
        }
        r = binder_submit(m, &req, NULL, NULL);
        binder_request_done(&req);
        if (r < 0)
                log_warning_errno(r, "Cannot record what '%s' holds: %m", IOM_ESCAPE(name));
}

/* Whether @g holds one of @d's devices. */
static bool domain_lists_group(const struct iom_inventory *inv, const struct iom_domain *d,
                               const struct iom_group *g) {
        for (size_t k = 0; k < d->n_pci; k++) {
                const struct iom_device *dev = iom_inventory_find_device(inv, &d->pci[k].address);
                if (dev && dev->group == g)
                        return true;
        }
        return false;
}

/* A domain's groups that its XML no longer lists go home (virsh detach-device). */
static void release_detached(struct libvirt *l, const char *name, const struct iom_domain *d) {
        const struct iom_inventory *inv = l->manager->inventory;
        _cleanup_strv_free_ char **gone = calloc(inv->n_devices + 1, sizeof(char *));
        size_t n = 0;

        if (!gone)
                return (void) log_oom();
        for (size_t i = 0; i < inv->n_devices; i++) {
                const struct iom_device *dev = inv->devices[i];
                char a[IOM_ADDRESS_STRING_MAX];

                if (!dev->group || !dev->group->owner || !streq(dev->group->owner, name) ||
                    iom_device_is_bridge(dev) || domain_lists_group(inv, d, dev->group))
                        continue;
                gone[n] = strdup(iom_address_format(&dev->address, a));
                if (!gone[n++])
                        return (void) log_oom();
        }
        if (n > 0)
                release_owner(l, name, TAKE_PTR(gone));
}

static void follow(struct libvirt *l, const struct domain_info *info) {
        _cleanup_(iom_domain_freep) struct iom_domain *d = NULL;
        _cleanup_free_ char *error = NULL;

        if (!info->name)
                return;
        if (info->state >= 0)
                state_set(l, info->name, info->state);
        if (!info->xml) {
                if (info->error)
                        log_warning("libvirt: '%s' cannot be read: %s", IOM_ESCAPE(info->name),
                                    info->error);
                return;
        }
        /* Stopped since the event that queued it: its stop event sends its groups home. */
        if (info->state == VIR_DOMAIN_SHUTOFF)
                return;
        if (iom_domain_parse(info->xml, strlen(info->xml), &d, &error) < 0) {
                log_warning("libvirt's XML of '%s' cannot be read: %s", IOM_ESCAPE(info->name),
                            strempty(error));
                return;
        }
        adopt(l, info->name, info->uuid, d);
        if (info->detached_too)
                release_detached(l, info->name, d);
}

/* Whether a group before the @i-th has the same owner: one release takes all its groups. */
static bool owner_seen_before(const struct iom_inventory *inv, size_t i) {
        for (size_t k = 0; k < i; k++)
                if (streq_ptr(inv->groups[k]->owner, inv->groups[i]->owner))
                        return true;
        return false;
}

/* At every connection: what runs is adopted; what libvirt started and no longer runs goes
 * home. Groups assigned by hand (no UUID recorded) are the administrator's: left alone. */
static void reconcile(struct libvirt *l, const struct call *c) {
        const struct iom_inventory *inv = l->manager->inventory;

        states_clear(l);
        for (size_t i = 0; i < c->n_infos; i++)
                follow(l, &c->infos[i]);
        for (size_t i = 0; i < inv->n_groups; i++) {
                const struct iom_group *g = inv->groups[i];
                if (!g->owner || !g->owner_uuid || libvirt_domain_state(l, g->owner) ||
                    owner_seen_before(inv, i))
                        continue;
                log_info("'%s' owns IOMMU group %u but libvirt does not run it: its groups go "
                         "home.",
                         IOM_ESCAPE(g->owner), g->id);
                release_owner(l, g->owner, NULL);
        }
}

static void queued_clear(struct libvirt *l) {
        for (size_t i = 0; i < l->n_queued; i++)
                free(l->queued[i].name);
        l->queued = mfree(l->queued);
        l->n_queued = 0;
}

static struct call *call_free(struct call *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_infos; i++) {
                free(c->infos[i].name);
                free(c->infos[i].uuid);
                free(c->infos[i].xml);
                free(c->infos[i].error);
        }
        free(c->infos);
        free(c->uri);
        free(c->error);
        free(c->no_events);
        sd_event_source_disable_unref(c->deadline);
        return mfree(c);
}

static char *last_error(void) {
        return strdup(virGetLastErrorMessage());
}

/* On a call's thread, from here to call_work: libvirt calls, on what the call holds. */

/* libvirtd answered: the next libvirt call's deadline counts from now. */
static void answered(struct call *c) {
        atomic_store(&c->answered_usec, now_usec());
}

static void domain_read(struct call *c, struct domain_info *info, virDomainPtr dom) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        int state, reason;

        if (virDomainGetUUIDString(dom, uuid) == 0)
                info->uuid = strdup(uuid);
        info->state = virDomainGetState(dom, &state, &reason, 0) == 0 ? state : -1;
        answered(c);
        info->xml = virDomainGetXMLDesc(dom, 0);
        answered(c);
        if (!info->xml)
                info->error = last_error();
}

static void connection_close_now(virConnectPtr conn, const int callbacks[]) {
        for (size_t i = 0; i < N_CALLBACKS; i++)
                if (callbacks[i] >= 0)
                        (void) virConnectDomainEventDeregisterAny(conn, callbacks[i]);
        (void) virConnectUnregisterCloseCallback(conn, on_close);
        (void) virConnectClose(conn);
}

static void call_open(struct call *c) {
        virDomainPtr *doms = NULL;
        int n;

        c->conn = virConnectOpenReadOnly(c->uri);
        if (!c->conn) {
                c->error = last_error();
                return;
        }
        answered(c);
        /* A dead libvirtd is noticed within seconds, not at the next call. */
        (void) virConnectSetKeepAlive(c->conn, 5, 3);
        (void) virConnectRegisterCloseCallback(c->conn, on_close, c->libvirt, NULL);
        c->callbacks[0] = virConnectDomainEventRegisterAny(
                c->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), c->libvirt, NULL);
        if (c->callbacks[0] < 0)
                c->no_events = last_error();
        answered(c);
        c->callbacks[1] = virConnectDomainEventRegisterAny(
                c->conn, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                VIR_DOMAIN_EVENT_CALLBACK(on_device_changed), c->libvirt, NULL);
        answered(c);
        c->callbacks[2] = virConnectDomainEventRegisterAny(
                c->conn, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                VIR_DOMAIN_EVENT_CALLBACK(on_device_changed), c->libvirt, NULL);
        answered(c);
        n = virConnectListAllDomains(c->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        answered(c);
        if (n >= 0)
                c->infos = calloc(MAX(n, 1), sizeof(*c->infos));
        if (!c->infos)
                c->error = n < 0 ? last_error() : strdup("out of memory");
        for (int i = 0; i < n; i++) {
                if (c->infos) {
                        c->infos[i].name = strdup(virDomainGetName(doms[i]));
                        domain_read(c, &c->infos[i], doms[i]);
                }
                virDomainFree(doms[i]);
        }
        free(doms);
        if (c->error) {
                connection_close_now(TAKE_PTR(c->conn), c->callbacks);
                return;
        }
        c->n_infos = n;
}

static void call_read(struct call *c) {
        for (size_t i = 0; i < c->n_infos; i++) {
                virDomainPtr dom = virDomainLookupByName(c->conn, c->infos[i].name);
                const virError *e;

                answered(c);
                if (!dom) {
                        /* Gone: its stop event says so. */
                        e = virGetLastError();
                        if (!e || e->code != VIR_ERR_NO_DOMAIN)
                                c->infos[i].error = last_error();
                        continue;
                }
                domain_read(c, &c->infos[i], dom);
                virDomainFree(dom);
        }
        (void) virConnectClose(TAKE_PTR(c->conn)); /* the call's reference */
}

static void call_work(void *userdata) {
        struct call *c = userdata;

        switch (c->kind) {
        case CALL_OPEN:
                call_open(c);
                break;
        case CALL_READ:
                call_read(c);
                break;
        case CALL_CLOSE:
                connection_close_now(TAKE_PTR(c->conn), c->callbacks);
                break;
        }
}

/* Back on the loop. */

static void retry_later(struct libvirt *l);
static void closed_check(struct libvirt *l);
static void call_done(void *userdata);

/* Closes @conn off the loop: deregistering and closing are calls to libvirtd too. */
static void connection_release(struct libvirt *l, virConnectPtr conn, const int callbacks[]) {
        struct call *c = calloc(1, sizeof(*c));

        if (!c)
                return (void) log_oom();
        *c = (struct call){.libvirt = l, .kind = CALL_CLOSE, .conn = conn};
        memcpy(c->callbacks, callbacks, sizeof(c->callbacks));
        if (worker_run(l->manager->worker, WORKER_ABANDON, call_work, call_done, c) < 0) {
                log_warning("libvirt at %s: cannot close a connection, leaving it open.", l->uri);
                free(c);
        }
}

/* Forgets the connection: it is closed off the loop, and what it said is forgotten. */
static void connection_drop(struct libvirt *l) {
        if (l->conn)
                connection_release(l, TAKE_PTR(l->conn), l->callbacks);
        for (size_t i = 0; i < N_CALLBACKS; i++)
                l->callbacks[i] = -1;
        l->generation++;
        states_clear(l);
        queued_clear(l);
}

static void connection_lost(struct libvirt *l) {
        connection_drop(l);
        l->said_absent = true;
        l->retry_usec = 0;
        retry_later(l);
}

static void opened(struct libvirt *l, struct call *c) {
        if (!c->conn) {
                log_debug("libvirt at %s: not reached: %s", l->uri, strempty(c->error));
                if (!l->said_absent)
                        log_notice("libvirt at %s cannot be reached (%s); trying again, with "
                                   "longer waits up to %llu s.",
                                   l->uri, strempty(c->error),
                                   (unsigned long long) (LIBVIRT_RETRY_MAX_USEC / 1000000));
                l->said_absent = true;
                retry_later(l);
                return;
        }
        l->conn = TAKE_PTR(c->conn);
        memcpy(l->callbacks, c->callbacks, sizeof(l->callbacks));
        l->retry_usec = 0;
        l->said_absent = false;
        if (c->no_events)
                log_warning("libvirt at %s sends no lifecycle events (%s): stopped guests are "
                            "noticed at the next connection only.",
                            l->uri, c->no_events);
        log_info("Following libvirt at %s.", l->uri);
        reconcile(l, c);
}

static void call_done(void *userdata) {
        struct call *c = userdata;
        struct libvirt *l = c->libvirt;

        if (c->kind == CALL_CLOSE) {
                call_free(c);
                return;
        }
        if (c->stuck) {
                log_debug("libvirt at %s: a call past its deadline returned.", l->uri);
                l->n_stuck--;
                if (c->conn)
                        connection_release(l, TAKE_PTR(c->conn), c->callbacks);
                if (c->dropped)
                        connection_release(l, TAKE_PTR(c->dropped), c->dropped_callbacks);
        } else {
                l->call = NULL;
                if (c->kind == CALL_OPEN)
                        opened(l, c);
                else if (c->generation == l->generation)
                        for (size_t i = 0; i < c->n_infos; i++)
                                follow(l, &c->infos[i]);
        }
        call_free(c);
        closed_check(l);
        call_next(l);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        struct call *c = userdata;
        struct libvirt *l = c->libvirt;
        uint64_t next = atomic_load(&c->answered_usec) + l->timeout_usec;

        /* libvirtd answered since: the call waits for another answer, with a deadline of its
         * own. */
        if (next > usec && sd_event_source_set_time(s, next) >= 0 &&
            sd_event_source_set_enabled(s, SD_EVENT_ONESHOT) >= 0)
                return 0;
        log_warning("libvirt at %s has not answered for %llu s while %s: serving on without it, "
                    "trying again later.",
                    l->uri, (unsigned long long) (l->timeout_usec / 1000000),
                    c->kind == CALL_OPEN ? "connecting" : "reading domains");
        c->deadline = sd_event_source_disable_unref(c->deadline);
        c->stuck = true;
        l->n_stuck++;
        l->call = NULL;
        if (c->kind == CALL_READ && l->conn) {
                /* Closed when the call returns, not beside it: one thread at a time in a
                 * connection libvirtd does not answer. */
                c->dropped = TAKE_PTR(l->conn);
                memcpy(c->dropped_callbacks, l->callbacks, sizeof(c->dropped_callbacks));
        }
        connection_lost(l);
        return 0;
}

/* Runs @c on the worker, with a deadline on the loop. */
static int call_start(struct libvirt *l, struct call *c) {
        int r;

        r = sd_event_add_time_relative(l->manager->event, &c->deadline, CLOCK_MONOTONIC,
                                       l->timeout_usec, 0, on_deadline, c);
        if (r >= 0)
                r = worker_run(l->manager->worker, WORKER_ABANDON, call_work, call_done, c);
        if (r < 0)
                return log_warning_errno(r, "libvirt at %s: cannot start a call: %m", l->uri);
        l->call = c;
        return 0;
}

/* Reads the domains events queued, when no other call runs. */
static void call_next(struct libvirt *l) {
        struct call *c;

        if (l->call || !l->conn || l->n_queued == 0)
                return;
        c = calloc(1, sizeof(*c));
        if (!c || !(c->infos = calloc(l->n_queued, sizeof(*c->infos)))) {
                free(c);
                return (void) log_oom();
        }
        c->libvirt = l;
        c->kind = CALL_READ;
        c->generation = l->generation;
        for (size_t i = 0; i < l->n_queued; i++)
                c->infos[i] = (struct domain_info){.name = TAKE_PTR(l->queued[i].name),
                                                   .state = -1,
                                                   .detached_too = l->queued[i].detached_too};
        c->n_infos = l->n_queued;
        queued_clear(l);
        if (virConnectRef(l->conn) < 0) {
                call_free(c);
                return;
        }
        c->conn = l->conn;
        if (call_start(l, c) < 0) {
                (void) virConnectClose(TAKE_PTR(c->conn)); /* not the last reference */
                call_free(c);
        }
}

/* Queues @dom to be read: its state, what it holds. Events come on the loop, from the
 * connection or from the one being opened (its domains are read once it is). */
static void queue(struct libvirt *l, virConnectPtr conn, virDomainPtr dom, bool detached_too) {
        const char *name = virDomainGetName(dom);

        if (!name || !(conn == l->conn || (l->call && l->call->kind == CALL_OPEN)))
                return;
        for (size_t i = 0; i < l->n_queued; i++)
                if (streq(l->queued[i].name, name)) {
                        l->queued[i].detached_too = l->queued[i].detached_too || detached_too;
                        return;
                }
        if (GREEDY_REALLOC(l->queued, l->n_queued + 1) < 0)
                return (void) log_oom();
        l->queued[l->n_queued].name = strdup(name);
        if (!l->queued[l->n_queued].name)
                return (void) log_oom();
        l->queued[l->n_queued++].detached_too = detached_too;
        call_next(l);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        struct libvirt *l = opaque;
        const char *name = virDomainGetName(dom);

        if (!name)
                return 0;
        switch (event) {
        case VIR_DOMAIN_EVENT_STARTED:
        case VIR_DOMAIN_EVENT_RESUMED:
        case VIR_DOMAIN_EVENT_SUSPENDED:
                queue(l, conn, dom, false);
                break;
        case VIR_DOMAIN_EVENT_STOPPED:
        case VIR_DOMAIN_EVENT_CRASHED:
                /* A guest that stops without its release hook still gives its groups back. */
                state_set(l, name,
                          event == VIR_DOMAIN_EVENT_CRASHED ? VIR_DOMAIN_CRASHED
                                                            : VIR_DOMAIN_SHUTOFF);
                log_info("libvirt: '%s' stopped; its groups go home.", IOM_ESCAPE(name));
                release_owner(l, name, NULL);
                break;
        default:
                break;
        }
        return 0;
}

static void on_device_changed(virConnectPtr conn, virDomainPtr dom, const char *alias,
                              void *opaque) {
        queue(opaque, conn, dom, true);
}

/* A connection libvirt closed (libvirtd went away, or its keepalive failed) is dropped on the
 * loop. The close callback may run on a call's thread: that call then fails, and its
 * completion looks here. The connection being opened is looked at once it is set up. */
static void closed_check(struct libvirt *l) {
        virConnectPtr conn = atomic_load(&l->closed);

        if (!conn || (conn != l->conn && l->call && l->call->kind == CALL_OPEN))
                return;
        atomic_store(&l->closed, NULL);
        if (conn != l->conn)
                return;
        log_notice("libvirt at %s went away; following it again when it is back.", l->uri);
        connection_lost(l);
}

static void on_close(virConnectPtr conn, int reason, void *opaque) {
        struct libvirt *l = opaque;

        atomic_store(&l->closed, conn);
        if (libvirt_event_on_loop())
                closed_check(l);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        connection_open(userdata);
        return 0;
}

static void retry_later(struct libvirt *l) {
        uint64_t now;

        l->retry_usec = l->retry_usec ? MIN(l->retry_usec * 2, LIBVIRT_RETRY_MAX_USEC)
                                      : LIBVIRT_RETRY_FIRST_USEC;
        if (sd_event_now(l->manager->event, CLOCK_MONOTONIC, &now) < 0)
                return;
        l->retry = sd_event_source_disable_unref(l->retry);
        if (sd_event_add_time(l->manager->event, &l->retry, CLOCK_MONOTONIC, now + l->retry_usec, 0,
                              on_retry, l) < 0)
                log_warning("libvirt: cannot schedule a reconnection; restart iommud to follow "
                            "libvirt again.");
}

static void connection_open(struct libvirt *l) {
        struct call *c;

        if (l->call || l->conn)
                return;
        /* A libvirtd that does not answer one call would not answer the next. */
        if (l->n_stuck > 0) {
                log_debug("libvirt at %s: a call is still waiting for an answer; not connecting "
                          "again yet.",
                          l->uri);
                return retry_later(l);
        }
        c = calloc(1, sizeof(*c));
        if (!c || !(c->uri = strdup(l->uri))) {
                free(c);
                return (void) log_oom();
        }
        c->libvirt = l;
        c->kind = CALL_OPEN;
        for (size_t i = 0; i < N_CALLBACKS; i++)
                c->callbacks[i] = -1;
        if (call_start(l, c) < 0) {
                call_free(c);
                retry_later(l);
        }
}

/* libvirt's own error printing goes to stderr for every failed call: ours says it once. */
static void quiet_errors(void *userdata, virErrorPtr error) {
        log_debug("libvirt: %s", error && error->message ? error->message : "an error");
}

int libvirt_new(struct manager *m, const char *uri, uint64_t timeout_usec, struct libvirt **ret) {
        struct libvirt *l;
        int r;

        if (virInitialize() < 0)
                return -EIO;
        virSetErrorFunc(NULL, quiet_errors);
        r = libvirt_event_register(m->event);
        if (r < 0 && r != -EALREADY)
                return r;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        *l = (struct libvirt){.manager = m,
                              .uri = strdup(uri),
                              .timeout_usec = timeout_usec,
                              .callbacks = {-1, -1, -1}};
        if (!l->uri) {
                free(l);
                return -ENOMEM;
        }
        connection_open(l);
        *ret = l;
        return 0;
}

struct libvirt *libvirt_free(struct libvirt *l) {
        if (!l)
                return NULL;
        /* The worker is gone: a running call never completes. It may hold the connection,
         * which is then left to the process's exit. */
        if (l->call)
                l->call->deadline = sd_event_source_disable_unref(l->call->deadline);
        if (l->conn && !l->call && l->n_stuck == 0)
                connection_close_now(l->conn, l->callbacks);
        else if (l->conn) /* local: libvirt must not call back into what is freed here */
                (void) virConnectUnregisterCloseCallback(l->conn, on_close);
        sd_event_source_disable_unref(l->retry);
        states_clear(l);
        queued_clear(l);
        free(l->uri);
        return mfree(l);
}
