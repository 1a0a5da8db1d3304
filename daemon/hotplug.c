/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Following the host one device at a time: udev's pci uevents update the device they name, its
 * group and the bus objects, without rescanning the host.
 *
 * A uevent only names a device; what it is now is read from sysfs, off the loop: reading
 * driver_override takes the device lock, which an unbind holds for as long as a VFIO user keeps
 * the device. Events wait in a pending list, one entry per device (later events for a device
 * merge into its entry, keeping whether it was removed meanwhile). A batch takes every pending
 * entry whose device no running batch is reading, and reads them as one task of the daemon's
 * worker; so a burst costs one task and one pass over the model, events of one device are read
 * in order, and a device stuck behind its lock holds up only the events of its own batch.
 *
 * The full rescan (daemon/rescan.c) is the fallback, for events lost to a receive buffer
 * overrun and for events the model cannot place (a device below a bridge it does not know).
 * Batches and rescans never run at once: a rescan waits for the running batches, and batches
 * wait for the rescan. When a binder job ends while they read, a rescan is read again whole and
 * a batch reads again the devices the job touched (manager.h, model_generation;
 * hotplug_moved()), so that nothing read half moved is applied over what the job left. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libudev.h>

#include "binder.h"
#include "export.h"
#include "inhibit.h"
#include "iom-pci.h"
#include "log.h"
#include "manager.h"
#include "policy.h"
#include "worker.h"

/* The kernel's netlink socket drops events when the daemon falls behind (ENOBUFS); creating
 * 2048 VFs sends 4096 events within a second. systemd-udevd asks for the same. */
#define RECEIVE_BUFFER_SIZE (128 * 1024 * 1024)

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev *, udev_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_device *, udev_device_unref);

/* One device to read again. */
struct entry {
        struct iom_address address;
        char *syspath;
        bool removed; /* a "remove" came since it was last read: it went, maybe came back */
        bool gone;    /* the last event was "remove": not read, the device is gone */
        bool uevent;  /* the kernel announced it (not only a job's re-read) */
        /* Read its config space (ACS, DSN) and its group's sysfs too: it is new, or came back.
         * A driver change (bind, unbind, change, a job's re-read) of a known device changes
         * neither: only the device's own attributes are read. */
        bool full;

        /* What the task read: the device (NULL when gone) and its group's sysfs facts. */
        struct iom_device *device;
        struct iom_group *group;
        int error;
};

struct batch {
        struct manager *manager;
        uint64_t generation;
        struct entry *entries;
        size_t n_entries;
        size_t n_full; /* entries read whole */
        struct batch *next;
};

/* A device a job of iommud touched: the two drivers it moved it between (NULL both when it
 * only held its group), and the model generation the job ended in. */
struct moved {
        struct iom_address address;
        char *from, *to;
        uint64_t generation;
};

struct hotplug {
        struct udev_monitor *monitor;
        sd_event_source *source;
        struct iom_pci *names; /* pci.ids, loaded once, used on the loop only */
        struct entry *pending;
        size_t n_pending;
        struct batch *running;
        struct moved *moved;
        size_t n_moved;
        /* The generation of the last job that may have touched devices the model does not
         * know (an SR-IOV job makes VFs): batches read before it are read again whole. */
        uint64_t all_generation;
};

static void entry_done(struct entry *e) {
        free(e->syspath);
        iom_device_free(e->device);
        iom_group_free(e->group);
        *e = (struct entry){};
}

static void entries_free(struct entry *entries, size_t n) {
        for (size_t i = 0; i < n; i++)
                entry_done(&entries[i]);
        free(entries);
}

static struct batch *batch_free(struct batch *b) {
        if (b) {
                entries_free(b->entries, b->n_entries);
                free(b);
        }
        return NULL;
}

static void moved_done(struct moved *x) {
        free(x->from);
        free(x->to);
}

/* bsearch()-style: @key an address, @element a struct moved. */
static int compare_moved(const void *key, const void *element) {
        return iom_address_compare(key, &((const struct moved *) element)->address);
}

/* Where the record of @a is in h->moved, sorted by address, or would go. */
static size_t moved_position(struct hotplug *h, const struct iom_address *a) {
        return sorted_position(h->moved, h->n_moved, sizeof(*h->moved), a, compare_moved);
}

