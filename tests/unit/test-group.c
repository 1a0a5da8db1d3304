/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* IOMMU groups: reserved_regions parsing and the kernel's viability rule. */
#include <stdlib.h>

#include "iom-group.h"
#include "tests.h"

static void test_regions_parse(void) {
        struct iom_region *r = NULL;
        size_t n = 0;

        ASSERT_EQ(iom_regions_parse("0x00000000fee00000 0x00000000feefffff msi\n"
                                    "0x00000000000a0000 0x00000000000bffff direct-relaxable\n"
                                    "0x0000008000000000 0x00000080ffffffff reserved\n",
                                    &r, &n, NULL),
                  0);
        ASSERT_EQ(n, 3);
        ASSERT_TRUE(r[0].start == 0xfee00000ull && r[0].end == 0xfeefffffull);
        ASSERT_EQ(r[0].type, IOM_REGION_MSI);
        ASSERT_EQ(r[1].type, IOM_REGION_DIRECT_RELAXABLE);
        ASSERT_EQ(r[2].type, IOM_REGION_RESERVED);
        ASSERT_TRUE(r[2].start == 0x8000000000ull);
        free(r);

        ASSERT_EQ(iom_regions_parse("", &r, &n, NULL), 0);
        ASSERT_EQ(n, 0);
        free(r);
}

static void test_regions_reject(void) {
        static const struct {
                const char *text;
                unsigned line;
        } bad[] = {
                {"0xfee00000 0xfeefffff bogus\n", 1},
                {"0x0 0x1000 direct\nfee00000 feefffff msi\n", 2},
                {"0x2000 0x1000 direct\n", 1},
                {"0x0 0x1000\n", 1},
                {"0x0 0x1000 msi extra\n", 1},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct iom_region *r = NULL;
                size_t n = 0;
                unsigned line = 0;

                ASSERT_EQ(iom_regions_parse(bad[i].text, &r, &n, &line), -EINVAL);
                ASSERT_EQ(line, bad[i].line);
        }
}

static void test_region_type_strings(void) {
        for (int t = 0; t < _IOM_REGION_TYPE_MAX; t++)
                ASSERT_EQ(iom_region_type_from_string(iom_region_type_to_string(t)), t);
        ASSERT_EQ(iom_region_type_from_string("MSI"), _IOM_REGION_TYPE_INVALID);
        ASSERT_TRUE(iom_region_type_to_string(_IOM_REGION_TYPE_MAX) == NULL);
}

static struct iom_device make_device(const char *address, const char *driver, uint8_t header) {
        struct iom_device d = {.header_type = header, .driver = (char *) driver};
        (void) iom_address_parse(address, &d.address, NULL);
        return d;
}

static void test_viability(void) {
        struct iom_device bridge = make_device("0000:00:1e.0", "pcieport", 1);
        struct iom_device gpu = make_device("0000:01:00.0", "vfio-pci", 0);
        struct iom_device audio = make_device("0000:01:00.1", "snd_hda_intel", 0);
        struct iom_device unbound = make_device("0000:01:00.2", NULL, 0);
        struct iom_device stub = make_device("0000:01:00.3", "pci-stub", 0);
        struct iom_group *g = iom_group_new(7);

        ASSERT_TRUE(g);
        /* Added out of order: members are kept sorted. */
        ASSERT_EQ(iom_group_add_device(g, &audio), 0);
        ASSERT_EQ(iom_group_add_device(g, &bridge), 0);
        ASSERT_EQ(iom_group_add_device(g, &gpu), 0);
        ASSERT_EQ(iom_group_add_device(g, &unbound), 0);
        ASSERT_EQ(iom_group_add_device(g, &stub), 0);
        ASSERT_TRUE(g->devices[0] == &bridge && g->devices[1] == &gpu && g->devices[2] == &audio);

        /* A host-driver-bound peer blocks; the bridge on pcieport does not. */
        ASSERT_EQ(iom_group_update_viability(g), 0);
        ASSERT_TRUE(!g->viable);
        ASSERT_EQ(g->n_blockers, 1);
        ASSERT_TRUE(iom_address_equal(&g->blockers[0].address, &audio.address));
        ASSERT_STREQ(g->blockers[0].driver, "snd_hda_intel");

        /* Once the peer is on vfio-pci the group is viable, bridge and all. */
        audio.driver = (char *) "vfio-pci";
        ASSERT_EQ(iom_group_update_viability(g), 0);
        ASSERT_TRUE(g->viable);
        ASSERT_EQ(g->n_blockers, 0);

        /* A bridge on shpchp claims DMA ownership (Linux 5.19+): it blocks too. */
        bridge.driver = (char *) "shpchp";
        ASSERT_EQ(iom_group_update_viability(g), 0);
        ASSERT_TRUE(!g->viable);
        ASSERT_STREQ(g->blockers[0].reason, "a bridge bound to a driver that claims DMA ownership");
        iom_group_free(g);
}

static void test_vfio_drivers(void) {
        ASSERT_TRUE(iom_driver_is_vfio("vfio-pci"));
        ASSERT_TRUE(iom_driver_is_vfio("mlx5_vfio_pci"));
        ASSERT_TRUE(!iom_driver_is_vfio("vfio"));
        ASSERT_TRUE(!iom_driver_is_vfio("e1000e"));
        ASSERT_TRUE(!iom_driver_is_vfio(NULL));
}

IOM_TEST_MAIN(IOM_TEST(test_regions_parse), IOM_TEST(test_regions_reject),
              IOM_TEST(test_region_type_strings), IOM_TEST(test_viability),
              IOM_TEST(test_vfio_drivers))
