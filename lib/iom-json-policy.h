/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The stable JSON form of the policy in force (iommuctl policy show --json). */
#pragma once

#include <stddef.h>

struct iom_json_policy_rule {
        const char *id, *file, *action, *match, *options;
        unsigned line;
        char *const *guests;
};

/* {"files": [...], "rules": [{"id", "file", "line", "action", "match", "options", "guests"}]} */
char *iom_json_policy_show(char *const *files, const struct iom_json_policy_rule *rules,
                           size_t n_rules);