static struct moved *find_moved(struct hotplug *h, const struct iom_address *a) {
        size_t i = moved_position(h, a);

        return i < h->n_moved && iom_address_equal(&h->moved[i].address, a) ? &h->moved[i] : NULL;
}

static struct moved *touch_moved(struct manager *m, const struct iom_address *a) {
        struct hotplug *h = m->hotplug;
        size_t i = moved_position(h, a);
        struct moved *x;

        if (i == h->n_moved || !iom_address_equal(&h->moved[i].address, a)) {
                if (GREEDY_REALLOC(h->moved, h->n_moved + 1) < 0)
                        return NULL;
                memmove(h->moved + i + 1, h->moved + i, (h->n_moved - i) * sizeof(*h->moved));
                h->n_moved++;
                h->moved[i] = (struct moved){.address = *a};
        }
        x = &h->moved[i];
        x->generation = m->model_generation;
        return x;
}

void hotplug_forget(struct manager *m, const struct iom_address *a) {
        struct hotplug *h = m->hotplug;
        struct moved *x = h ? find_moved(h, a) : NULL;

        if (x) {
                moved_done(x);
                memmove(x, x + 1, (h->n_moved - (size_t) (x - h->moved) - 1) * sizeof(*x));
                h->n_moved--;
        }
        manager_autobind_forget(m, a);
}

void hotplug_moved(struct manager *m, const struct iom_plan *plan, bool unknown_devices) {
        struct hotplug *h = m->hotplug;

        if (!h)
                return;
        if (unknown_devices)
                h->all_generation = m->model_generation;
        /* The devices of its groups: a recovery's steps are in the journal, not the plan. */
        for (size_t i = 0; i < plan->n_groups; i++) {
                const struct iom_group *g = iom_inventory_find_group(m->inventory, plan->groups[i]);
                for (size_t k = 0; g && k < g->n_devices; k++)
                        if (!touch_moved(m, &g->devices[k]->address))
                                goto oom;
        }
        for (size_t i = 0; i < plan->n_steps; i++) {
                const struct iom_plan_step *s = &plan->steps[i];
                struct moved *x = touch_moved(m, &s->address);

                if (!x)
                        goto oom;
                moved_done(x);
                x->from = s->from ? strdup(s->from) : NULL;
                x->to = s->to ? strdup(s->to) : NULL;
                if ((s->from && !x->from) || (s->to && !x->to))
                        goto oom;
        }
        return;
oom:
        /* Not knowing which devices the job touched: every batch in flight reads again. */
        h->all_generation = m->model_generation;
        log_oom();
}

/* Whether a foreign hand put @d on its driver: not iommud's own move, nor an unbind. */
static bool foreign_driver(struct hotplug *h, const struct iom_device *d) {
        const struct moved *x = find_moved(h, &d->address);

        return d->driver && !(x && (streq_ptr(x->from, d->driver) || streq_ptr(x->to, d->driver)));
}

struct hotplug *hotplug_free(struct hotplug *h) {
        if (!h)
                return NULL;
        /* Running batches were abandoned with the worker: their threads may still read
         * them, and the process ends soon. */
        sd_event_source_unref(h->source);
        udev_monitor_unref(h->monitor);
        iom_pci_free(h->names);
        entries_free(h->pending, h->n_pending);
        for (size_t i = 0; i < h->n_moved; i++)
                moved_done(&h->moved[i]);
        free(h->moved);
        return mfree(h);
}

bool hotplug_busy(struct manager *m) {
        return m->hotplug && m->hotplug->running;
}

static struct entry *find_pending(struct hotplug *h, const struct iom_address *a) {
        for (size_t i = 0; i < h->n_pending; i++)
                if (iom_address_equal(&h->pending[i].address, a))
                        return &h->pending[i];
        return NULL;
}

/* Adds an event for the device at @syspath to the pending list. */
static int queue_event(struct hotplug *h, const struct iom_address *a, const char *syspath,
                       bool remove, bool uevent, bool full) {
        struct entry *e = find_pending(h, a);

        if (!e) {
                char *copy = strdup(syspath);
                if (!copy || GREEDY_REALLOC(h->pending, h->n_pending + 1) < 0) {
                        free(copy);
                        return -ENOMEM;
                }
                e = &h->pending[h->n_pending++];
                *e = (struct entry){.address = *a, .syspath = copy};
        }
        e->removed = e->removed || remove;
        e->gone = remove;
        e->uevent = e->uevent || uevent;
        e->full = e->full || full;
        return 0;
}

