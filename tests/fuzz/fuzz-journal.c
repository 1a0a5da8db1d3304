/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the state journal's reader, and writes back what it accepted. */
#include <stdlib.h>

#include "fuzz.h"
#include "iom-journal.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_text(data, size), *errors = NULL;
        struct iom_journal *j = NULL;

        if (text && iom_journal_from_json(text, "fuzz.json", &j, &errors) >= 0)
                free(iom_journal_to_json(j));
        iom_journal_free(j);
        return 0;
}
