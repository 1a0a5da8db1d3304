/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Building the device model from libudev, sysfs attributes and pci.ids. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libudev.h>
#include <pci/header.h>

#include "iom-device.h"
#include "iom-log.h"
#include "iom-pci.h"
#include "iom-strv.h"
#include "iom-sysfs.h"
#include "macro.h"

/* Bit 7 of the header type register: more functions in this slot (PCI Local Bus 3.0, 6.2.1;
 * pci/header.h names the register and its types, not the bit). */
#define IOM_HEADER_TYPE_MULTIFUNCTION 0x80

struct iom_device *iom_device_free(struct iom_device *d) {
        if (!d)
                return NULL;
        free(d->syspath);
        free(d->vendor_name);
        free(d->device_name);
        free(d->class_name);
        free(d->driver);
        free(d->driver_override);
        free(d->host_driver);
        free(d->reset_method);
        free(d->last_reset_method);
        free(d->last_reset_result);
        strv_free(d->reset_methods);
        free(d);
        return NULL;
}

static int read_u16(const char *dir, const char *name, uint16_t *ret) {
        int64_t v;
        int r = iom_sysfs_read_int64(dir, name, &v);
        if (r < 0)
                return r;
        if (v < 0 || v > UINT16_MAX)
                return -ERANGE;
        *ret = (uint16_t) v;
        return 0;
}

static int read_identity(struct iom_device *d) {
        int64_t v;
        int r;

        r = read_u16(d->syspath, "vendor", &d->vendor_id);
        if (r < 0)
                return iom_debug_errno(r, "%s: cannot read vendor: %m", d->syspath);
        r = read_u16(d->syspath, "device", &d->device_id);
        if (r < 0)
                return iom_debug_errno(r, "%s: cannot read device: %m", d->syspath);
        (void) read_u16(d->syspath, "subsystem_vendor", &d->subsystem_vendor_id);
        (void) read_u16(d->syspath, "subsystem_device", &d->subsystem_device_id);
        r = iom_sysfs_read_int64(d->syspath, "class", &v);
        if (r < 0)
                return iom_debug_errno(r, "%s: cannot read class: %m", d->syspath);
        d->class = (uint32_t) v & 0xffffff;
        if (iom_sysfs_read_int64(d->syspath, "revision", &v) >= 0)
                d->revision = (uint8_t) v;
        return 0;
}

static void read_header(struct iom_device *d) {
        uint8_t header;

        if (iom_sysfs_read_binary(d->syspath, "config", PCI_HEADER_TYPE, &header, 1) != 1) {
                /* No readable config space: a bridge class still tells us what it is. */
                d->header_type = (d->class >> 8) == PCI_CLASS_BRIDGE_PCI ? PCI_HEADER_TYPE_BRIDGE
                                                                         : PCI_HEADER_TYPE_NORMAL;
                return;
        }
        d->header_type = header & ~IOM_HEADER_TYPE_MULTIFUNCTION;
        d->multifunction = header & IOM_HEADER_TYPE_MULTIFUNCTION;
}

static int read_binding(struct iom_device *d) {
        _cleanup_free_ char *group = NULL, *resets = NULL;
        int64_t v;
        int r;

        r = iom_sysfs_read_link_name(d->syspath, "driver", &d->driver);
        if (r < 0 && r != -ENOENT)
                return r;
        r = iom_sysfs_read_string(d->syspath, "driver_override", &d->driver_override);
        if (r >= 0 && (streq(d->driver_override, "(null)") || !*d->driver_override))
                d->driver_override = (free(d->driver_override), NULL);

        d->iommu_group = -1;
        if (iom_sysfs_read_link_name(d->syspath, "iommu_group", &group) >= 0) {
                char *end;
                long id = strtol(group, &end, 10);
                if (*end == '\0' && id >= 0 && id <= INT32_MAX)
                        d->iommu_group = (int) id;
        }

        d->numa_node = -1;
        if (iom_sysfs_read_int64(d->syspath, "numa_node", &v) >= 0 && v >= -1 && v < INT32_MAX)
                d->numa_node = (int) v;

        if (iom_sysfs_read_string(d->syspath, "reset_method", &resets) < 0)
                resets = strdup("");
        if (!resets)
                return -ENOMEM;
        return iom_strv_split(resets, &d->reset_methods);
}

