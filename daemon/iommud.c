/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iommud: serves the host's IOMMU groups and PCI devices on D-Bus. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "bus-error.h"
#include "libvirt.h"
#include "log.h"
#include "manager.h"

static void help(void) {
        printf("Usage: iommud [OPTIONS]\n\n"
               "Serves the host's IOMMU groups and PCI devices as " IOMMUD_BUS_NAME
               " on the system bus.\n\n"
               "  -h --help       Show this help\n"
               "     --version    Show the version\n"
               "  -v --verbose    Log debug messages\n"
               "     --journal=PATH  The state journal (default " IOMMUD_STATEDIR "/state.json)\n"
               "     --policy-dir=DIR  The policy files (default " IOMMUD_POLICYDIR ")\n"
               "     --libvirt-uri=URI  The libvirt to follow, read-only "
               "(default " LIBVIRT_DEFAULT_URI ";\n"
               "                        'none': follow none)\n"
               "     --libvirt-timeout=SEC  How long a libvirt call may take (default 30)\n"
               "     --nfd-file=PATH  Keep a Node Feature Discovery feature file written there\n"
               "     --metrics-file=PATH  Keep Prometheus metrics written there (node_exporter's\n"
               "                        textfile collector)\n\n"
               "Environment: DBUS_SYSTEM_BUS_ADDRESS selects the bus; IOMMUD_PROC_ROOT the\n"
               "directory /proc/cmdline and /proc/interrupts are read from.\n"
               "See iommud(8).\n");
}

static const char *arg_journal;
static const char *arg_policy_dir;
static const char *arg_libvirt_uri = LIBVIRT_DEFAULT_URI;
static uint64_t arg_libvirt_timeout_usec = LIBVIRT_TIMEOUT_DEFAULT_USEC;
static const char *arg_nfd_file;
static const char *arg_metrics_file;

/* An option that takes an absolute path: "iommud: --@name needs an absolute path". */
static int absolute_path(const char *name, const char *value, const char **ret) {
        if (value[0] != '/') {
                fprintf(stderr, "iommud: --%s needs an absolute path, not '%s'\n", name, value);
                return -EINVAL;
        }
        *ret = value;
        return 0;
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_JOURNAL,
                ARG_POLICY_DIR,
                ARG_LIBVIRT_URI,
                ARG_NFD_FILE,
                ARG_METRICS_FILE,
                ARG_LIBVIRT_TIMEOUT,
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"verbose", no_argument, NULL, 'v'},
                {"journal", required_argument, NULL, ARG_JOURNAL},
                {"policy-dir", required_argument, NULL, ARG_POLICY_DIR},
                {"libvirt-uri", required_argument, NULL, ARG_LIBVIRT_URI},
                {"nfd-file", required_argument, NULL, ARG_NFD_FILE},
                {"metrics-file", required_argument, NULL, ARG_METRICS_FILE},
                {"libvirt-timeout", required_argument, NULL, ARG_LIBVIRT_TIMEOUT},
                {},
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "hv", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("iommud " PACKAGE_VERSION "\n");
                        return 0;
                case 'v':
                        log_set_max_level(LOG_DEBUG);
                        break;
                case ARG_JOURNAL:
                        r = absolute_path("journal", optarg, &arg_journal);
                        if (r < 0)
                                return r;
                        break;
                case ARG_NFD_FILE:
                        r = absolute_path("nfd-file", optarg, &arg_nfd_file);
                        if (r < 0)
                                return r;
                        break;
                case ARG_METRICS_FILE:
                        r = absolute_path("metrics-file", optarg, &arg_metrics_file);
                        if (r < 0)
                                return r;
                        break;
                case ARG_POLICY_DIR:
                        arg_policy_dir = optarg;
                        break;
                case ARG_LIBVIRT_URI:
                        if (!*optarg) {
                                fprintf(stderr, "iommud: --libvirt-uri needs a URI, or 'none'\n");
                                return -EINVAL;
                        }
                        arg_libvirt_uri = optarg;
                        break;
                case ARG_LIBVIRT_TIMEOUT: {
                        char *end;
                        unsigned long sec;

                        errno = 0;
                        sec = strtoul(optarg, &end, 10);
                        if (errno != 0 || end == optarg || *end || optarg[0] == '-' || sec < 1 ||
                            sec > 3600) {
                                fprintf(stderr,
                                        "iommud: --libvirt-timeout needs whole seconds from 1 to "
                                        "3600, not '%s'\n",
                                        optarg);
                                return -EINVAL;
                        }
                        arg_libvirt_timeout_usec = sec * UINT64_C(1000000);
                        break;
                }
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "iommud: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static int run(void) {
        _cleanup_(manager_freep) struct manager *m = NULL;
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");

        r = bus_error_register();
        if (r < 0)
                return log_error_errno(r, "Failed to register the bus errors: %m");
        r = manager_new(&m);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the manager: %m");
        if (arg_policy_dir) {
                free(m->policy_dir);
                m->policy_dir = strdup(arg_policy_dir);
                if (!m->policy_dir)
                        return log_oom();
        }
        if (!streq(arg_libvirt_uri, "none")) {
                m->libvirt_uri = strdup(arg_libvirt_uri);
                if (!m->libvirt_uri)
                        return log_oom();
                m->libvirt_timeout_usec = arg_libvirt_timeout_usec;
        }
        if (arg_journal) {
                free(m->journal_path);
                m->journal_path = strdup(arg_journal);
                if (!m->journal_path)
                        return log_oom();
        }
        if ((arg_nfd_file && !(m->nfd_file = strdup(arg_nfd_file))) ||
            (arg_metrics_file && !(m->metrics_file = strdup(arg_metrics_file))))
                return log_oom();
        r = sd_event_add_signal(m->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to handle signals: %m");

        r = manager_start(m);
        if (r < 0)
                return r;

        (void) sd_notify(false, "READY=1\nSTATUS=Serving " IOMMUD_BUS_NAME ".");
        log_info("Serving " IOMMUD_BUS_NAME ".");
        r = sd_event_loop(m->event);
        (void) sd_notify(false, "STOPPING=1");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        if (r > 0)
                return log_error_errno(ECONNRESET, "Lost the connection to the bus, exiting.");
        return 0;
}

int main(int argc, char *argv[]) {
        int r;

        log_setup();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : EXIT_SUCCESS; /* usage errors, or --help and --version */
        return run() < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
