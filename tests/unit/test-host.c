/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host facts: the IOMMU kernel parameters and the no-groups notice. */
#include <stdlib.h>

#include "iom-host.h"
#include "macro.h"
#include "tests.h"

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

IOM_TEST_MAIN(IOM_TEST(test_cmdline), IOM_TEST(test_acs_override), IOM_TEST(test_notice))
