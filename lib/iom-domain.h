/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt domain XML: the guest's name, UUID and the host PCI devices it takes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "iom-address.h"
#include "macro.h"

/* Larger domain XML is refused before it is parsed; libvirt's own are a few KiB. */
#define IOM_DOMAIN_XML_MAX (16u * 1024 * 1024)
/* As many PCI devices as one Assign call takes. */
#define IOM_DOMAIN_PCI_MAX 4096u

enum iom_domain_pci_kind {
        IOM_DOMAIN_PCI_HOSTDEV,   /* <hostdev mode='subsystem' type='pci'> */
        IOM_DOMAIN_PCI_INTERFACE, /* <interface type='hostdev'>, an SR-IOV VF as a NIC */
        _IOM_DOMAIN_PCI_KIND_MAX,
        _IOM_DOMAIN_PCI_KIND_INVALID = -EINVAL,
};

DECLARE_STRING_TABLE_LOOKUP(iom_domain_pci_kind, enum iom_domain_pci_kind);

/* One host PCI device of the guest: the <source><address>, never the guest-side <address>. */
struct iom_domain_pci {
        struct iom_address address;
        bool managed; /* managed='yes': libvirt detaches and reattaches it itself */
        enum iom_domain_pci_kind kind;
};

struct iom_domain {
        char *name;
        char *uuid; /* lower-case, dashed; NULL when the XML has none */
        struct iom_domain_pci *pci;
        size_t n_pci;
        /* Host devices that are not PCI (USB, SCSI, mdev, ...), as "<hostdev> #3 (type 'usb',
         * line 40)": nothing for iommud, but worth a line in the log. NULL-terminated. */
        char **ignored;
};

/* A UUID as libvirt accepts it (32 hexadecimal digits, dashes between them anywhere) in the form
 * libvirt writes it: lower case, 8-4-4-4-12. -EINVAL when it is not one. */
int iom_uuid_normalize(const char *s, char **ret);

/* Parses @len bytes of domain XML. Network access, DTDs and entities are refused: libvirt's
 * domain XML never has a DOCTYPE. Errors (-EINVAL, -E2BIG, -ENOMEM) come with *@ret_error
 * naming the element and the problem ("line 12: <hostdev> #2: <source><address bus='0x100'>:
 * bus 0x100 is larger than 0xff"). */
int iom_domain_parse(const char *xml, size_t len, struct iom_domain **ret, char **ret_error);

struct iom_domain *iom_domain_free(struct iom_domain *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct iom_domain *, iom_domain_free);
