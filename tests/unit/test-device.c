/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device model, read from recorded hosts (tests/hosts/bridge and sriov) through libudev,
 * sysfs and libpci under umockdev; what the kernel's viability rule makes of drivers. */
#include <stdlib.h>

#include <libudev.h>

#include "fixture-host.h"
#include "fixture-sysfs.h"
#include "iom-device.h"
#include "iom-pci.h"
#include "tests.h"

#define E1000 "sys/devices/pci0000:00/0000:00:04.0/0000:05:01.0"      /* bound to e1000, group 3 */
#define E1000_IDLE "sys/devices/pci0000:00/0000:00:04.0/0000:05:02.0" /* unbound, group 3 */
#define BRIDGE "sys/devices/pci0000:00/0000:00:04.0"                  /* PCI-to-PCI bridge */
#define VGA "sys/devices/pci0000:00/0000:00:01.0"                     /* boot VGA, bochs-drm */
#define AHCI "sys/devices/pci0000:00/0000:00:1f.2"                    /* multifunction slot */
#define NVME_PF "sys/devices/pci0000:00/0000:00:03.0/0000:01:00.0"    /* sriov: 2 of 2 VFs */
#define NVME_VF "sys/devices/pci0000:00/0000:00:03.0/0000:01:00.1"

/* Reads the device at @path (below the testbed's root, "sys/devices/..."), with names and
 * config space from libpci when @pci; returns the library's result. */
static int read_device(const char *path, struct iom_pci *pci, struct iom_device **ret) {
        struct udev *udev = udev_new();
        struct udev_device *ud;
        _cleanup_free_ char *syspath = NULL;
        int r;

        if (!udev || asprintf(&syspath, "/%s", path) < 0)
                abort();
        ud = udev_device_new_from_syspath(udev, syspath);
        if (!ud) {
                fprintf(stderr,
                        "libudev does not see %s (is libumockdev-preload in "
                        "LD_PRELOAD?)\n",
                        syspath);
                abort();
        }
        r = iom_device_new_from_udev(ud, pci, ret);
        udev_device_unref(ud);
        udev_unref(udev);
        return r;
}

static void test_endpoint(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("bridge");
        _cleanup_(iom_pci_freep) struct iom_pci *pci = NULL;
        _cleanup_(iom_device_freep) struct iom_device *d = NULL;
        char buf[IOM_ADDRESS_STRING_MAX];

        ASSERT_EQ(iom_pci_new(&pci), 0);
        ASSERT_EQ(read_device(E1000, pci, &d), 0);
        ASSERT_STREQ(iom_address_format(&d->address, buf), "0000:05:01.0");
        ASSERT_STREQ(d->syspath, "/" E1000);
        ASSERT_EQ(d->vendor_id, 0x8086);
        ASSERT_EQ(d->device_id, 0x100e);
        ASSERT_EQ(d->subsystem_vendor_id, 0x1af4);
        ASSERT_EQ(d->subsystem_device_id, 0x1100);
        ASSERT_EQ(d->class, 0x020000);
        ASSERT_EQ(d->revision, 3);
        ASSERT_EQ(d->header_type, 0);
        ASSERT_TRUE(!d->multifunction);
        ASSERT_STREQ(d->vendor_name, "Intel Corporation");
        ASSERT_STREQ(d->device_name, "82540EM Gigabit Ethernet Controller");
        ASSERT_STREQ(d->class_name, "Ethernet controller");
        ASSERT_STREQ(d->driver, "e1000");
        ASSERT_TRUE(d->driver_override == NULL); /* "(null)" */
        ASSERT_TRUE(d->host_driver == NULL);
        ASSERT_EQ(d->iommu_group, 3);
        ASSERT_TRUE(d->group == NULL); /* set by the inventory */
        ASSERT_EQ(d->numa_node, -1);
        ASSERT_TRUE(d->reset_methods && d->reset_methods[0]);
        ASSERT_STREQ(d->reset_methods[0], "pm");
        ASSERT_TRUE(d->reset_methods[1] == NULL);
        ASSERT_TRUE(!d->boot_vga);
        ASSERT_TRUE(!d->sriov && !d->is_vf);
        ASSERT_TRUE(!d->acs && !d->has_dsn); /* conventional PCI: no extended capabilities */
        ASSERT_TRUE(!iom_device_is_bridge(d));
        ASSERT_STREQ(iom_device_blocks_viability(d), "bound to a host driver");
}

