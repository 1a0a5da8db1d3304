/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes libvirt domain XML parsing: anything parses or is refused with a message, and what
 * parses holds a name and only addresses in range. */
#include <stdlib.h>

#include "fuzz.h"
#include "iom-domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(iom_domain_freep) struct iom_domain *d = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        r = iom_domain_parse((const char *) data, size, &d, &error);
        if (r < 0) {
                if (r != -ENOMEM && !error)
                        abort();
                return 0;
        }
        if (!d->name || d->n_pci > IOM_DOMAIN_PCI_MAX)
                abort();
        for (size_t i = 0; i < d->n_pci; i++)
                if (d->pci[i].address.domain > 0xffff || d->pci[i].address.slot > 0x1f ||
                    d->pci[i].address.function > 7 ||
                    !iom_domain_pci_kind_to_string(d->pci[i].kind))
                        abort();
        return 0;
}
