/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Human spellings shared by iommuctl's verbs. */
#include <stdio.h>
#include <stdlib.h>

#include "format.h"
#include "iommuctl.h"
#include "macro.h"

char *format_ids(const struct iom_device *d, char buf[static IDS_STRING_MAX]) {
        (void) snprintf(buf, IDS_STRING_MAX, "%04x:%04x", d->vendor_id, d->device_id);
        return buf;
}

char *device_title(const struct iom_device *d) {
        char ids[IDS_STRING_MAX], unnamed[16], *s;
        int n;

        format_ids(d, ids);
        if (!d->vendor_name && !d->device_name)
                n = asprintf(&s, "[%s]", ids);
        else {
                /* lspci's spelling for a device pci.ids does not name. */
                (void) snprintf(unnamed, sizeof(unnamed), "Device %04x", d->device_id);
                n = asprintf(&s, "%s %s%s%s%s", strempty(d->vendor_name),
                             d->device_name ? d->device_name : unnamed, arg_numeric ? " [" : "",
                             arg_numeric ? ids : "", arg_numeric ? "]" : "");
        }
        return n < 0 ? NULL : s;
}

char *device_class(const struct iom_device *d) {
        char *s;
        int n;

        if (d->class_name)
                n = arg_numeric ? asprintf(&s, "%s [%06x]", d->class_name, d->class)
                                : asprintf(&s, "%s", d->class_name);
        else
                n = asprintf(&s, "Class %06x", d->class);
        return n < 0 ? NULL : s;
}

void print_host_notices(const struct iom_host *h, FILE *f) {
        if (h->notice)
                fprintf(f, "Notice: %s\n", h->notice);
        if (h->acs_override)
                fprintf(f, "Warning: %s.\n", IOM_ACS_OVERRIDE_WARNING);
        if (h->groups_present && !h->interrupt_remapping)
                fprintf(f,
                        "Warning: interrupt remapping is off; VFIO refuses assignment unless "
                        "vfio_iommu_type1.allow_unsafe_interrupts=1 (now %s).\n",
                        h->allow_unsafe_interrupts ? "on" : "off");
}
