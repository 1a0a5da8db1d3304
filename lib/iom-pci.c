/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The only file that includes libpci: names and config space. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pci/pci.h>

#include "iom-log.h"
#include "iom-pci.h"
#include "macro.h"

struct iom_pci {
        struct pci_access *access;
};

/* libpci calls its error hook for conditions it cannot continue from and declares it
 * noreturn; we only use calls that fail through warnings (names, config reads), so reaching
 * this is a bug in libpci's environment: say so on stderr and stop, as libpci would. */
_printf_(1, 2) _noreturn_ static void pci_error(char *msg, ...) {
        va_list ap;

        va_start(ap, msg);
        fputs("libpci: fatal: ", stderr);
        vfprintf(stderr, msg, ap);
        fputc('\n', stderr);
        va_end(ap);
        exit(EXIT_FAILURE);
}

_printf_(1, 2) static void pci_debug(char *msg, ...) {
        char buf[512];
        va_list ap;

        va_start(ap, msg);
        (void) vsnprintf(buf, sizeof(buf), msg, ap);
        va_end(ap);
        iom_debug("libpci: %s", buf);
}

int iom_pci_new(struct iom_pci **ret) {
        struct iom_pci *p;

        if (!ret)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->access = pci_alloc();
        if (!p->access) {
                free(p);
                return -ENOMEM;
        }
        p->access->method = PCI_ACCESS_SYS_BUS_PCI;
        p->access->error = pci_error;
        p->access->warning = pci_debug;
        p->access->debug = pci_debug;
        p->access->id_lookup_mode = PCI_LOOKUP_NO_HWDB;
        pci_set_name_list_path(p->access, (char *) PCI_IDS_PATH, 0);
        pci_init(p->access);
        *ret = p;
        return 0;
}

struct iom_pci *iom_pci_free(struct iom_pci *p) {
        if (!p)
                return NULL;
        pci_cleanup(p->access);
        free(p);
        return NULL;
}

static char *lookup(struct iom_pci *p, int flags, unsigned a, unsigned b, unsigned c) {
        char buf[256];
        const char *name;

        name = pci_lookup_name(p->access, buf, sizeof(buf),
                               flags | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB, a, b, c);
        return name ? strdup(name) : NULL;
}

char *iom_pci_vendor_name(struct iom_pci *p, uint16_t vendor) {
        return lookup(p, PCI_LOOKUP_VENDOR, vendor, 0, 0);
}

char *iom_pci_device_name(struct iom_pci *p, uint16_t vendor, uint16_t device) {
        return lookup(p, PCI_LOOKUP_DEVICE, vendor, device, 0);
}

char *iom_pci_class_name(struct iom_pci *p, uint32_t class) {
        /* Class and subclass, as lspci names them ("VGA compatible controller"). */
        return lookup(p, PCI_LOOKUP_CLASS, class >> 8, 0, 0);
}

/* The device and its extended capability @id; NULL capability when it has none. */
static struct pci_dev *find_ext_cap(struct iom_pci *p, const struct iom_address *a, unsigned id,
                                    struct pci_cap **ret_cap) {
        struct pci_dev *d = pci_get_dev(p->access, (int) a->domain, a->bus, a->slot, a->function);

        if (!d)
                return NULL;
        pci_fill_info(d, PCI_FILL_IDENT | PCI_FILL_EXT_CAPS);
        *ret_cap = pci_find_cap(d, id, PCI_CAP_EXTENDED);
        return d;
}

int iom_pci_read_acs(struct iom_pci *p, const struct iom_address *a, uint16_t *ret_capability,
                     uint16_t *ret_control) {
        struct pci_cap *cap;
        struct pci_dev *d = find_ext_cap(p, a, PCI_EXT_CAP_ID_ACS, &cap);

        if (!d)
                return -ENOMEM;
        if (cap) {
                *ret_capability = pci_read_word(d, cap->addr + PCI_ACS_CAP);
                *ret_control = pci_read_word(d, cap->addr + PCI_ACS_CTRL);
        }
        pci_free_dev(d);
        return cap != NULL;
}

int iom_pci_read_dsn(struct iom_pci *p, const struct iom_address *a, uint64_t *ret_dsn) {
        struct pci_cap *cap;
        struct pci_dev *d = find_ext_cap(p, a, PCI_EXT_CAP_ID_DSN, &cap);

        if (!d)
                return -ENOMEM;
        if (cap)
                *ret_dsn = (uint64_t) pci_read_long(d, cap->addr + 8) << 32 |
                           pci_read_long(d, cap->addr + 4);
        pci_free_dev(d);
        return cap != NULL;
}

char *iom_dsn_format(uint64_t dsn, char buf[static IOM_DSN_STRING_MAX]) {
        for (int i = 0; i < 8; i++)
                (void) snprintf(buf + i * 3, IOM_DSN_STRING_MAX - (size_t) i * 3, "%02x%s",
                                (unsigned) (dsn >> (56 - 8 * i)) & 0xff, i < 7 ? "-" : "");
        return buf;
}