static bool batch_reads(const struct batch *b, const struct iom_address *a) {
        for (size_t i = 0; i < b->n_entries; i++)
                if (iom_address_equal(&b->entries[i].address, a))
                        return true;
        return false;
}

static bool being_read(struct hotplug *h, const struct iom_address *a) {
        for (struct batch *b = h->running; b; b = b->next)
                if (batch_reads(b, a))
                        return true;
        return false;
}

/* On the worker: reads each device of the batch, and its group's type and regions. */
static void batch_work(void *userdata) {
        struct batch *b = userdata;
        _cleanup_(udev_unrefp) struct udev *udev = udev_new();
        _cleanup_(iom_pci_freep) struct iom_pci *pci = NULL;

        /* Config space only (ACS, DSN), for the entries read whole: without pci.ids, opening
         * libpci costs little, but a batch of driver changes needs none. */
        if (b->n_full > 0 && iom_pci_new(&pci) < 0)
                pci = NULL;
        for (size_t i = 0; i < b->n_entries; i++) {
                struct entry *e = &b->entries[i];
                _cleanup_(udev_device_unrefp) struct udev_device *ud = NULL;
                int r;

                if (e->gone)
                        continue;
                if (!udev) {
                        e->error = -ENOMEM;
                        continue;
                }
                ud = udev_device_new_from_syspath(udev, e->syspath);
                if (!ud)
                        continue; /* gone again: a remove event follows */
                r = iom_device_new_from_udev(ud, NULL, &e->device);
                if (r == -ENOENT || r == -ENODEV)
                        continue;
                if (r < 0) {
                        e->error = r;
                        continue;
                }
                if (!e->full)
                        continue;
                if (pci)
                        (void) iom_device_read_config(e->device, pci);
                if (e->device->iommu_group < 0)
                        continue;
                e->group = iom_group_new((unsigned) e->device->iommu_group);
                if (!e->group)
                        e->error = -ENOMEM;
                else
                        (void) iom_group_read_sysfs(e->group);
        }
}

/* A group's state before a batch changed it: what its signal is decided against. */
struct group_before {
        unsigned id;
        bool existed;
        struct group_snapshot snapshot;
};

/* What applying a batch collects along the way. */
struct apply {
        struct group_before *groups; /* every group the batch touched */
        size_t n_groups;
        struct iom_address *gone; /* devices that went (and may have come back) */
        size_t n_gone;
        struct iom_device **classify; /* new devices and new drivers, for the autobind rules */
        size_t n_classify;
        size_t n_added;
        struct iom_address *pfs; /* physical functions whose VFs came or went */
        size_t n_pfs;
        bool uevent; /* the kernel announced a change (not only a job's re-read) */
        bool rescan; /* an event the model could not place */
};

static void apply_done(struct apply *a) {
        for (size_t i = 0; i < a->n_groups; i++)
                group_snapshot_done(&a->groups[i].snapshot);
        free(a->groups);
        free(a->gone);
        free(a->classify);
        free(a->pfs);
}

static int touch_group(struct manager *m, struct apply *a, unsigned id) {
        const struct iom_group *g = iom_inventory_find_group(m->inventory, id);

        for (size_t i = 0; i < a->n_groups; i++)
                if (a->groups[i].id == id)
                        return 0;
        if (GREEDY_REALLOC(a->groups, a->n_groups + 1) < 0)
                return -ENOMEM;
        a->groups[a->n_groups] = (struct group_before){.id = id, .existed = g};
        if (g && group_snapshot_take(g, &a->groups[a->n_groups].snapshot) < 0)
                return -ENOMEM;
        a->n_groups++;
        return 0;
}

static int add_address(struct iom_address **list, size_t *n, const struct iom_address *x) {
        for (size_t i = 0; i < *n; i++)
                if (iom_address_equal(&(*list)[i], x))
                        return 0;
        if (GREEDY_REALLOC(*list, *n + 1) < 0)
                return -ENOMEM;
        (*list)[(*n)++] = *x;
        return 0;
}

