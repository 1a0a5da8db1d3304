/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iommuctl: options and the table of verbs. */
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iommuctl.h"
#include "macro.h"

bool arg_json;
bool arg_offline;
bool arg_numeric;
bool arg_color;
bool arg_dry_run;
bool arg_force;
bool arg_from_quarantine;
const char *arg_guest;
bool arg_ask_password;
const char *arg_output;

int iommuctl_bus_open(sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_allow_interactive_authorization(bus, arg_ask_password);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

bool bus_unreachable(const sd_bus_error *error, int r) {
        if (error && sd_bus_error_is_set(error))
                /* No owner and no activation file, a daemon that left or never answered. */
                return sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN,
                                              SD_BUS_ERROR_NAME_HAS_NO_OWNER, SD_BUS_ERROR_NO_REPLY,
                                              SD_BUS_ERROR_TIMEOUT, SD_BUS_ERROR_DISCONNECTED);
        /* No bus socket or no right to it, a bus that went away, or the same as above. */
        return r == -ETIMEDOUT || r == -ENOENT || r == -ECONNREFUSED || r == -EHOSTUNREACH ||
               r == -ENOTCONN || r == -ECONNRESET || r == -EACCES || r == -ENXIO;
}

int bus_error(const char *what, const sd_bus_error *error, int r) {
        static const char prefix[] = "org.iommud1.Error.";
        bool is_set = error && sd_bus_error_is_set(error);
        const char *detail = is_set && error->message ? error->message : strerror(-r);

        if (bus_unreachable(error, r))
                fprintf(stderr,
                        "iommuctl: %s: iommud is not running or not reachable on the system bus "
                        "(%s): start it with 'systemctl start iommud'\n",
                        what, detail);
        else if (is_set && strncmp(error->name, prefix, strlen(prefix)) == 0)
                fprintf(stderr, "iommuctl: %s refused (%s): %s\n", what,
                        error->name + strlen(prefix), detail);
        else if (is_set && sd_bus_error_has_name(error, SD_BUS_ERROR_ACCESS_DENIED))
                fprintf(stderr,
                        "iommuctl: %s refused (AccessDenied): %s: polkit did not allow it; ask "
                        "an administrator, or run it as one\n",
                        what, detail);
        else
                fprintf(stderr, "iommuctl: %s failed: %s%s%s%s\n", what, detail, is_set ? " (" : "",
                        is_set ? error->name : "", is_set ? ")" : "");
        return r < 0 ? r : -EIO;
}

int log_oom(void) {
        fprintf(stderr, "iommuctl: out of memory\n");
        return -ENOMEM;
}

