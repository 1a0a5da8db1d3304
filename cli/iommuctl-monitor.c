/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iommuctl monitor: one line for each change iommud announces, until interrupted.
 *
 * The daemon's signals carry states, not changes: PropertiesChanged names every property that
 * may have changed with its value. The monitor keeps the last value it saw of each device's
 * driver and VF count and each group's owner and viability (from GetManagedObjects at start,
 * then from the signals), and prints what differs. The matches are added before that first
 * read, so nothing falls between the two. The objects are kept sorted by what their path
 * names, parsed once: a signal finds its object in O(log n) on a host with thousands. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "iom-address.h"
#include "iom-bus-ranges.h"
#include "iommuctl.h"
#include "json-print.h"
#include "macro.h"

#define BUS_NAME "org.iommud1"
#define MANAGER_PATH "/org/iommud1"
#define DEVICE_PREFIX MANAGER_PATH "/device/"
#define GROUP_PREFIX MANAGER_PATH "/group/"

/* What an object path names: a device by its address, or a group by its number. */
struct name {
        bool device;
        struct iom_address address; /* device */
        uint32_t group;             /* group */
        char spelled[IOM_ADDRESS_STRING_MAX]; /* device: the address as events print it */
};

/* The last state seen of one device or group object. */
struct object {
        struct name name;
        char *driver; /* device */
        uint32_t num_vfs;
        int32_t group; /* device: its IOMMU group, -1 none */
        char *owner;   /* group; NULL for none */
        bool viable;
};

struct monitor {
        struct object *objects; /* sorted by name */
        size_t n_objects;
        int failure; /* why the loop ended, if not by a signal */
};

/* "/org/iommud1/device/0000_01_00_0" or "/org/iommud1/group/7"; -EINVAL for any other path
 * (the manager's, a space's), which the monitor does not follow. */