/* Takes the device at @addr out of the model and off the bus. */
static int remove_device(struct manager *m, struct apply *a, const struct iom_address *addr) {
        _cleanup_free_ char *path = manager_device_path(addr);
        struct iom_device *d = iom_inventory_find_device(m->inventory, addr);
        int r;

        if (!d)
                return 0;
        if (!path)
                return -ENOMEM;
        hotplug_forget(m, addr);
        if (d->group) {
                r = touch_group(m, a, d->group->id);
                if (r < 0)
                        return r;
        }
        if (d->is_vf && (r = add_address(&a->pfs, &a->n_pfs, &d->physfn)) < 0)
                return r;
        r = add_address(&a->gone, &a->n_gone, addr);
        if (r < 0)
                return r;
        for (size_t i = 0; i < a->n_classify; i++)
                if (a->classify[i] == d)
                        a->classify[i] = NULL;
        /* sd-bus asks the object for its interfaces: announce it while it still answers. */
        (void) sd_bus_emit_object_removed(m->bus, path);
        iom_device_free(iom_inventory_take_device(m->inventory, addr));
        return 0;
}

/* Whether @d's parent, if it is a PCI function (a bridge above it), is in the model. */
static bool parent_known(struct manager *m, const struct iom_device *d) {
        const char *end = strrchr(d->syspath, '/'), *start;
        char name[IOM_ADDRESS_STRING_MAX];
        struct iom_address parent;

        if (!end)
                return false;
        for (start = end; start > d->syspath && start[-1] != '/'; start--)
                ;
        if ((size_t) (end - start) >= sizeof(name))
                return true; /* not an address: a host bridge's directory */
        memcpy(name, start, end - start);
        name[end - start] = '\0';
        if (iom_address_parse(name, &parent, NULL) < 0)
                return true;
        return iom_inventory_find_device(m->inventory, &parent);
}

static int classify(struct apply *a, struct iom_device *d) {
        if (GREEDY_REALLOC(a->classify, a->n_classify + 1) < 0)
                return -ENOMEM;
        a->classify[a->n_classify++] = d;
        return 0;
}

/* Puts the device @e read into the model, its group too when the group is new to it. */
static int add_device(struct manager *m, struct hotplug *h, struct apply *a, struct entry *e) {
        _cleanup_free_ char *path = manager_device_path(&e->address);
        struct iom_device *d = e->device;
        char buf[IOM_ADDRESS_STRING_MAX];
        int r;

        if (!path)
                return -ENOMEM;
        if (!parent_known(m, d)) {
                log_notice("%s appeared below a PCI device iommud does not know: rescanning the "
                           "host.",
                           iom_address_format(&e->address, buf));
                a->rescan = true;
                return 0;
        }
        if (d->iommu_group >= 0) {
                unsigned id = (unsigned) d->iommu_group;

                r = touch_group(m, a, id);
                if (r < 0)
                        return r;
                if (!iom_inventory_find_group(m->inventory, id)) {
                        r = iom_inventory_insert_group(m->inventory, TAKE_PTR(e->group));
                        if (r < 0)
                                return r;
                }
        }
        if (d->is_vf && (r = add_address(&a->pfs, &a->n_pfs, &d->physfn)) < 0)
                return r;
        if (h->names)
                (void) iom_device_read_names(d, h->names);
        r = iom_inventory_insert_device(m->inventory, TAKE_PTR(e->device));
        if (r < 0)
                return r;
        a->n_added++;
        (void) sd_bus_emit_object_added(m->bus, path);
        return classify(a, d);
}

/* The same device as @was, read again: what can change without a remove and an add. */
static bool same_device(const struct iom_device *was, const struct iom_device *d) {
        return was->vendor_id == d->vendor_id && was->device_id == d->device_id &&
               was->class == d->class && was->iommu_group == d->iommu_group &&
               was->is_vf == d->is_vf;
}

