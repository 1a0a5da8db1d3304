/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iommud-libvirt-hook: libvirt's qemu hook; hands a guest's PCI devices to iommud over D-Bus.
 *
 * libvirt runs /etc/libvirt/hooks/qemu.d/iommud GUEST OPERATION SUB-OPERATION EXTRA with the
 * domain XML on stdin, and refuses to start the guest when `prepare begin` exits non-zero,
 * showing our stderr (libvirt's docs/hooks.rst). The hook must never call back into libvirt,
 * which waits for it (the documented deadlock): everything it needs is in the XML, and
 * everything it does goes through iommud. Every step runs under one deadline. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "iom-domain.h"
#include "iom-error.h"
#include "iom-sysfs.h"

#define PROGRAM "iommud-libvirt-hook"
#define BUS_NAME "org.iommud1"
#define MANAGER_PATH "/org/iommud1"
#define MANAGER_INTERFACE "org.iommud1.Manager"
#define DEVICE_PREFIX "/org/iommud1/device/"
#define ERROR_NOT_FOUND "org.iommud1.Error.NotFound"

/* Assigning rebinds whole groups, each step with deadlines of its own in the daemon. */
#define TIMEOUT_SEC_DEFAULT 120u
#define TIMEOUT_SEC_MAX 3600u
#define CONFIG_SIZE_MAX (64u * 1024)

enum hook_op {
        HOOK_PREPARE,   /* prepare begin: assign the guest's groups */
        HOOK_RELEASE,   /* release end: send them home */
        HOOK_RECONNECT, /* reconnect begin: libvirtd restarted; confirm, change nothing */
        HOOK_OTHER,
};

struct hook_config {
        bool fail_open; /* start guests with PCI devices when iommud is not running */
        unsigned timeout_sec;
};

static enum hook_op hook_op_from_args(const char *op, const char *sub) {
        if (streq(op, "prepare") && streq(sub, "begin"))
                return HOOK_PREPARE;
        if (streq(op, "release") && streq(sub, "end"))
                return HOOK_RELEASE;
        if (streq(op, "reconnect") && streq(sub, "begin"))
                return HOOK_RECONNECT;
        return HOOK_OTHER;
}

static int parse_bool(const char *s, bool *ret) {
        if (streq(s, "yes") || streq(s, "true") || streq(s, "1"))
                *ret = true;
        else if (streq(s, "no") || streq(s, "false") || streq(s, "0"))
                *ret = false;
        else
                return -EINVAL;
        return 0;
}

/* One "key = value" line of hook.conf. */
static int config_set(struct hook_config *c, const char *key, const char *value) {
        char *end;

        if (streq(key, "fail_open"))
                return parse_bool(value, &c->fail_open);
        if (streq(key, "timeout")) {
                unsigned long v = strtoul(value, &end, 10);
                if (!*value || *end || v == 0 || v > TIMEOUT_SEC_MAX)
                        return -ERANGE;
                c->timeout_sec = (unsigned) v;
                return 0;
        }
        return -ENOENT;
}

static char *strip(char *s) {
        char *end;

        s += strspn(s, " \t");
        end = s + strlen(s);
        while (end > s && strchr(" \t\r", end[-1]))
                *--end = '\0';
        return s;
}

/* Reads @path (a missing file keeps the defaults): "key = value" lines, '#' comments. */
static int config_load(const char *path, struct hook_config *ret, char **ret_error) {
        struct hook_config c = {.timeout_sec = TIMEOUT_SEC_DEFAULT};
        _cleanup_free_ char *text = NULL;
        unsigned line = 0;
        int r;

        r = iom_read_file(path, CONFIG_SIZE_MAX, &text, NULL);
        if (r == -ENOENT) {
                *ret = c;
                return 0;
        }
        if (r < 0)
                return iom_error(ret_error, r, "%s: %s", path, strerror(-r));
        for (char *next = text, *l; (l = strsep(&next, "\n"));) {
                char *eq, *key;

                line++;
                l = strip(l);
                if (!*l || *l == '#')
                        continue;
                eq = strchr(l, '=');
                if (!eq)
                        return iom_error(ret_error, -EINVAL, "%s:%u: expected key = value", path,
                                         line);
                *eq = '\0';
                key = strip(l);
                r = config_set(&c, key, strip(eq + 1));
                if (r == -ENOENT)
                        return iom_error(ret_error, -EINVAL,
                                         "%s:%u: unknown key '%s' (fail_open, timeout)", path, line,
                                         key);
                if (r < 0)
                        return iom_error(ret_error, -EINVAL, "%s:%u: %s: expected %s", path, line,
                                         key,
                                         streq(key, "timeout") ? "seconds, 1-3600" : "yes or no");
        }
        *ret = c;
        return 0;
}

static void on_deadline(int sig) {
        static const char msg[] = PROGRAM ": deadline reached, giving up (timeout in "
                                          "/etc/iommud/hook.conf)\n";
        (void) !write(STDERR_FILENO, msg, sizeof(msg) - 1);
        _exit(EXIT_FAILURE);
}

/* iommud is simply not there (not running, not activatable): the case fail_open is about.
 * A timeout is not: the daemon may be in the middle of moving the devices. */
static bool daemon_absent(const sd_bus_error *e) {
        return sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
               sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER) ||
               (e->name && startswith(e->name, "org.freedesktop.DBus.Error.Spawn."));
}

