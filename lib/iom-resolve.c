/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resolving command-line names of devices and groups. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iom-resolve.h"
#include "iom-error.h"
#include "iom-utf8.h"
#include "macro.h"

static bool all_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isdigit((unsigned char) *s))
                        return false;
        return true;
}

/* "8086:10d3": exactly four hex digits on each side of one colon. */
static bool parse_id_pair(const char *s, uint16_t *ret_vendor, uint16_t *ret_device) {
        unsigned v, d;
        int n = 0;

        if (strlen(s) != 9 || s[4] != ':')
                return false;
        for (size_t i = 0; i < 9; i++)
                if (i != 4 && !isxdigit((unsigned char) s[i]))
                        return false;
        if (sscanf(s, "%4x:%4x%n", &v, &d, &n) != 2 || n != 9)
                return false;
        *ret_vendor = (uint16_t) v;
        *ret_device = (uint16_t) d;
        return true;
}

int iom_inventory_resolve(const struct iom_inventory *inv, const char *spec,
                          struct iom_device **ret_device, struct iom_group **ret_group,
                          char **ret_error) {
        struct iom_device *found = NULL;
        struct iom_address a;
        _cleanup_free_ char *why = NULL;
        uint16_t vendor, device;
        size_t matches = 0;
        int r;

        if (!inv || !spec || !ret_device)
                return -EINVAL;
        *ret_device = NULL;
        if (ret_group)
                *ret_group = NULL;

        if (ret_group && all_digits(spec)) {
                char *end;
                errno = 0;
                unsigned long id = strtoul(spec, &end, 10);
                struct iom_group *g = errno == 0 && id <= UINT32_MAX
                                              ? iom_inventory_find_group(inv, (unsigned) id)
                                              : NULL;
                if (!g)
                        return iom_error(ret_error, -ENOENT, "'%s': no such IOMMU group%s", spec,
                                         inv->n_groups == 0 ? " (this host has none)" : "");
                *ret_group = g;
                return 0;
        }

        if (parse_id_pair(spec, &vendor, &device)) {
                for (size_t i = 0; i < inv->n_devices; i++)
                        if (inv->devices[i]->vendor_id == vendor &&
                            inv->devices[i]->device_id == device) {
                                found = inv->devices[i];
                                matches++;
                        }
                if (matches == 0)
                        return iom_error(ret_error, -ENOENT,
                                         "'%s': no device has this vendor:device id", spec);
                if (matches > 1)
                        return iom_error(
                                ret_error, -ENOTUNIQ,
                                "'%s': %zu devices have this vendor:device id, name one by "
                                "its address",
                                spec, matches);
                *ret_device = found;
                return 0;
        }

        r = iom_address_parse(spec, &a, &why);
        if (r < 0)
                return r == -ENOMEM ? r
                                    : iom_error(ret_error, r, "'%s' is not a PCI address: %s",
                                                IOM_ESCAPE(spec), why);
        found = iom_inventory_find_device(inv, &a);
        if (!found) {
                char buf[IOM_ADDRESS_STRING_MAX];
                return iom_error(ret_error, -ENOENT, "no PCI device at %s",
                                 iom_address_format(&a, buf));
        }
        *ret_device = found;
        return 0;
}