int usage_error(const char *format, ...) {
        va_list ap;

        fputs("iommuctl: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
        return VERB_USAGE;
}

struct verb {
        const char *name;
        int min_args, max_args; /* counting the verb itself */
        int (*run)(int argc, char *argv[]);
        const char *usage;
};

static const struct verb verbs[] = {
        {"list", 1, 1, verb_list, "list"},
        {"show", 2, 2, verb_show, "show DEVICE|GROUP"},
        {"assign", 3, INT_MAX, verb_assign, "assign GUEST DEVICE..."},
        {"release", 2, INT_MAX, verb_release,
         "release GUEST [DEVICE...] | release --from-quarantine DEVICE"},
        {"rebind", 3, 3, verb_rebind, "rebind DEVICE DRIVER"},
        {"sriov", 3, 3, verb_sriov, "sriov DEVICE N"},
        {"explain", 2, 2, verb_explain, "explain DEVICE [--guest GUEST]"},
        {"policy", 2, INT_MAX, verb_policy, "policy check [FILE...] | policy reload | policy show"},
        {"space", 2, 5, verb_space, "space list | space show ID | space translate ID IOVA [ACCESS]"},
        {"export", 2, 2, verb_export,
         "export kubevirt|kubevirt-yaml|nova|nfd|prometheus [--output FILE]"},
        {"monitor", 1, 1, verb_monitor, "monitor"},
};

static void help(void) {
        printf("Usage: iommuctl [OPTIONS] COMMAND ...\n\n"
               "Shows and manages which virtual machines own which PCI controllers.\n\n"
               "Commands:\n"
               "  list                 Devices under their IOMMU groups, with viability\n"
               "  show DEVICE|GROUP    Every property of a device or an IOMMU group\n"
               "  assign GUEST DEVICE...     Give the devices' IOMMU groups to a guest\n"
               "  release GUEST [DEVICE...]  Return a guest's groups to their host drivers\n"
               "  release --from-quarantine DEVICE  Let a quarantined group go home\n"
               "  rebind DEVICE DRIVER       Move one device to another driver (or none)\n"
               "  sriov DEVICE N             Give an SR-IOV PF N virtual functions\n"
               "  explain DEVICE             May --guest own DEVICE, and every reason\n"
               "  policy reload              Make the daemon read its policy again\n"
               "  policy show                The policy in force, rule by rule, with sources\n"
               "  policy check [FILE...]     Validate policy files (default: " IOMMUD_POLICYDIR
               ")\n"
               "  space list                 The mediated I/O address spaces iommud serves\n"
               "  space show ID              A space's limits and every mapping, in order\n"
               "  space translate ID IOVA [read|write|rw]  Where a DMA to IOVA goes\n"
               "  export FORMAT              What KubeVirt, Nova, NFD or Prometheus read of this\n"
               "                             host: kubevirt, kubevirt-yaml, nova, nfd, "
               "prometheus\n"
               "  monitor                    Print each change of the host, until interrupted\n\n"
               "Options:\n"
               "  -h --help            Show this help\n"
               "     --version         Show the version\n"
               "  -j --json            Print JSON (the stable format, see iommuctl(1))\n"
               "     --offline         Read the host directly instead of asking iommud\n"
               "  -n --numeric         Show numeric ids next to names\n"
               "     --color=WHEN      Colour output: auto, always, never\n"
               "     --dry-run         Print the plan of a change without making it\n"
               "     --force           Change a device the host is using (administrators)\n"
               "     --from-quarantine  release: let a quarantined group go, after a reset\n"
               "     --no-ask-password  Never let polkit ask for a password\n"
               "     --guest=GUEST     The guest explain asks about\n"
               "  -o --output=FILE     Where export writes (replaced atomically), not stdout\n\n"
               "A DEVICE is a PCI address (0000:01:00.0 or 01:00.0) or a vendor:device id;\n"
               "a GROUP is an IOMMU group number. See iommuctl(1).\n");
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_OFFLINE,
                ARG_COLOR,
                ARG_DRY_RUN,
                ARG_FORCE,
                ARG_GUEST,
                ARG_NO_ASK_PASSWORD,
                ARG_FROM_QUARANTINE,
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"json", no_argument, NULL, 'j'},
                {"offline", no_argument, NULL, ARG_OFFLINE},
                {"numeric", no_argument, NULL, 'n'},
                {"color", required_argument, NULL, ARG_COLOR},
                {"dry-run", no_argument, NULL, ARG_DRY_RUN},
                {"force", no_argument, NULL, ARG_FORCE},
                {"guest", required_argument, NULL, ARG_GUEST},
                {"no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD},
                {"output", required_argument, NULL, 'o'},
                {"from-quarantine", no_argument, NULL, ARG_FROM_QUARANTINE},
                {},
        };
        int c;

        arg_color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
        arg_ask_password = isatty(STDIN_FILENO);
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hjno:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("iommuctl " PACKAGE_VERSION "\n");
                        return 0;
                case 'j':
                        arg_json = true;
                        break;
                case ARG_OFFLINE:
                        arg_offline = true;
                        break;
                case 'n':
                        arg_numeric = true;
                        break;
                case ARG_DRY_RUN:
                        arg_dry_run = true;
                        break;
                case ARG_FORCE:
                        arg_force = true;
                        break;
                case ARG_GUEST:
                        arg_guest = optarg;
                        break;
                case ARG_NO_ASK_PASSWORD:
                        arg_ask_password = false;
                        break;
                case 'o':
                        arg_output = optarg;
                        break;
                case ARG_FROM_QUARANTINE:
                        arg_from_quarantine = true;
                        break;
                case ARG_COLOR:
                        if (streq(optarg, "always"))
                                arg_color = true;
                        else if (streq(optarg, "never"))
                                arg_color = false;
                        else if (!streq(optarg, "auto")) {
                                (void) usage_error("--color takes auto, always or never, not '%s'",
                                                   optarg);
                                return -EINVAL;
                        }
                        break;
                case ':':
                        (void) usage_error("option '%s' needs a value", argv[optind - 1]);
                        return -EINVAL;
                case '?':
                        if (optopt)
                                (void) usage_error("unknown option '-%c'", optopt);
                        else
                                (void) usage_error("unknown option '%s'", argv[optind - 1]);
                        return -EINVAL;
                default:
                        return -EINVAL;
                }
        return 1;
}

static int run(int argc, char *argv[]) {
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? VERB_USAGE : 0;
        if (optind >= argc)
                return usage_error("a command is needed; see 'iommuctl --help'");

        const char *name = argv[optind];
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                const struct verb *v = &verbs[i];
                int n = argc - optind;

                if (!streq(v->name, name))
                        continue;
                if (n < v->min_args || n > v->max_args)
                        return usage_error("%s arguments; usage: iommuctl %s",
                                           n < v->min_args ? "missing" : "too many", v->usage);
                if (arg_output && !streq(name, "export"))
                        return usage_error("--output goes with export, not %s", name);
                if (arg_from_quarantine && !streq(name, "release"))
                        return usage_error("--from-quarantine goes with release, not %s", name);
                return v->run(n, argv + optind);
        }
        return usage_error("unknown command '%s'; see 'iommuctl --help'", name);
}

/* The exit statuses of iommuctl(1), decided here only. */
int main(int argc, char *argv[]) {
        int r = run(argc, argv);

        if (r < 0)
                return 1; /* refused or failed: stderr said why */
        if (r == VERB_NO)
                return 1; /* the answer is no */
        if (r == VERB_USAGE)
                return 2;
        return EXIT_SUCCESS;
}