static void test_unbound_without_names(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("bridge");
        _cleanup_(iom_device_freep) struct iom_device *d = NULL;

        ASSERT_EQ(read_device(E1000_IDLE, NULL, &d), 0);
        ASSERT_EQ(d->device_id, 0x100e);
        ASSERT_TRUE(d->driver == NULL);
        ASSERT_TRUE(d->vendor_name == NULL && d->device_name == NULL && d->class_name == NULL);
        ASSERT_EQ(d->iommu_group, 3);
        ASSERT_TRUE(iom_device_blocks_viability(d) == NULL);
}

static void test_header_type(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("bridge");
        _cleanup_(iom_device_freep) struct iom_device *bridge = NULL, *ahci = NULL, *vga = NULL,
                                                      *guessed = NULL;

        ASSERT_EQ(read_device(BRIDGE, NULL, &bridge), 0);
        ASSERT_EQ(bridge->class, 0x060400);
        ASSERT_EQ(bridge->header_type, 1);
        ASSERT_TRUE(!bridge->multifunction);
        ASSERT_TRUE(iom_device_is_bridge(bridge));
        /* The multifunction bit (0x80) is not part of the type. */
        ASSERT_EQ(read_device(AHCI, NULL, &ahci), 0);
        ASSERT_EQ(ahci->header_type, 0);
        ASSERT_TRUE(ahci->multifunction);
        ASSERT_TRUE(!iom_device_is_bridge(ahci));
        ASSERT_EQ(read_device(VGA, NULL, &vga), 0);
        ASSERT_TRUE(vga->boot_vga);
        ASSERT_STREQ(vga->driver, "bochs-drm");
        /* Without a config space the class tells a bridge. */
        fixture_unlink(h->root, BRIDGE "/config");
        ASSERT_EQ(read_device(BRIDGE, NULL, &guessed), 0);
        ASSERT_EQ(guessed->header_type, 1);
}

static void test_binding_attributes(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("bridge");
        _cleanup_(iom_device_freep) struct iom_device *d = NULL, *cleared = NULL, *ungrouped = NULL;

        fixture_put(h->root, "vfio-pci\n", E1000 "/driver_override");
        fixture_put(h->root, "1\n", E1000 "/numa_node");
        fixture_put(h->root, "flr bus\n", E1000 "/reset_method");
        ASSERT_EQ(read_device(E1000, NULL, &d), 0);
        ASSERT_STREQ(d->driver_override, "vfio-pci");
        ASSERT_EQ(d->numa_node, 1);
        ASSERT_STREQ(d->reset_methods[0], "flr");
        ASSERT_STREQ(d->reset_methods[1], "bus");
        ASSERT_TRUE(d->reset_methods[2] == NULL);

        /* A cleared override reads as an empty line on some kernels; no reset method, no
         * file; a group link that does not end in a number is no group. */
        fixture_put(h->root, "\n", E1000 "/driver_override");
        fixture_unlink(h->root, E1000 "/reset_method");
        fixture_unlink(h->root, E1000 "/iommu_group");
        fixture_link(h->root, "sys/kernel/iommu_groups/3x", E1000 "/iommu_group");
        ASSERT_EQ(read_device(E1000, NULL, &cleared), 0);
        ASSERT_TRUE(cleared->driver_override == NULL);
        ASSERT_TRUE(cleared->reset_methods && cleared->reset_methods[0] == NULL);
        ASSERT_EQ(cleared->iommu_group, -1);

        fixture_unlink(h->root, E1000 "/iommu_group");
        fixture_put(h->root, "junk\n", E1000 "/numa_node");
        ASSERT_EQ(read_device(E1000, NULL, &ungrouped), 0);
        ASSERT_EQ(ungrouped->iommu_group, -1);
        ASSERT_EQ(ungrouped->numa_node, -1);
}