static int update_device(struct manager *m, struct hotplug *h, struct apply *a,
                         struct iom_device *was, struct iom_device *d) {
        bool new_driver = !streq_ptr(was->driver, d->driver);

        if (!new_driver && streq_ptr(was->driver_override, d->driver_override) &&
            was->sriov_num_vfs == d->sriov_num_vfs)
                return 0;
        /* Before the change: the group's signal is decided against its drivers too. */
        if (was->group)
                (void) touch_group(m, a, was->group->id);
        free(was->driver);
        was->driver = TAKE_PTR(d->driver);
        free(was->driver_override);
        was->driver_override = TAKE_PTR(d->driver_override);
        was->sriov_num_vfs = d->sriov_num_vfs;
        bus_device_emit_changed(m, &was->address);
        /* A driver that took the device by itself (a probe racing the autobind, an administrator's
         * bind) meets the rules again; the drivers of iommud's own moves, which come back as
         * uevents, and a device left without a driver do not. */
        return new_driver && foreign_driver(h, was) ? classify(a, was) : 0;
}

static int apply_entry(struct manager *m, struct hotplug *h, struct apply *a, struct entry *e) {
        struct iom_device *was = iom_inventory_find_device(m->inventory, &e->address);
        char buf[IOM_ADDRESS_STRING_MAX];
        int r;

        if (e->error < 0) {
                log_warning_errno(e->error,
                                  "Failed to read %s after its uevent, rescanning the "
                                  "host: %m",
                                  iom_address_format(&e->address, buf));
                a->rescan = true;
                return 0;
        }
        if (e->device && !e->full && (!was || e->removed || !same_device(was, e->device))) {
                /* Read as a driver change, it is a new device: read it whole. */
                log_debug("%s is not the device iommud knew: reading it again whole.",
                          iom_address_format(&e->address, buf));
                return queue_event(h, &e->address, e->syspath, e->removed, e->uevent, true);
        }
        if (was && (e->removed || !e->device || !same_device(was, e->device))) {
                r = remove_device(m, a, &e->address);
                if (r < 0)
                        return r;
                was = NULL;
        }
        if (!e->device)
                return 0;
        if (!was)
                return add_device(m, h, a, e);
        return update_device(m, h, a, was, e->device);
}

/* Viability, groups that emptied, and the signals of every group the batch touched. */
static void finish_groups(struct manager *m, struct apply *a) {
        for (size_t i = 0; i < a->n_groups; i++) {
                const struct group_before *before = &a->groups[i];
                struct iom_group *g = iom_inventory_find_group(m->inventory, before->id);
                _cleanup_free_ char *path = NULL;

                if (!g)
                        continue;
                if (g->n_devices == 0) {
                        path = manager_group_path(g->id);
                        if (path && before->existed)
                                (void) sd_bus_emit_object_removed(m->bus, path);
                        iom_group_free(iom_inventory_take_group(m->inventory, g->id));
                        continue;
                }
                (void) iom_group_update_viability(g);
                if (!before->existed) {
                        path = manager_group_path(g->id);
                        if (path)
                                (void) sd_bus_emit_object_added(m->bus, path);
                        continue;
                }
                manager_emit_group_changes(m, &before->snapshot, g);
        }
}

static int compare_address(const void *x, const void *y) {
        return iom_address_compare(x, y);
}

static int apply_batch(struct manager *m, struct batch *b, struct apply *a) {
        struct hotplug *h = m->hotplug;
        size_t n_devices = m->inventory->n_devices, n_groups = m->inventory->n_groups;
        int r;

        for (size_t i = 0; i < b->n_entries; i++) {
                a->uevent = a->uevent || b->entries[i].uevent;
                r = apply_entry(m, h, a, &b->entries[i]);
                if (r < 0)
                        return r;
        }
        if (a->n_gone > 0) {
                qsort(a->gone, a->n_gone, sizeof(*a->gone), compare_address);
                manager_close_lost_claims(m, a->gone, a->n_gone);
        }
        (void) pthread_mutex_lock(&m->journal_lock);
        r = manager_apply_claims(m, m->inventory);
        (void) pthread_mutex_unlock(&m->journal_lock);
        if (r < 0)
                return r;
        finish_groups(m, a);
        if (n_devices != m->inventory->n_devices || n_groups != m->inventory->n_groups)
                (void) sd_bus_emit_properties_changed(m->bus, IOMMUD_PATH, "org.iommud1.Manager",
                                                      "DeviceCount", "GroupCount", NULL);
        /* Debounced: a burst of batches writes the files once or twice. */
        manager_exports_changed(m);
        inhibit_update(m); /* a claim closed with its device may have been the last */
        return 0;
}

static void batch_done(void *userdata);