static const char *error_short_name(const sd_bus_error *e) {
        const char *dot = e->name ? strrchr(e->name, '.') : NULL;
        return dot ? dot + 1 : strempty(e->name);
}

static int append_devices(sd_bus_message *m, const struct iom_domain *d) {
        int r = sd_bus_message_open_container(m, 'a', "s");
        if (r < 0)
                return r;
        for (size_t i = 0; i < d->n_pci; i++) {
                char a[IOM_ADDRESS_STRING_MAX];
                r = sd_bus_message_append(m, "s", iom_address_format(&d->pci[i].address, a));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

/* Assign or Release of @d's devices (Release: all the guest owns). */
static int call_change(sd_bus *bus, const char *method, const struct iom_domain *d,
                       sd_bus_message **ret_reply, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        bool assign = streq(method, "Assign");
        int r;

        r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE,
                                           method);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", d->name);
        if (r >= 0)
                r = assign ? append_devices(m, d) : sd_bus_message_append(m, "as", 0);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && assign && d->uuid)
                r = sd_bus_message_append(m, "{sv}", "uuid", "s", d->uuid);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return sd_bus_error_set_errno(error, r);
        return sd_bus_call(bus, m, 0, error, ret_reply);
}

/* The plan iommud ran, one line per device, for libvirt's log; its data worded here
 * (iommud.dbus(7): a(sss(ss)(ssu)(sss))). */
static int print_plan(const struct iom_domain *d, sd_bus_message *reply) {
        const char *address, *from, *to, *kind, *of, *rule, *file, *reset, *result, *quarantine;
        uint32_t line;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "(sss(ss)(ssu)(sss))");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(sss(ss)(ssu)(sss))", &address, &from, &to, &kind,
                                        &of, &rule, &file, &line, &reset, &result, &quarantine)) >
               0) {
                printf("%s: %s %s -> %s (%s%s", d->name, address, *from ? from : "(none)",
                       *to ? to : "(none)", *of ? "group peer of " : kind, of);
                if (*rule)
                        printf("; allowed by rule '%s' (%s:%" PRIu32 ")", rule, file, line);
                if (*reset)
                        printf("; %s reset: %s", reset, result);
                if (*quarantine)
                        printf("; quarantined: %s", quarantine);
                printf(")\n");
        }
        return r;
}

static int hook_prepare(sd_bus *bus, const struct iom_domain *d, const struct hook_config *c) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = bus ? call_change(bus, "Assign", d, &reply, &error) : -ENOTCONN;
        if (r >= 0) {
                (void) print_plan(d, reply);
                printf("%s%s%s%s: %zu PCI devices assigned by iommud\n", d->name,
                       d->uuid ? " (uuid " : "", strempty(d->uuid), d->uuid ? ")" : "", d->n_pci);
                return 0;
        }
        if (!bus || daemon_absent(&error)) {
                fprintf(stderr,
                        PROGRAM ": iommud is not running (%s): '%s' has %zu PCI devices that "
                                "iommud did not check%s\n",
                        bus ? error.message : "no system bus", d->name, d->n_pci,
                        c->fail_open ? "; starting it anyway (fail_open = yes)"
                                     : "; refusing to start it (fail_open = no in "
                                       "/etc/iommud/hook.conf)");
                return c->fail_open ? 0 : -EHOSTDOWN;
        }
        fprintf(stderr, PROGRAM ": iommud refused '%s': %s (%s)\n", d->name, error.message,
                error_short_name(&error));
        return r;
}

static int hook_release(sd_bus *bus, const struct iom_domain *d) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        if (!bus) {
                fprintf(stderr,
                        PROGRAM ": no system bus: '%s' keeps its IOMMU groups until "
                                "`iommuctl release %s`\n",
                        d->name, d->name);
                return -ENOTCONN;
        }
        r = call_change(bus, "Release", d, &reply, &error);
        if (r >= 0)
                return print_plan(d, reply);
        if (sd_bus_error_has_name(&error, ERROR_NOT_FOUND)) {
                /* Never assigned (iommud was down at prepare, fail_open) or already released. */
                printf("%s: %s\n", d->name, error.message);
                return 0;
        }
        fprintf(stderr, PROGRAM ": iommud could not release '%s': %s (%s)\n", d->name,
                error.message, error_short_name(&error));
        return r;
}