static int name_parse(const char *path, struct name *ret) {
        const char *s;
        char *end;

        *ret = (struct name){};
        if ((s = startswith(path, DEVICE_PREFIX))) {
                ret->device = true;
                if (iom_address_parse_path(s, &ret->address) < 0)
                        return -EINVAL;
                iom_address_format(&ret->address, ret->spelled);
                return 0;
        }
        if (!(s = startswith(path, GROUP_PREFIX)) || !isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        unsigned long id = strtoul(s, &end, 10);
        if (errno != 0 || *end || id > UINT32_MAX)
                return -EINVAL;
        ret->group = (uint32_t) id;
        return 0;
}

/* Devices first, by address, then groups, by number. An object starts with its name. */
static int name_compare(const void *a, const void *b) {
        const struct name *x = a, *y = b;

        if (x->device != y->device)
                return x->device ? -1 : 1;
        if (x->device)
                return iom_address_compare(&x->address, &y->address);
        return x->group < y->group ? -1 : x->group > y->group;
}

static void object_done(struct object *o) {
        free(o->driver);
        free(o->owner);
}

/* The index of the first object not before @name: where it is, or would go. */
static size_t object_index(const struct monitor *mon, const struct name *name) {
        return sorted_position(mon->objects, mon->n_objects, sizeof(*mon->objects), name,
                               name_compare);
}

static struct object *find_object(struct monitor *mon, const struct name *name) {
        size_t i = object_index(mon, name);

        return i < mon->n_objects && name_compare(&mon->objects[i].name, name) == 0
                       ? &mon->objects[i]
                       : NULL;
}

/* A new object for @name at index @i: in sorted position, or at the end while loading. */
static struct object *insert_object(struct monitor *mon, size_t i, const struct name *name) {
        if (GREEDY_REALLOC(mon->objects, mon->n_objects + 1) < 0)
                return NULL;
        memmove(mon->objects + i + 1, mon->objects + i,
                (mon->n_objects - i) * sizeof(*mon->objects));
        mon->n_objects++;
        mon->objects[i] = (struct object){.name = *name, .group = -1};
        return &mon->objects[i];
}

/* The object for @name, added in sorted position if new: for a signal's object. */
static struct object *add_object(struct monitor *mon, const struct name *name) {
        size_t i = object_index(mon, name);

        if (i < mon->n_objects && name_compare(&mon->objects[i].name, name) == 0)
                return &mon->objects[i];
        return insert_object(mon, i, name);
}

static void drop_object(struct monitor *mon, struct object *o) {
        size_t i = (size_t) (o - mon->objects);

        object_done(o);
        memmove(o, o + 1, (--mon->n_objects - i) * sizeof(*o));
}

enum event_kind {
        EVENT_DEVICE_ADDED,
        EVENT_DEVICE_REMOVED,
        EVENT_GROUP_ADDED,
        EVENT_GROUP_REMOVED,
        EVENT_DRIVER_CHANGED,
        EVENT_OWNER_CHANGED,
        EVENT_VIABILITY_CHANGED,
        EVENT_VFS_CHANGED,
        EVENT_POLICY_RELOADED,
        EVENT_OWNERSHIP_LOST,
        _EVENT_KIND_MAX,
        _EVENT_KIND_INVALID = -EINVAL,
};

/* The "event" of a JSON record (iommuctl(1), JSON OUTPUT). */
static const char *const event_kind_table[_EVENT_KIND_MAX] = {
        [EVENT_DEVICE_ADDED] = "device-added",
        [EVENT_DEVICE_REMOVED] = "device-removed",
        [EVENT_GROUP_ADDED] = "group-added",
        [EVENT_GROUP_REMOVED] = "group-removed",
        [EVENT_DRIVER_CHANGED] = "driver-changed",
        [EVENT_OWNER_CHANGED] = "owner-changed",
        [EVENT_VIABILITY_CHANGED] = "viability-changed",
        [EVENT_VFS_CHANGED] = "vfs-changed",
        [EVENT_POLICY_RELOADED] = "policy-reloaded",
        [EVENT_OWNERSHIP_LOST] = "ownership-lost",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(event_kind, enum event_kind, static);

/* One change, as a line of text or of JSON. Every JSON record has every key, null where the
 * event has no such value: viable, num_vfs and rules belong to one kind each. */
struct event {
        enum event_kind kind;
        const char *device; /* an address */
        int64_t group;      /* negative: none */
        const char *from, *to;
        bool viable;
        int64_t num_vfs, rules;
        const char *owner, *reason;
        char **devices;
};

static int print_json(const struct event *e) {
        _cleanup_(json_object_putp) json_object *o = json_document_new();

        if (!o)
                return log_oom();
        json_object_object_add(o, "event", json_object_new_string(event_kind_to_string(e->kind)));
        json_object_object_add(o, "device", json_string_or_null(e->device));
        json_object_object_add(o, "group", e->group >= 0 ? json_object_new_int64(e->group) : NULL);
        json_object_object_add(o, "from", json_string_or_null(e->from));
        json_object_object_add(o, "to", json_string_or_null(e->to));
        json_object_object_add(
                o, "viable",
                e->kind == EVENT_VIABILITY_CHANGED ? json_object_new_boolean(e->viable) : NULL);
        json_object_object_add(o, "num_vfs",
                               e->kind == EVENT_VFS_CHANGED ? json_object_new_int64(e->num_vfs)
                                                            : NULL);
        json_object_object_add(o, "rules",
                               e->kind == EVENT_POLICY_RELOADED ? json_object_new_int64(e->rules)
                                                                : NULL);
        json_object_object_add(o, "owner", json_string_or_null(e->owner));
        json_object_object_add(o, "devices", json_strv(e->devices));
        json_object_object_add(o, "reason", json_string_or_null(e->reason));
        return json_print_line(o);
}

static int print_text(const struct event *e) {
        const char *from = e->from ?: "none", *to = e->to ?: "none";

        switch (e->kind) {
        case EVENT_DEVICE_ADDED:
                if (e->group < 0)
                        printf("device %s added (no group, driver %s)\n", e->device, to);
                else
                        printf("device %s added (group %" PRIi64 ", driver %s)\n", e->device,
                               e->group, to);
                break;
        case EVENT_DEVICE_REMOVED:
                printf("device %s removed\n", e->device);
                break;
        case EVENT_GROUP_ADDED:
        case EVENT_GROUP_REMOVED:
                printf("group %" PRIi64 " %s\n", e->group,
                       e->kind == EVENT_GROUP_ADDED ? "added" : "removed");
                break;
        case EVENT_DRIVER_CHANGED:
                printf("device %s driver %s -> %s\n", e->device, from, to);
                break;
        case EVENT_OWNER_CHANGED:
                printf("group %" PRIi64 " owner %s -> %s\n", e->group, from, to);
                break;
        case EVENT_VIABILITY_CHANGED:
                printf("group %" PRIi64 " %s\n", e->group, e->viable ? "viable" : "not viable");
                break;
        case EVENT_VFS_CHANGED:
                printf("device %s VFs %" PRIi64 "\n", e->device, e->num_vfs);
                break;
        case EVENT_POLICY_RELOADED:
                printf("policy reloaded (%" PRIi64 " rules)\n", e->rules);
                break;
        case EVENT_OWNERSHIP_LOST:
                printf("group %" PRIi64 " lost by %s (%s):", e->group, e->owner, e->reason);
                for (char **d = e->devices; d && *d; d++)
                        printf(" %s", *d);
                putchar('\n');
                break;
        default:
                assert(!"an event kind without its line");
        }
        return fflush(stdout) == 0 ? 0 : -EIO;
}

static int print_event(struct event e) {
        return arg_json ? print_json(&e) : print_text(&e);
}

#define EVENT(name, ...) print_event((struct event){.kind = (name), __VA_ARGS__})

/* One property of a device or group, into @userdata (a struct object); the properties the
 * monitor does not follow are skipped. */
static int read_property(sd_bus_message *m, const char *name, void *userdata) {
        struct object *o = userdata;
        const char *s;
        int b, r;

        if (streq(name, "Driver") || streq(name, "Owner")) {
                char **field = streq(name, "Driver") ? &o->driver : &o->owner;
                r = sd_bus_message_read(m, "v", "s", &s);
                if (r < 0)
                        return r;
                free(*field);
                *field = *s ? strdup(s) : NULL;
                return *s && !*field ? -ENOMEM : 0;
        }
        if (streq(name, "SriovNumVfs"))
                return sd_bus_message_read(m, "v", "u", &o->num_vfs);
        if (streq(name, "IommuGroup"))
                return sd_bus_message_read(m, "v", "i", &o->group);
        if (streq(name, "Viable")) {
                r = sd_bus_message_read(m, "v", "b", &b);
                o->viable = b;
                return r;
        }
        return sd_bus_message_skip(m, "v");
}

static int read_properties(sd_bus_message *m, struct object *o) {
        return iom_bus_read_dict(m, read_property, o);
}

/* One entry of a{sa{sv}}: an interface and its properties, read when it is a device's or a
 * group's. */
static int read_interface(sd_bus_message *m, void *userdata) {
        const char *interface;
        int r;

        r = sd_bus_message_read(m, "s", &interface);
        if (r < 0)
                return r;
        if (streq(interface, "org.iommud1.Device") || streq(interface, "org.iommud1.Group"))
                return read_properties(m, userdata);
        return sd_bus_message_skip(m, "a{sv}");
}

/* a{sa{sv}} of one object, into @o. */
static int read_interfaces(sd_bus_message *m, struct object *o) {
        return iom_bus_read_entries(m, "sa{sv}", read_interface, o);
}

static int on_interfaces_added(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct monitor *mon = userdata;
        const char *path;
        struct object *o;
        struct name name;
        int r;

        r = sd_bus_message_read(m, "o", &path);
        if (r < 0 || name_parse(path, &name) < 0)
                return 0;
        o = add_object(mon, &name);
        if (!o)
                return log_oom();
        r = read_interfaces(m, o);
        if (r < 0)
                return 0;
        if (!name.device)
                return EVENT(EVENT_GROUP_ADDED, .group = name.group);
        return EVENT(EVENT_DEVICE_ADDED, .device = name.spelled, .group = o->group,
                     .to = o->driver);
}

static int on_interfaces_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct monitor *mon = userdata;
        const char *path;
        struct object *o;
        struct name name;
        int64_t group;

        if (sd_bus_message_read(m, "o", &path) < 0 || name_parse(path, &name) < 0)
                return 0;
        o = find_object(mon, &name);
        group = !name.device ? (int64_t) name.group : o ? o->group : -1;
        if (o)
                drop_object(mon, o);
        if (!name.device)
                return EVENT(EVENT_GROUP_REMOVED, .group = group);
        return EVENT(EVENT_DEVICE_REMOVED, .device = name.spelled, .group = group);
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct monitor *mon = userdata;
        const char *path = sd_bus_message_get_path(m), *interface;
        struct object *o, now = {};
        struct name name;
        int r;

        if (!path || name_parse(path, &name) < 0)
                return 0;
        o = find_object(mon, &name);
        if (!o || sd_bus_message_read(m, "s", &interface) < 0)
                return 0;
        /* Start from what was known: a property the signal leaves out did not change. */
        now = (struct object){.driver = o->driver ? strdup(o->driver) : NULL,
                              .owner = o->owner ? strdup(o->owner) : NULL,
                              .num_vfs = o->num_vfs,
                              .group = o->group,
                              .viable = o->viable};
        r = read_properties(m, &now);
        if (r >= 0 && name.device) {
                if (!streq_ptr(o->driver, now.driver))
                        r = EVENT(EVENT_DRIVER_CHANGED, .device = name.spelled, .group = o->group,
                                  .from = o->driver, .to = now.driver);
                if (r >= 0 && o->num_vfs != now.num_vfs)
                        r = EVENT(EVENT_VFS_CHANGED, .device = name.spelled, .group = o->group,
                                  .num_vfs = now.num_vfs);
        } else if (r >= 0) {
                if (!streq_ptr(o->owner, now.owner))
                        r = EVENT(EVENT_OWNER_CHANGED, .group = name.group, .from = o->owner,
                                  .to = now.owner);
                if (r >= 0 && o->viable != now.viable)
                        r = EVENT(EVENT_VIABILITY_CHANGED, .group = name.group,
                                  .viable = now.viable);
        }
        now.name = o->name;
        object_done(o);
        *o = now;
        return r == -ENOMEM || r == -EIO ? r : 0;
}

static int on_ownership_lost(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_strv_free_ char **devices = NULL;
        const char *owner, *reason;
        uint32_t group;

        if (sd_bus_message_read(m, "su", &owner, &group) < 0 ||
            sd_bus_message_read_strv(m, &devices) < 0 || sd_bus_message_read(m, "s", &reason) < 0)
                return 0;
        return EVENT(EVENT_OWNERSHIP_LOST, .group = group, .owner = owner, .devices = devices,
                     .reason = reason);
}

static int on_policy_reloaded(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        uint32_t rules;

        if (sd_bus_message_read(m, "u", &rules) < 0)
                return 0;
        return EVENT(EVENT_POLICY_RELOADED, .group = -1, .rules = rules);
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct monitor *mon = userdata;
        const char *name, *old, *new;

        if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || !streq(name, BUS_NAME) || *new)
                return 0;
        fprintf(stderr, "iommuctl: monitor: iommud left the bus; no more changes to show\n");
        mon->failure = -ESHUTDOWN;
        return sd_event_exit(sd_bus_get_event(sd_bus_message_get_bus(m)), 0);
}

