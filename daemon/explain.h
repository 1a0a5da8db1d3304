/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Explain: may this guest own this device, and every reason why or why not. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "iom-address.h"

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
        /* Devices whose host uses are still to be read: explanation_scan_in_use(). */
        struct iom_address *to_scan;
        size_t n_to_scan;
};

/* Explains what Assign(@guest, [@device]) would meet; @guest may be empty to leave the policy
 * out. Fails only on OOM: a device that cannot be assigned is an explanation too. What the
 * host uses behind the devices is left in @ret->to_scan: reading it can take a while. */
int manager_explain(struct manager *m, const char *device, const char *guest,
                    struct explanation *ret);

/* Reads what the host uses behind @e's devices and adds each use as a reason. Touches @e
 * only: it runs off the event loop. */
int explanation_scan_in_use(struct explanation *e);
void explanation_done(struct explanation *e);