/* libvirtd restarted with the guest running: iommud should hold every device for it. Each
 * mismatch is reported; nothing moves. */
static int hook_reconnect(sd_bus *bus, const struct iom_domain *d) {
        unsigned mismatches = 0;

        if (!bus) {
                fprintf(stderr, PROGRAM ": no system bus: cannot confirm what '%s' owns\n",
                        d->name);
                return 0;
        }
        for (size_t i = 0; i < d->n_pci; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_free_ char *path = NULL, *owner = NULL;
                char a[IOM_ADDRESS_STRING_MAX], p[IOM_ADDRESS_STRING_MAX];
                int r;

                iom_address_format(&d->pci[i].address, a);
                if (asprintf(&path, DEVICE_PREFIX "%s",
                             iom_address_format_path(&d->pci[i].address, p)) < 0)
                        return -ENOMEM;
                r = sd_bus_get_property_string(bus, BUS_NAME, path, "org.iommud1.Device", "Owner",
                                               &error, &owner);
                if (r < 0)
                        fprintf(stderr, PROGRAM ": '%s' uses %s, which iommud cannot tell: %s\n",
                                d->name, a, error.message);
                else if (!streq(owner, d->name))
                        fprintf(stderr, PROGRAM ": '%s' uses %s, which iommud has %s%s%s\n",
                                d->name, a, *owner ? "for '" : "for no guest", owner,
                                *owner ? "'" : "");
                mismatches += r < 0 || !streq(owner, d->name);
        }
        printf("%s: %zu PCI devices, %u not held for it by iommud\n", d->name, d->n_pci,
               mismatches);
        return 0;
}

static int run(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(iom_domain_freep) struct iom_domain *d = NULL;
        _cleanup_free_ char *xml = NULL, *error = NULL;
        const char *config_path = getenv("IOMMUD_HOOK_CONFIG") ?: IOMMUD_HOOK_CONFIG;
        struct hook_config c = {};
        enum hook_op op;
        size_t len;
        int r;

        if (argc < 4) {
                fprintf(stderr,
                        "usage: %s GUEST OPERATION SUB-OPERATION [EXTRA] < DOMAIN-XML "
                        "(libvirt runs it as its qemu hook)\n",
                        PROGRAM);
                return -EINVAL;
        }
        op = hook_op_from_args(argv[2], argv[3]);
        if (op == HOOK_OTHER)
                return 0;

        r = config_load(config_path, &c, &error);
        if (r < 0) {
                fprintf(stderr, PROGRAM ": %s\n", strempty(error));
                return r;
        }
        /* The backstop behind the call's own timeout: reading stdin and connecting too. */
        (void) signal(SIGALRM, on_deadline);
        (void) alarm(c.timeout_sec + 5);

        r = iom_read_fd(STDIN_FILENO, IOM_DOMAIN_XML_MAX, &xml, &len);
        if (r == -EFBIG)
                r = iom_error(&error, -EFBIG, "the domain XML on stdin is larger than %u bytes",
                              IOM_DOMAIN_XML_MAX);
        else if (r < 0)
                r = iom_error(&error, r, "cannot read the domain XML on stdin: %s", strerror(-r));
        if (r >= 0)
                r = iom_domain_parse(xml, len, &d, &error);
        if (r >= 0 && !streq(d->name, argv[1]))
                r = iom_error(&error, -EINVAL, "the domain XML is for '%s', not '%s'", d->name,
                              argv[1]);
        if (r < 0) {
                fprintf(stderr, PROGRAM ": '%s' %s: %s\n", argv[1], argv[2],
                        error ? error : strerror(-r));
                return r;
        }
        for (char **i = d->ignored; i && *i; i++)
                fprintf(stderr, PROGRAM ": '%s': ignoring %s: not a PCI device\n", d->name, *i);
        /* A guest without passthrough never depends on iommud. */
        if (d->n_pci == 0)
                return 0;

        r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_set_method_call_timeout(bus, (uint64_t) c.timeout_sec * 1000000);
        if (r < 0)
                bus = sd_bus_flush_close_unref(bus);

        switch (op) {
        case HOOK_PREPARE:
                return hook_prepare(bus, d, &c);
        case HOOK_RELEASE:
                return hook_release(bus, d);
        case HOOK_RECONNECT:
                return hook_reconnect(bus, d);
        case HOOK_OTHER:
                break;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);
        return r == -EINVAL && argc < 4 ? 2 : r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
