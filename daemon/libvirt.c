/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's read-only libvirt connection: opened off the loop, retried with backoff,
 * reconciled with the owners at every connection, kept so by lifecycle and device events. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "binder.h"
#include "iom-domain.h"
#include "iom-utf8.h"
#include "libvirt-event.h"
#include "libvirt.h"
#include "log.h"
#include "manager.h"
#include "worker.h"

/* What libvirt said of a domain it runs (or ran, until it is forgotten at the next
 * reconciliation). */
struct domain_state {
        char *name;
        int state; /* virDomainState */
};

struct libvirt {
        struct manager *manager;
        char *uri;
        virConnectPtr conn;
        int callbacks[3]; /* lifecycle, device added, device removed; -1 when none */
        bool opening;
        sd_event_source *retry;
        uint64_t retry_usec;
        bool said_absent; /* libvirt's absence is logged once, until it comes */
        struct domain_state *states;
        size_t n_states;
};

/* An open off the loop: virConnectOpen blocks while libvirtd starts or times out. */
struct open_task {
        struct libvirt *libvirt;
        char *uri;
        virConnectPtr conn;
        char *error;
};

static void connection_open(struct libvirt *l);

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
                if (dev->group->owner || !dev->driver || !iom_driver_is_vfio(dev->driver))
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

/* Reads @dom's PCI devices from its live XML. */
static int domain_read(virDomainPtr dom, struct iom_domain **ret) {
        _cleanup_free_ char *xml = virDomainGetXMLDesc(dom, 0), *error = NULL;
        int r;

        if (!xml)
                return -EIO;
        r = iom_domain_parse(xml, strlen(xml), ret, &error);
        if (r < 0)
                log_warning("libvirt's XML of '%s' cannot be read: %s", virDomainGetName(dom),
                            strempty(error));
        return r;
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

static void follow_domain(struct libvirt *l, virDomainPtr dom, bool detached_too) {
        _cleanup_(iom_domain_freep) struct iom_domain *d = NULL;
        char uuid[VIR_UUID_STRING_BUFLEN];
        const char *name = virDomainGetName(dom);
        int state, reason;

        if (!name)
                return;
        if (virDomainGetState(dom, &state, &reason, 0) == 0)
                state_set(l, name, state);
        if (domain_read(dom, &d) < 0)
                return;
        adopt(l, name, virDomainGetUUIDString(dom, uuid) == 0 ? uuid : NULL, d);
        if (detached_too)
                release_detached(l, name, d);
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
static void reconcile(struct libvirt *l) {
        const struct iom_inventory *inv = l->manager->inventory;
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(l->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);

        if (n < 0) {
                log_warning("libvirt: cannot list the running domains: %s",
                            virGetLastErrorMessage());
                return;
        }
        states_clear(l);
        for (int i = 0; i < n; i++)
                follow_domain(l, doms[i], false);
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
        for (int i = 0; i < n; i++)
                virDomainFree(doms[i]);
        free(doms);
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
                follow_domain(l, dom, false);
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
        follow_domain(opaque, dom, true);
}

static void connection_close(struct libvirt *l) {
        if (!l->conn)
                return;
        for (size_t i = 0; i < ELEMENTSOF(l->callbacks); i++)
                if (l->callbacks[i] >= 0)
                        (void) virConnectDomainEventDeregisterAny(l->conn, l->callbacks[i]);
        (void) virConnectUnregisterCloseCallback(l->conn, NULL);
        virConnectClose(l->conn);
        l->conn = NULL;
        for (size_t i = 0; i < ELEMENTSOF(l->callbacks); i++)
                l->callbacks[i] = -1;
        states_clear(l);
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

static void on_close(virConnectPtr conn, int reason, void *opaque) {
        struct libvirt *l = opaque;

        log_notice("libvirt at %s went away; following it again when it is back.", l->uri);
        connection_close(l);
        l->said_absent = true;
        l->retry_usec = 0;
        retry_later(l);
}

static void connection_setup(struct libvirt *l, virConnectPtr conn) {
        l->conn = conn;
        l->retry_usec = 0;
        l->said_absent = false;
        /* A dead libvirtd is noticed within seconds, not at the next call. */
        (void) virConnectSetKeepAlive(conn, 5, 3);
        (void) virConnectRegisterCloseCallback(conn, on_close, l, NULL);
        l->callbacks[0] =
                virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                 VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), l, NULL);
        l->callbacks[1] = virConnectDomainEventRegisterAny(
                conn, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                VIR_DOMAIN_EVENT_CALLBACK(on_device_changed), l, NULL);
        l->callbacks[2] = virConnectDomainEventRegisterAny(
                conn, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                VIR_DOMAIN_EVENT_CALLBACK(on_device_changed), l, NULL);
        if (l->callbacks[0] < 0)
                log_warning("libvirt at %s sends no lifecycle events (%s): stopped guests are "
                            "noticed at the next connection only.",
                            l->uri, virGetLastErrorMessage());
        log_info("Following libvirt at %s.", l->uri);
        reconcile(l);
}

static void open_work(void *userdata) {
        struct open_task *t = userdata;

        t->conn = virConnectOpenReadOnly(t->uri);
        if (!t->conn)
                t->error = strdup(virGetLastErrorMessage());
}

static void open_done(void *userdata) {
        struct open_task *t = userdata;
        struct libvirt *l = t->libvirt;

        l->opening = false;
        if (t->conn)
                connection_setup(l, TAKE_PTR(t->conn));
        else {
                log_debug("libvirt at %s: not reached: %s", l->uri, strempty(t->error));
                if (!l->said_absent)
                        log_notice("libvirt at %s cannot be reached (%s); trying again, with "
                                   "longer waits up to %llu s.",
                                   l->uri, strempty(t->error),
                                   (unsigned long long) (LIBVIRT_RETRY_MAX_USEC / 1000000));
                l->said_absent = true;
                retry_later(l);
        }
        free(t->error);
        free(t->uri);
        free(t);
}

static void connection_open(struct libvirt *l) {
        struct open_task *t;

        if (l->opening || l->conn)
                return;
        t = calloc(1, sizeof(*t));
        if (!t || !(t->uri = strdup(l->uri))) {
                free(t);
                return (void) log_oom();
        }
        t->libvirt = l;
        if (worker_run(l->manager->worker, WORKER_ABANDON, open_work, open_done, t) < 0) {
                free(t->uri);
                free(t);
                retry_later(l);
                return;
        }
        l->opening = true;
}

/* libvirt's own error printing goes to stderr for every failed call: ours says it once. */
static void quiet_errors(void *userdata, virErrorPtr error) {
        log_debug("libvirt: %s", error && error->message ? error->message : "an error");
}

int libvirt_new(struct manager *m, const char *uri, struct libvirt **ret) {
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
        *l = (struct libvirt){.manager = m, .uri = strdup(uri), .callbacks = {-1, -1, -1}};
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
        connection_close(l);
        sd_event_source_disable_unref(l->retry);
        states_clear(l);
        free(l->uri);
        return mfree(l);
}