/* One entry of GetManagedObjects' answer: a device or a group is appended (its path is a key
 * of the answer's dictionary, so no other entry has it), anything else skipped. */
static int read_object(sd_bus_message *m, void *userdata) {
        struct monitor *mon = userdata;
        const char *path;
        struct object *o;
        struct name name;
        int r;

        r = sd_bus_message_read(m, "o", &path);
        if (r < 0)
                return r;
        if (name_parse(path, &name) < 0)
                return sd_bus_message_skip(m, "a{sa{sv}}");
        o = insert_object(mon, mon->n_objects, &name);
        return o ? read_interfaces(m, o) : -ENOMEM;
}

/* Reads every device and group once: the state changes are told against. They are appended
 * and sorted once at the end: a sorted insert each would move O(n^2) objects on a host with
 * thousands of VFs before the first event. */
static int load_objects(sd_bus *bus, struct monitor *mon) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects", &error, &reply, "");
        if (r < 0)
                return bus_error("monitor", &error, r);
        r = iom_bus_read_entries(reply, "oa{sa{sv}}", read_object, mon);
        if (r < 0) {
                fprintf(stderr, "iommuctl: monitor: cannot read iommud's objects: %s\n",
                        strerror(-r));
                return r;
        }
        if (mon->n_objects > 0)
                qsort(mon->objects, mon->n_objects, sizeof(*mon->objects), name_compare);
        return 0;
}

