/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PCI device model: what sysfs, libudev and pci.ids say about one function. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "iom-address.h"
#include "macro.h"

struct udev_device;
struct iom_pci;
struct iom_group;

struct iom_device {
        struct iom_address address;
        char *syspath; /* NULL when the model came from the daemon */

        uint16_t vendor_id, device_id;
        uint16_t subsystem_vendor_id, subsystem_device_id;
        uint32_t class; /* 24 bits: class, subclass, programming interface */
        uint8_t revision;
        uint8_t header_type; /* without the multifunction bit: 0 endpoint, 1 bridge, 2 CardBus */
        char *vendor_name, *device_name, *class_name; /* NULL when pci.ids does not know */

        char *driver;            /* NULL when unbound */
        char *driver_override;   /* NULL when unset */
        char *host_driver;       /* while assigned: the driver release returns it to */
        int iommu_group;         /* -1 when the device has none */
        struct iom_group *group; /* set by iom_inventory_link(), NULL without one */
        int numa_node;           /* -1 when unknown */
        char **reset_methods;    /* NULL-terminated, may be empty */
        /* From the daemon: the reset method a release will use while a guest owns it, and
         * the method and result of its last reset (NULL: none). */
        char *reset_method, *last_reset_method, *last_reset_result;

        bool multifunction;
        bool boot_vga;

        bool sriov; /* has the SR-IOV capability */
        unsigned sriov_total_vfs, sriov_num_vfs;
        /* Where VF k sits: routing ID of the PF + offset + k * stride (PCIe SR-IOV 1.1, 3.3.9
         * and 3.3.10); and the device id every VF has. */
        unsigned sriov_offset, sriov_stride;
        uint16_t sriov_vf_device;
        bool is_vf; /* has a physical function */
        struct iom_address physfn;

        bool has_dsn; /* has the Device Serial Number capability */
        uint64_t dsn;

        bool acs; /* has the ACS capability */
        uint16_t acs_capability, acs_control;
};

/* Fills a device from its udev device; @pci may be NULL to skip names and config space. */
int iom_device_new_from_udev(struct udev_device *d, struct iom_pci *pci, struct iom_device **ret);
/* What libpci adds, in two parts: names from pci.ids (no I/O on the device: the first call
 * loads the database, about 30 ms, so keep one @pci for many devices), and the ACS and DSN
 * capabilities from config space (which can wait while the device is reset). */
int iom_device_read_names(struct iom_device *d, struct iom_pci *pci);
int iom_device_read_config(struct iom_device *d, struct iom_pci *pci);
struct iom_device *iom_device_free(struct iom_device *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct iom_device *, iom_device_free);

/* PCI bridges and CardBus bridges (non-zero header type): a guest has no use for them. */
bool iom_device_is_bridge(const struct iom_device *d);

/* Why this device keeps its group from being assigned, as the kernel decides: it must have no
 * driver or one that manages DMA ownership itself (VFIO drivers, pci-stub, pcieport); NULL
 * when it does not block. */
const char *iom_device_blocks_viability(const struct iom_device *d);

/* The address VF @k of the PF @d will have (@k < its total VFs); -EINVAL for a device
 * without SR-IOV, -ERANGE when the VF would fall past the last bus. */
int iom_device_vf_address(const struct iom_device *d, unsigned k, struct iom_address *ret);

/* Whether @driver is a VFIO driver (vfio-pci and its variant drivers). */
bool iom_driver_is_vfio(const char *driver);
