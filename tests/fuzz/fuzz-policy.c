/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the policy parser and validator, then evaluates whatever it accepted. */
#include "fuzz.h"
#include "iom-policy.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_text(data, size), *errors = NULL;
        struct iom_policy *p = iom_policy_new();
        struct iom_policy_subject s = {.vendor = 0x8086, .device = 0x10d3, .class = 0x020000,
                                       .driver = "e1000e"};
        struct iom_policy_decision d;

        if (text && p && iom_policy_add_text(p, "fuzz.json", text, &errors) >= 0)
                iom_policy_evaluate(p, &s, "win11", &d);
        iom_policy_free(p);
        return 0;
}
