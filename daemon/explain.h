/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Explain: may this guest own this device, and every reason why or why not. */
#pragma once

#include <stdbool.h>

struct manager;

struct explain_reason {
        const char *kind; /* "policy", "owner", "peer", "viability", "in-use", "isolation",
                           * "device" */
        char *text;
};

struct explanation {
        bool allowed;
        struct explain_reason *reasons;
        size_t n_reasons;
};

/* Explains what Assign(@guest, [@device]) would meet; @guest may be empty to leave the policy
 * out. Fails only on OOM: a device that cannot be assigned is an explanation too. */
int manager_explain(struct manager *m, const char *device, const char *guest,
                    struct explanation *ret);
void explanation_done(struct explanation *e);