static void test_sriov(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("sriov");
        _cleanup_(iom_device_freep) struct iom_device *pf = NULL, *vf = NULL;
        char buf[IOM_ADDRESS_STRING_MAX];

        ASSERT_EQ(read_device(NVME_PF, NULL, &pf), 0);
        ASSERT_TRUE(pf->sriov);
        ASSERT_EQ(pf->sriov_total_vfs, 2);
        ASSERT_EQ(pf->sriov_num_vfs, 2);
        ASSERT_TRUE(!pf->is_vf);
        ASSERT_STREQ(pf->driver, "nvme");
        /* Where the VFs go, and their device id, before they exist (SetVFs asks the policy). */
        struct iom_address at;
        ASSERT_EQ(pf->sriov_offset, 1);
        ASSERT_EQ(pf->sriov_stride, 1);
        ASSERT_EQ(pf->sriov_vf_device, 0x0010);
        ASSERT_EQ(iom_device_vf_address(pf, 1, &at), 0);
        ASSERT_STREQ(iom_address_format(&at, buf), "0000:01:00.2");
        ASSERT_EQ(iom_device_vf_address(pf, 2, &at), -EINVAL);
        pf->sriov_total_vfs = 300;
        pf->sriov_stride = 256;
        ASSERT_EQ(iom_device_vf_address(pf, 1, &at), 0);
        ASSERT_STREQ(iom_address_format(&at, buf), "0000:02:00.1");
        ASSERT_EQ(iom_device_vf_address(pf, 255, &at), -ERANGE);
        ASSERT_EQ(read_device(NVME_VF, NULL, &vf), 0);
        ASSERT_EQ(iom_device_vf_address(vf, 0, &at), -EINVAL);
        ASSERT_TRUE(!vf->sriov);
        ASSERT_TRUE(vf->is_vf);
        ASSERT_STREQ(iom_address_format(&vf->physfn, buf), "0000:01:00.0");
        ASSERT_TRUE(vf->driver == NULL);
}

static void test_identity_errors(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("bridge");
        struct iom_device *d = NULL;

        /* The ids are 16 bits; vendor, device and class are required, the rest optional. */
        fixture_put(h->root, "0x10000\n", E1000 "/vendor");
        ASSERT_EQ(read_device(E1000, NULL, &d), -ERANGE);
        fixture_put(h->root, "0xffff\n", E1000 "/vendor");
        fixture_put(h->root, "-1\n", E1000 "/device");
        ASSERT_EQ(read_device(E1000, NULL, &d), -ERANGE);
        fixture_unlink(h->root, E1000 "/device");
        ASSERT_EQ(read_device(E1000, NULL, &d), -ENOENT);
        fixture_put(h->root, "0x100e\n", E1000 "/device");
        fixture_put(h->root, "ethernet\n", E1000 "/class");
        ASSERT_EQ(read_device(E1000, NULL, &d), -EINVAL);
        ASSERT_TRUE(d == NULL);
        ASSERT_EQ(iom_device_new_from_udev(NULL, NULL, &d), -EINVAL);
}

static void test_driver_is_vfio(void) {
        static const struct {
                const char *driver;
                bool vfio;
        } cases[] = {
                {"vfio-pci", true},
                {"mlx5_vfio_pci", true},
                {"hisi_acc_vfio_pci", true},
                {"vfio", false},
                {"vfio-pci-x", false},
                {"e1000e", false},
                {"pci-stub", false},
                {"", false},
                {NULL, false},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                fprintf(stderr, "# %s\n", strempty(cases[i].driver));
                ASSERT_EQ(iom_driver_is_vfio(cases[i].driver), cases[i].vfio);
        }
}

static void test_blocks_viability(void) {
        static const struct {
                const char *driver;
                uint8_t header_type;
                const char *reason;
        } cases[] = {
                {NULL, 0, NULL},
                {"vfio-pci", 0, NULL},
                {"mlx5_vfio_pci", 0, NULL},
                {"pci-stub", 0, NULL},
                {"pcieport", 1, NULL},
                {NULL, 1, NULL},
                {"e1000e", 0, "bound to a host driver"},
                {"shpchp", 1, "a bridge bound to a driver that claims DMA ownership"},
                {"yenta_cardbus", 2, "a bridge bound to a driver that claims DMA ownership"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct iom_device d = {
                        .driver = (char *) cases[i].driver,
                        .header_type = cases[i].header_type,
                };
                const char *reason = iom_device_blocks_viability(&d);

                fprintf(stderr, "# %s, header type %u\n", strempty(cases[i].driver),
                        cases[i].header_type);
                if (!cases[i].reason)
                        ASSERT_TRUE(reason == NULL);
                else
                        ASSERT_STREQ(reason, cases[i].reason);
        }
}

IOM_TEST_MAIN(IOM_TEST(test_endpoint), IOM_TEST(test_unbound_without_names),
              IOM_TEST(test_header_type), IOM_TEST(test_binding_attributes), IOM_TEST(test_sriov),
              IOM_TEST(test_identity_errors), IOM_TEST(test_driver_is_vfio),
              IOM_TEST(test_blocks_viability))
