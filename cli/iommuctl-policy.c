/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iommuctl policy check [FILE...]: validates policy files without a daemon. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "iom-policy.h"
#include "iommuctl.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct iom_policy *, iom_policy_free);

static int policy_check(int argc, char *argv[]) {
        _cleanup_(iom_policy_freep) struct iom_policy *p = NULL;
        _cleanup_free_ char *errors = NULL;
        size_t n_files = 0;
        int r;

        r = argc > 2 ? iom_policy_load_files(argv + 2, &p, &errors)
                     : iom_policy_load_dir(IOMMUD_POLICYDIR, &p, &errors);
        if (r < 0) {
                if (errors)
                        fprintf(stderr, "%s\n", errors);
                else
                        fprintf(stderr, "iommuctl: cannot read the policy: %s\n", strerror(-r));
                return EXIT_REFUSED;
        }
        for (char **f = p->files; *f; f++)
                n_files++;
        printf("The policy is valid: %zu rules and %zu aliases in %zu files%s%s.\n", p->n_rules,
               p->n_aliases, n_files, argc > 2 ? "" : " of ", argc > 2 ? "" : IOMMUD_POLICYDIR);
        return 0;
}

/* Asks the daemon to read its policy again; a broken one is refused and the old one stays. */
static int policy_reload(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint32_t rules;
        int r;

        if (argc > 2) {
                fprintf(stderr, "iommuctl: policy reload takes no arguments\n");
                return EXIT_USAGE;
        }
        r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_call_method(bus, "org.iommud1", "/org/iommud1", "org.iommud1.Manager",
                                       "ReloadPolicy", &error, &reply, "");
        if (r >= 0)
                r = sd_bus_message_read(reply, "u", &rules);
        if (r < 0) {
                fprintf(stderr, "iommuctl: policy reload refused: %s\n",
                        error.message ? error.message : strerror(-r));
                sd_bus_error_free(&error);
                return EXIT_REFUSED;
        }
        printf("The daemon now enforces %u rules.\n", rules);
        return 0;
}

int verb_policy(int argc, char *argv[]) {
        if (streq(argv[1], "check"))
                return policy_check(argc, argv);
        if (streq(argv[1], "reload"))
                return policy_reload(argc, argv);
        fprintf(stderr,
                "iommuctl: unknown policy command '%s'; usage: iommuctl policy check "
                "[FILE...] | iommuctl policy reload\n",
                argv[1]);
        return EXIT_USAGE;
}