static int add_matches(sd_bus *bus, struct monitor *mon) {
        static const struct {
                const char *interface, *member;
                sd_bus_message_handler_t handler;
        } signals[] = {
                {"org.freedesktop.DBus.ObjectManager", "InterfacesAdded", on_interfaces_added},
                {"org.freedesktop.DBus.ObjectManager", "InterfacesRemoved", on_interfaces_removed},
                {"org.freedesktop.DBus.Properties", "PropertiesChanged", on_properties_changed},
                {"org.iommud1.Manager", "OwnershipLost", on_ownership_lost},
                {"org.iommud1.Manager", "PolicyReloaded", on_policy_reloaded},
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(signals); i++) {
                r = sd_bus_match_signal(bus, NULL, BUS_NAME, NULL, signals[i].interface,
                                        signals[i].member, signals[i].handler, mon);
                if (r < 0)
                        return r;
        }
        return sd_bus_add_match(bus, NULL,
                                "type='signal',sender='org.freedesktop.DBus',"
                                "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
                                "arg0='" BUS_NAME "'",
                                on_name_owner_changed, mon);
}

int verb_monitor(int argc, char *argv[]) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct monitor mon = {};
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        r = sd_event_default(&event);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        if (r < 0) {
                fprintf(stderr, "iommuctl: monitor: cannot set up its event loop: %s\n",
                        strerror(-r));
                return r;
        }
        r = iommuctl_bus_open(&bus);
        if (r >= 0)
                r = add_matches(bus, &mon);
        if (r < 0)
                return bus_error("monitor", NULL, r);
        r = load_objects(bus, &mon);
        if (r < 0)
                goto finish; /* said why */
        r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        /* Losing the bus is losing the daemon too. */
        if (r >= 0)
                r = sd_bus_set_exit_on_disconnect(bus, true);
        if (r >= 0)
                r = sd_event_loop(event);
        if (r > 0 && !mon.failure) { /* sd_bus_set_exit_on_disconnect's exit code */
                fprintf(stderr, "iommuctl: monitor: lost the system bus\n");
                mon.failure = -ECONNRESET;
        }
        if (r < 0 && !mon.failure)
                fprintf(stderr, "iommuctl: monitor: %s\n", strerror(-r));
finish:
        for (size_t i = 0; i < mon.n_objects; i++)
                object_done(&mon.objects[i]);
        free(mon.objects);
        return mon.failure ?: r < 0 ? r : 0;
}