/* Starts a batch of every pending device no batch is reading; nothing while a rescan runs or
 * waits (it reads them all). */
static void dispatch(struct manager *m) {
        struct hotplug *h = m->hotplug;
        struct batch *b;
        size_t kept = 0;
        int r;

        if (!h || h->n_pending == 0 || m->rescan_running || m->rescan_again)
                return;
        b = calloc(1, sizeof(*b));
        if (!b || !(b->entries = calloc(h->n_pending, sizeof(*b->entries)))) {
                free(b);
                return (void) log_oom();
        }
        for (size_t i = 0; i < h->n_pending; i++) {
                if (being_read(h, &h->pending[i].address))
                        h->pending[kept++] = h->pending[i];
                else {
                        b->n_full += h->pending[i].full;
                        b->entries[b->n_entries++] = h->pending[i];
                }
        }
        h->n_pending = kept;
        if (b->n_entries == 0)
                return (void) batch_free(b);
        b->manager = m;
        b->generation = m->model_generation;
        /* A read stuck on a held device must not hold up the daemon's exit. */
        r = worker_run(m->worker, WORKER_ABANDON, batch_work, batch_done, b);
        if (r < 0) {
                log_warning_errno(r, "Failed to read hot-plugged devices, rescanning instead: %m");
                batch_free(b);
                manager_request_rescan(m, true);
                return;
        }
        b->next = h->running;
        h->running = b;
}

/* Whether a job touched the device of @e after @b began to read it: what was read may be
 * half of the job's moves, and must not be applied over what the job left. */
static bool read_too_early(struct hotplug *h, const struct batch *b, const struct entry *e) {
        const struct moved *x = find_moved(h, &e->address);

        return b->generation < h->all_generation || (x && b->generation < x->generation);
}

/* Puts the entries of @b read too early back in front of the pending events; the batch keeps
 * the others, in order. */
static void requeue(struct hotplug *h, struct batch *b) {
        size_t kept = b->n_entries;

        for (size_t i = b->n_entries; i > 0; i--) {
                struct entry *e = &b->entries[i - 1];
                struct entry *later;

                if (!read_too_early(h, b, e))
                        continue;
                later = find_pending(h, &e->address);
                if (later) {
                        later->removed = later->removed || e->removed;
                        later->uevent = later->uevent || e->uevent;
                        later->full = later->full || e->full;
                        entry_done(e);
                } else if (GREEDY_REALLOC(h->pending, h->n_pending + 1) < 0) {
                        entry_done(e);
                        log_oom();
                } else {
                        iom_device_free(TAKE_PTR(e->device));
                        iom_group_free(TAKE_PTR(e->group));
                        e->error = 0;
                        memmove(h->pending + 1, h->pending, h->n_pending * sizeof(*h->pending));
                        h->pending[0] = *e;
                        h->n_pending++;
                }
                /* Out of the batch: the entries after it move up. */
                memmove(e, e + 1, (kept - i) * sizeof(*e));
                kept--;
        }
        if (kept < b->n_entries)
                log_debug("Hot-plug: %zu devices to read again, a job moved them meanwhile.",
                          b->n_entries - kept);
        b->n_entries = kept;
}

static void batch_unlink(struct hotplug *h, struct batch *b) {
        for (struct batch **p = &h->running; *p; p = &(*p)->next)
                if (*p == b) {
                        *p = b->next;
                        return;
                }
}

/* After a batch: a rescan that waited for the running batches starts once they are done, and
 * otherwise the devices that waited for this batch are read. */
static void next_reads(struct manager *m) {
        if (m->rescan_again && !m->rescan_running && !hotplug_busy(m)) {
                m->rescan_again = false;
                manager_request_rescan(m, false);
        }
        dispatch(m);
}