static void read_sriov(struct iom_device *d) {
        _cleanup_free_ char *pf = NULL;
        int64_t v;

        if (iom_sysfs_read_int64(d->syspath, "sriov_totalvfs", &v) >= 0 && v >= 0) {
                d->sriov = true;
                d->sriov_total_vfs = (unsigned) v;
                if (iom_sysfs_read_int64(d->syspath, "sriov_numvfs", &v) >= 0 && v >= 0)
                        d->sriov_num_vfs = (unsigned) v;
                if (iom_sysfs_read_int64(d->syspath, "sriov_offset", &v) >= 0 && v >= 0 &&
                    v <= UINT16_MAX)
                        d->sriov_offset = (unsigned) v;
                if (iom_sysfs_read_int64(d->syspath, "sriov_stride", &v) >= 0 && v >= 0 &&
                    v <= UINT16_MAX)
                        d->sriov_stride = (unsigned) v;
                /* The kernel prints it as "%x" without a prefix. */
                _cleanup_free_ char *vf_device = NULL;
                if (iom_sysfs_read_string(d->syspath, "sriov_vf_device", &vf_device) >= 0)
                        d->sriov_vf_device = (uint16_t) strtoul(vf_device, NULL, 16);
        }
        if (iom_sysfs_read_link_name(d->syspath, "physfn", &pf) >= 0 &&
            iom_address_parse(pf, &d->physfn, NULL) >= 0)
                d->is_vf = true;
}

int iom_device_vf_address(const struct iom_device *d, unsigned k, struct iom_address *ret) {
        unsigned rid;

        if (!d || !ret || !d->sriov || k >= d->sriov_total_vfs)
                return -EINVAL;
        rid = (unsigned) d->address.bus << 8 | (unsigned) d->address.slot << 3 |
              d->address.function;
        rid += d->sriov_offset + k * d->sriov_stride;
        if (rid > 0xffff)
                return -ERANGE;
        *ret = (struct iom_address){
                .domain = d->address.domain,
                .bus = (uint8_t) (rid >> 8),
                .slot = (uint8_t) ((rid >> 3) & 0x1f),
                .function = (uint8_t) (rid & 7),
        };
        return 0;
}

int iom_device_read_names(struct iom_device *d, struct iom_pci *pci) {
        if (!d || !pci)
                return -EINVAL;
        d->vendor_name = iom_pci_vendor_name(pci, d->vendor_id);
        d->device_name = iom_pci_device_name(pci, d->vendor_id, d->device_id);
        d->class_name = iom_pci_class_name(pci, d->class);
        return 0;
}

int iom_device_read_config(struct iom_device *d, struct iom_pci *pci) {
        int r;

        if (!d || !pci)
                return -EINVAL;
        r = iom_pci_read_acs(pci, &d->address, &d->acs_capability, &d->acs_control);
        if (r < 0)
                return r;
        d->acs = r > 0;
        r = iom_pci_read_dsn(pci, &d->address, &d->dsn);
        if (r < 0)
                return r;
        d->has_dsn = r > 0;
        return 0;
}

int iom_device_new_from_udev(struct udev_device *ud, struct iom_pci *pci, struct iom_device **ret) {
        _cleanup_(iom_device_freep) struct iom_device *d = NULL;
        const char *syspath, *sysname;
        int64_t v;
        int r;

        if (!ud || !ret)
                return -EINVAL;
        syspath = udev_device_get_syspath(ud);
        sysname = udev_device_get_sysname(ud);
        if (!syspath || !sysname)
                return -EINVAL;

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        r = iom_address_parse(sysname, &d->address, NULL);
        if (r < 0)
                return iom_debug_errno(r, "%s: not a PCI address, ignoring", sysname);
        d->syspath = strdup(syspath);
        if (!d->syspath)
                return -ENOMEM;

        r = read_identity(d);
        if (r < 0)
                return r;
        read_header(d);
        r = read_binding(d);
        if (r < 0)
                return r;
        read_sriov(d);
        d->boot_vga = iom_sysfs_read_int64(syspath, "boot_vga", &v) >= 0 && v == 1;
        if (pci) {
                (void) iom_device_read_names(d, pci);
                r = iom_device_read_config(d, pci);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(d);
        return 0;
}

bool iom_device_is_bridge(const struct iom_device *d) {
        return d->header_type != PCI_HEADER_TYPE_NORMAL;
}

bool iom_driver_is_vfio(const char *driver) {
        /* vfio-pci and the variant drivers built on vfio-pci-core (mlx5_vfio_pci, ...). */
        return driver && (streq(driver, "vfio-pci") || strstr(driver, "vfio_pci"));
}

const char *iom_device_blocks_viability(const struct iom_device *d) {
        /* Since Linux 5.19 a group is viable when no driver of its devices claims DMA
         * ownership (iommu_group_dma_owner_claimed(), drivers/vfio/group.c): unbound devices
         * and drivers with driver_managed_dma (the VFIO drivers, pci-stub, pcieport) are fine.
         * Bridges are no longer exempt as such: shpchp on a conventional PCI bridge claims
         * DMA ownership and blocks its group, which older kernels did not check. */
        if (!d->driver || iom_driver_is_vfio(d->driver) || streq(d->driver, "pci-stub") ||
            streq(d->driver, "pcieport"))
                return NULL;
        return iom_device_is_bridge(d) ? "a bridge bound to a driver that claims DMA ownership"
                                       : "bound to a host driver";
}
