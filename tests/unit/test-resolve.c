/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Naming devices and groups: addresses, ids, group numbers, and the errors for the rest. */
#include <stdlib.h>

#include "fixture-inventory.h"
#include "iom-resolve.h"
#include "macro.h"
#include "tests.h"

static struct iom_inventory *make_inventory(void) {
        static const struct fixture_device devices[] = {
                {"0000:01:00.0", 0x1002, 0x73bf, 1, NULL, 0},
                {"0000:01:00.1", 0x1002, 0xab28, 1, NULL, 0},
                {"0000:02:00.0", 0x8086, 0x10d3, 2, NULL, 0},
                {"0000:03:00.0", 0x8086, 0x10d3, 3, NULL, 0},
                {"0000:04:00.0", 0x144d, 0xa808, -1, NULL, 0},
        };
        return fixture_inventory(devices, ELEMENTSOF(devices));
}

static void test_resolve_names(void) {
        struct iom_inventory *inv = make_inventory();
        struct iom_device *d;
        struct iom_group *g;
        char buf[IOM_ADDRESS_STRING_MAX];

        ASSERT_EQ(inv->n_groups, 3);
        ASSERT_EQ(iom_inventory_resolve(inv, "01:00.1", &d, &g, NULL), 0);
        ASSERT_STREQ(iom_address_format(&d->address, buf), "0000:01:00.1");
        ASSERT_TRUE(g == NULL);
        ASSERT_EQ(iom_inventory_resolve(inv, "1002:73BF", &d, &g, NULL), 0);
        ASSERT_STREQ(iom_address_format(&d->address, buf), "0000:01:00.0");
        ASSERT_EQ(iom_inventory_resolve(inv, "1", &d, &g, NULL), 0);
        ASSERT_TRUE(d == NULL && g && g->id == 1 && g->n_devices == 2);
        /* Without a place for a group, a number is not a device name. */
        ASSERT_EQ(iom_inventory_resolve(inv, "1", &d, NULL, NULL), -EINVAL);
        iom_inventory_free(inv);
}

static void test_resolve_errors(void) {
        static const struct {
                const char *spec;
                int error;
                const char *message;
        } table[] = {
                {"99:99.9", -EINVAL,
                 "'99:99.9' is not a PCI address: the slot (device) must be 00-1f"},
                {"nonsense", -EINVAL,
                 "'nonsense' is not a PCI address: expected hexadecimal digits, as in "
                 "0000:01:00.0"},
                {"05:00.0", -ENOENT, "no PCI device at 0000:05:00.0"},
                {"9", -ENOENT, "'9': no such IOMMU group"},
                {"8086:10d3", -ENOTUNIQ,
                 "'8086:10d3': 2 devices have this vendor:device id, name one by its address"},
                {"dead:beef", -ENOENT, "'dead:beef': no device has this vendor:device id"},
        };
        struct iom_inventory *inv = make_inventory();

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *error = NULL;
                struct iom_device *d;
                struct iom_group *g;

                ASSERT_EQ(iom_inventory_resolve(inv, table[i].spec, &d, &g, &error),
                          table[i].error);
                ASSERT_STREQ(error, table[i].message);
        }
        iom_inventory_free(inv);
}

IOM_TEST_MAIN(IOM_TEST(test_resolve_names), IOM_TEST(test_resolve_errors))