static void batch_done(void *userdata) {
        _cleanup_(apply_done) struct apply a = {};
        struct batch *b = userdata;
        struct manager *m = b->manager;
        struct hotplug *h = m->hotplug;
        size_t n_read = b->n_entries, n_full = b->n_full;
        int r;

        batch_unlink(h, b);
        /* A job finished while the batch read sysfs: it may have seen the job's devices half
         * moved. Those are read again; the rest of the batch is applied. */
        requeue(h, b);
        if (b->n_entries == 0) {
                batch_free(b);
                next_reads(m);
                return;
        }
        r = apply_batch(m, b, &a);
        batch_free(b);
        if (r < 0) {
                log_error_errno(r, "Failed to follow hot-plug, rescanning the host: %m");
                a.rescan = true;
        }
        log_debug("Hot-plug: %zu devices read (%zu whole), %zu went, %zu came; %zu devices, %zu "
                  "groups.",
                  n_read, n_full, a.n_gone, a.n_added, m->inventory->n_devices,
                  m->inventory->n_groups);
        for (size_t i = 0; i < a.n_pfs; i++)
                hotplug_refresh(m, &a.pfs[i]);
        /* A device that appears is classified at once: the autobind rules, then the changes a
         * held device kept from finishing, which may be free to run now. Only after a uevent:
         * a job's own re-read that finds what it left must not retry it forever. */
        for (size_t i = 0; i < a.n_classify; i++)
                if (a.classify[i])
                        manager_autobind_device(m, a.classify[i]);
        if (a.uevent)
                binder_retry_intents(m);
        if (a.rescan)
                manager_request_rescan(m, false);
        next_reads(m);
}

void hotplug_refresh(struct manager *m, const struct iom_address *a) {
        const struct iom_device *d = iom_inventory_find_device(m->inventory, a);

        if (!m->hotplug || !d || !d->syspath)
                return;
        if (queue_event(m->hotplug, a, d->syspath, false, false, false) < 0)
                return (void) log_oom();
        dispatch(m);
}

void hotplug_resume(struct manager *m) {
        dispatch(m);
}

static int on_uevent(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct manager *m = userdata;
        struct hotplug *h = m->hotplug;
        struct udev_device *d;

        while ((d = udev_monitor_receive_device(h->monitor))) {
                const char *action = udev_device_get_action(d),
                           *syspath = udev_device_get_syspath(d);
                const char *sysname = udev_device_get_sysname(d);
                struct iom_address a;

                log_debug("uevent: %s %s", action ?: "?", sysname ?: "?");
                if (action && syspath && sysname && iom_address_parse(sysname, &a, NULL) >= 0 &&
                    queue_event(h, &a, syspath, streq(action, "remove"), true,
                                streq(action, "add") ||
                                        !iom_inventory_find_device(m->inventory, &a)) < 0) {
                        udev_device_unref(d);
                        log_oom();
                        manager_request_rescan(m, true);
                        return 0;
                }
                udev_device_unref(d);
        }
        if (errno == ENOBUFS) {
                /* The kernel dropped events: which devices they named is lost too. */
                log_warning("Missed uevents (the receive buffer overran): rescanning the host.");
                manager_request_rescan(m, true);
        }
        dispatch(m);
        return 0;
}

int hotplug_start(struct manager *m) {
        _cleanup_(udev_unrefp) struct udev *udev = udev_new();
        struct hotplug *h;
        int r;

        if (!udev)
                return log_oom();
        h = m->hotplug = calloc(1, sizeof(*h));
        if (!h)
                return log_oom();
        /* pci.ids names every device that appears: loaded now, not at the first hot-plug. */
        r = iom_pci_new(&h->names);
        if (r < 0)
                log_warning_errno(r, "Hot-plugged devices will have no names: %m");
        else
                free(iom_pci_vendor_name(h->names, 0));
        /* "udev" events come after udev's rules ran, so device nodes and names are in place. */
        h->monitor = udev_monitor_new_from_netlink(udev, "udev");
        if (!h->monitor)
                return log_error_errno(ENOMEM, "Failed to create a udev monitor.");
        r = udev_monitor_filter_add_match_subsystem_devtype(h->monitor, "pci", NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to filter uevents: %m");
        r = udev_monitor_set_receive_buffer_size(h->monitor, RECEIVE_BUFFER_SIZE);
        if (r < 0)
                log_debug_errno(r, "Failed to enlarge the uevent receive buffer, ignoring: %m");
        r = udev_monitor_enable_receiving(h->monitor);
        if (r < 0)
                return log_error_errno(r, "Failed to listen to uevents: %m");
        r = sd_event_add_io(m->event, &h->source, udev_monitor_get_fd(h->monitor), EPOLLIN,
                            on_uevent, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch uevents: %m");
        return 0;
}
