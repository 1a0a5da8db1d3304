/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host facts: the IOMMU kernel parameters, the no-groups notice, and interrupt remapping read
 * from a umockdev testbed (the IOMMU units' registers, or a /proc/interrupts of 2 MiB). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture-sysfs.h"
#include "iom-host.h"
#include "macro.h"
#include "tests.h"

/* After macro.h: glib replaces its MIN and MAX without a warning, not the other way round. */
#include <umockdev.h>

static void test_cmdline(void) {
        _cleanup_strv_free_ char **p = NULL;
        bool acs = true;

        ASSERT_EQ(iom_cmdline_parse("BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on iommu=pt "
                                    "quiet vfio-pci.ids=10de:1b80\n",
                                    &p, &acs),
                  0);
        ASSERT_STREQ(p[0], "intel_iommu=on");
        ASSERT_STREQ(p[1], "iommu=pt");
        ASSERT_STREQ(p[2], "vfio-pci.ids=10de:1b80");
        ASSERT_TRUE(p[3] == NULL);
        ASSERT_TRUE(!acs);
}

static void test_acs_override(void) {
        _cleanup_strv_free_ char **p = NULL;
        bool acs = false;

        ASSERT_EQ(iom_cmdline_parse("amd_iommu=on pcie_acs_override=downstream,multifunction", &p,
                                    &acs),
                  0);
        ASSERT_TRUE(acs);
        ASSERT_STREQ(p[1], "pcie_acs_override=downstream,multifunction");
}

static void test_notice(void) {
        _cleanup_free_ char *off = NULL, *plain = NULL;
        char *params[] = {(char *) "iommu=pt", (char *) "intel_iommu=off", NULL};

        off = iom_host_notice(params);
        ASSERT_STREQ(off, "No IOMMU groups: the kernel command line turns the IOMMU off "
                          "(intel_iommu=off).");
        plain = iom_host_notice(NULL);
        ASSERT_TRUE(plain && strstr(plain, "intel_iommu=on") && strstr(plain, "amd_iommu=on"));
}

/* A host of @cmdline whose /proc/interrupts is @lines lines of a 64-CPU machine (2 MiB for
 * 2800), the last with the chip @last_chip; reads its facts into @ret (NULL on failure). */
static void host_read(UMockdevTestbed *testbed, const char *cmdline, size_t lines,
                      const char *last_chip, struct iom_host **ret) {
        char *root = umockdev_testbed_get_root_dir(testbed);
        _cleanup_free_ char *proc = NULL, *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        *ret = NULL;
        ASSERT_TRUE(f);
        for (size_t i = 0; i < lines; i++) {
                fprintf(f, "%4zu:", 24 + i);
                for (int cpu = 0; cpu < 64; cpu++)
                        fprintf(f, " %10d", cpu == 0 ? 1 : 0);
                fprintf(f, "  %s-0000:11:%02zx.%zu 0-edge      iavf-0000:11:%02zx.%zu:mbx\n",
                        i + 1 == lines ? last_chip : "PCI-MSIX", i / 8 % 32, i % 8, i / 8 % 32,
                        i % 8);
        }
        ASSERT_EQ(fclose(f), 0);
        fixture_put(root, text, "proc/interrupts");
        fixture_put(root, cmdline, "proc/cmdline");
        ASSERT_TRUE(asprintf(&proc, "%s/proc", root) > 0);
        g_free(root);
        ASSERT_EQ(setenv("IOMMUD_PROC_ROOT", proc, 1), 0);
        ASSERT_EQ(iom_host_read(ret), 0);
}

static UMockdevTestbed *testbed_with_unit(const char *name, const char *type, const char *file,
                                          const char *value) {
        UMockdevTestbed *testbed = umockdev_testbed_new();
        char *root = umockdev_testbed_get_root_dir(testbed);

        if (file)
                fixture_put(root, value, "sys/class/iommu/%s/%s-iommu/%s", name, type, file);
        else
                fixture_put(root, "", "sys/class/iommu/%s/uevent", name);
        g_free(root);
        return testbed;
}

static void testbed_free(UMockdevTestbed *testbed) {
        char *root = umockdev_testbed_get_root_dir(testbed);

        g_object_unref(testbed);
        fixture_remove(root); /* what the test added; umockdev removes its own */
        g_free(root);
}

static void test_remapping_from_registers(void) {
        static const struct {
                const char *type, *file, *value, *cmdline, *chip;
                bool remapping;
        } cases[] = {
                /* ECAP of a Sapphire Rapids unit, and of QEMU 7.2's intel-iommu,intremap=on:
                 * the unit can remap, and the kernel did. */
                {"intel", "ecap", "19ed008c40f0df\n", "intel_iommu=on\n", "IR-PCI-MSIX", true},
                {"intel", "ecap", "f00f4a\n", "intel_iommu=on\n", "IR-PCI-MSIX", true},
                /* Bit 3 clear: the unit cannot remap, whatever the irq chips say. */
                {"intel", "ecap", "f00f42\n", "intel_iommu=on\n", "IR-PCI-MSIX", false},
                /* The unit can, the kernel did not (intremap=off, the firmware, an erratum):
                 * the irq chips say so. */
                {"intel", "ecap", "f00f4a\n", "intel_iommu=on intremap=off\n", "PCI-MSIX", false},
                {"intel", "ecap", "f00f4a\n", "intel_iommu=on\n", "PCI-MSIX", false},
                {"amd", "features", "25bf732fa2295afe:0\n", "amd_iommu=on\n", "IR-PCI-MSIX", true},
                {"amd", "features", "25bf732fa2295afe\n", "intremap=off\n", "PCI-MSIX", false},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                UMockdevTestbed *testbed =
                        testbed_with_unit("unit0", cases[i].type, cases[i].file, cases[i].value);
                struct iom_host *h;

                host_read(testbed, cases[i].cmdline, 4, cases[i].chip, &h);
                ASSERT_TRUE(h);
                ASSERT_EQ(h->n_units, 1u);
                ASSERT_STREQ(h->units[0].type, cases[i].type);
                ASSERT_EQ(h->interrupt_remapping, cases[i].remapping);
                iom_host_free(h);
                testbed_free(testbed);
        }
}

static void test_remapping_from_big_interrupts(void) {
        /* No register to read (a virtio-iommu unit): /proc/interrupts is streamed to its end,
         * 2 MiB, where the only remapped chip is. */
        UMockdevTestbed *testbed = testbed_with_unit("virtio-iommu0", "other", NULL, NULL);
        struct iom_host *h;

        host_read(testbed, "iommu.passthrough=1\n", 2800, "IR-PCI-MSIX", &h);
        ASSERT_TRUE(h && h->interrupt_remapping);
        iom_host_free(h);
        host_read(testbed, "iommu.passthrough=1\n", 2800, "PCI-MSIX", &h);
        ASSERT_TRUE(h && !h->interrupt_remapping);
        iom_host_free(h);
        testbed_free(testbed);
}

IOM_TEST_MAIN(IOM_TEST(test_cmdline), IOM_TEST(test_acs_override), IOM_TEST(test_notice),
              IOM_TEST(test_remapping_from_registers), IOM_TEST(test_remapping_from_big_interrupts))
