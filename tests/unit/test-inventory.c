/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inventory: a scan of recorded hosts (tests/hosts/bridge and noiommu under umockdev),
 * lookups, and assembling one from parts as the CLI does. */
#include <stdlib.h>

#include "fixture-host.h"
#include "fixture-inventory.h"
#include "fixture-sysfs.h"
#include "iom-inventory.h"
#include "tests.h"

/* The devices of a group, by address, joined with blanks. */
static void members(const struct iom_group *g, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < g->n_devices; i++) {
                char a[IOM_ADDRESS_STRING_MAX];
                len += (size_t) snprintf(buf + len, size - len, "%s%s", i ? " " : "",
                                         iom_address_format(&g->devices[i]->address, a));
        }
}

static void test_scan_bridge(void) {
        static const char *const order[] = {
                "0000:00:00.0", "0000:00:01.0", "0000:00:04.0", "0000:00:1f.0",
                "0000:00:1f.2", "0000:00:1f.3", "0000:05:01.0", "0000:05:02.0",
        };
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("bridge");
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = NULL;
        char buf[256];

        ASSERT_EQ(iom_inventory_scan(&inv), 0);
        ASSERT_TRUE(inv->host && inv->host->groups_present && !inv->host->notice);
        ASSERT_TRUE(inv->host->kernel_parameters && inv->host->kernel_parameters[0]);
        ASSERT_STREQ(inv->host->kernel_parameters[0], "intel_iommu=on");

        /* Every function, sorted by address whatever order udev enumerates them in. */
        ASSERT_EQ(inv->n_devices, ELEMENTSOF(order));
        for (size_t i = 0; i < inv->n_devices; i++)
                ASSERT_STREQ(iom_address_format(&inv->devices[i]->address, buf), order[i]);

        /* Groups sorted by id, members by address, each device pointing at its group. */
        ASSERT_EQ(inv->n_groups, 4);
        ASSERT_EQ(inv->groups[0]->id, 0);
        ASSERT_EQ(inv->groups[1]->id, 1);
        ASSERT_EQ(inv->groups[2]->id, 3);
        ASSERT_EQ(inv->groups[3]->id, 4);
        members(inv->groups[2], buf, sizeof(buf));
        ASSERT_STREQ(buf, "0000:00:04.0 0000:05:01.0 0000:05:02.0");
        members(inv->groups[3], buf, sizeof(buf));
        ASSERT_STREQ(buf, "0000:00:1f.0 0000:00:1f.2 0000:00:1f.3");
        for (size_t i = 0; i < inv->n_devices; i++)
                ASSERT_TRUE(inv->devices[i]->group &&
                            inv->devices[i]->group->id == (unsigned) inv->devices[i]->iommu_group);

        /* The group's sysfs facts. */
        ASSERT_STREQ(inv->groups[2]->type, "DMA");
        ASSERT_EQ(inv->groups[2]->n_regions, 1);
        ASSERT_TRUE(inv->groups[2]->regions[0].start == 0xfee00000 &&
                    inv->groups[2]->regions[0].end == 0xfeefffff);
        ASSERT_EQ(inv->groups[2]->regions[0].type, IOM_REGION_MSI);
}

static void test_scan_viability(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("bridge");
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = NULL;
        const struct iom_group *g;
        char buf[IOM_ADDRESS_STRING_MAX];

        ASSERT_EQ(iom_inventory_scan(&inv), 0);
        /* The host bridge alone, unbound: viable. */
        g = iom_inventory_find_group(inv, 0);
        ASSERT_TRUE(g && g->viable && g->n_blockers == 0);
        /* Behind the bridge, the bound e1000 blocks; its unbound twin and the bridge do not. */
        g = iom_inventory_find_group(inv, 3);
        ASSERT_TRUE(g && !g->viable);
        ASSERT_EQ(g->n_blockers, 1);
        ASSERT_STREQ(iom_address_format(&g->blockers[0].address, buf), "0000:05:01.0");
        ASSERT_STREQ(g->blockers[0].driver, "e1000");
        ASSERT_STREQ(g->blockers[0].reason, "bound to a host driver");
        /* The three ICH9 functions, each bound. */
        g = iom_inventory_find_group(inv, 4);
        ASSERT_TRUE(g && !g->viable);
        ASSERT_EQ(g->n_blockers, 3);
        ASSERT_STREQ(g->blockers[0].driver, "lpc_ich");
        ASSERT_STREQ(g->blockers[1].driver, "ahci");
        ASSERT_STREQ(g->blockers[2].driver, "i801_smbus");
}

static void test_scan_sysfs_variants(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("bridge");
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = NULL;
        const struct iom_group *g;

        /* A group without a type file and one whose regions the lib cannot parse are still
         * listed; a device that loses its attributes meanwhile (unplugged) is skipped. */
        fixture_unlink(h->root, "sys/kernel/iommu_groups/1/type");
        fixture_put(h->root, "fee00000 feefffff msi\n",
                    "sys/kernel/iommu_groups/0/reserved_regions");
        fixture_unlink(h->root, "sys/kernel/iommu_groups/4/reserved_regions");
        fixture_unlink(h->root, "sys/devices/pci0000:00/0000:00:00.0/vendor");
        ASSERT_EQ(iom_inventory_scan(&inv), 0);
        ASSERT_EQ(inv->n_devices, 7);
        ASSERT_TRUE(iom_inventory_find_device(inv, &(struct iom_address){}) == NULL);
        ASSERT_EQ(inv->n_groups, 3); /* group 0 has no member left */
        g = iom_inventory_find_group(inv, 1);
        ASSERT_TRUE(g && g->type == NULL && g->n_regions == 1);
        g = iom_inventory_find_group(inv, 4);
        ASSERT_TRUE(g && g->n_regions == 0);
        ASSERT_STREQ(g->type, "DMA");
}

static void test_scan_without_groups(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("noiommu");
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = NULL;

        fixture_put(h->root, "console=ttyS0\n", "proc/cmdline");
        ASSERT_EQ(iom_inventory_scan(&inv), 0);
        ASSERT_TRUE(inv->n_devices > 0);
        ASSERT_EQ(inv->n_groups, 0);
        for (size_t i = 0; i < inv->n_devices; i++)
                ASSERT_TRUE(inv->devices[i]->iommu_group == -1 && !inv->devices[i]->group);
        ASSERT_TRUE(!inv->host->groups_present);
        ASSERT_STREQ(inv->host->notice,
                     "No IOMMU groups: the IOMMU is off. Enable VT-d or AMD-Vi in the firmware "
                     "and boot with intel_iommu=on (Intel) or amd_iommu=on (AMD).");
        ASSERT_EQ(iom_inventory_scan(NULL), -EINVAL);
}

static void test_find_every(void) {
        _cleanup_(fixture_host_freep) struct fixture_host *h = fixture_host_new("server");
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = NULL;

        /* Lookups (binary searches) find each device and group of a larger host, and nothing
         * at the function after each device, where the recording has none. */
        ASSERT_EQ(iom_inventory_scan(&inv), 0);
        ASSERT_EQ(inv->n_devices, 14);
        for (size_t i = 0; i < inv->n_devices; i++) {
                struct iom_device *d = inv->devices[i], *after = NULL;
                struct iom_address next = d->address;

                ASSERT_TRUE(iom_inventory_find_device(inv, &d->address) == d);
                if (next.function == 7)
                        continue;
                next.function++;
                if (i + 1 < inv->n_devices &&
                    iom_address_equal(&inv->devices[i + 1]->address, &next))
                        after = inv->devices[i + 1];
                ASSERT_TRUE(iom_inventory_find_device(inv, &next) == after);
        }
        for (size_t i = 0; i < inv->n_groups; i++) {
                const struct iom_group *g = inv->groups[i], *after = NULL;

                ASSERT_TRUE(iom_inventory_find_group(inv, g->id) == g);
                if (i + 1 < inv->n_groups && inv->groups[i + 1]->id == g->id + 1)
                        after = inv->groups[i + 1];
                ASSERT_TRUE(iom_inventory_find_group(inv, g->id + 1) == after);
        }
}

/* A host of three groups given out of order, as the CLI receives them from the daemon. */
static const struct fixture_device parts[] = {
        {"0000:03:00.0", 0x8086, 0x10d3, 7, "vfio-pci", 0},
        {"0000:00:1c.0", 0x8086, 0x2948, 7, "pcieport", 1},
        {"0000:01:00.1", 0x10de, 0x10f0, 2, NULL, 0},
        {"0000:01:00.0", 0x10de, 0x1b80, 2, "nouveau", 0},
        {"0000:00:1f.3", 0x8086, 0x2930, -1, "i801_smbus", 0},
};

static void test_find(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv =
                fixture_inventory(parts, ELEMENTSOF(parts));
        struct iom_address a;
        const struct iom_device *d;

        a = fixture_address("01:00.1");
        d = iom_inventory_find_device(inv, &a);
        ASSERT_TRUE(d && d->device_id == 0x10f0);
        a = fixture_address("0000:01:00.2");
        ASSERT_TRUE(iom_inventory_find_device(inv, &a) == NULL);
        a = fixture_address("0001:01:00.0"); /* another domain */
        ASSERT_TRUE(iom_inventory_find_device(inv, &a) == NULL);
        ASSERT_TRUE(iom_inventory_find_device(inv, NULL) == NULL);
        ASSERT_TRUE(iom_inventory_find_device(NULL, &a) == NULL);
        ASSERT_EQ(iom_inventory_find_group(inv, 7)->id, 7);
        ASSERT_TRUE(iom_inventory_find_group(inv, 3) == NULL);
        ASSERT_TRUE(iom_inventory_find_group(NULL, 7) == NULL);
}

static void test_link(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv =
                fixture_inventory(parts, ELEMENTSOF(parts));
        char buf[128];

        /* Groups are made for the devices that name them, a device without one joins none. */
        ASSERT_EQ(inv->n_groups, 2);
        ASSERT_EQ(inv->groups[0]->id, 2);
        ASSERT_EQ(inv->groups[1]->id, 7);
        members(inv->groups[0], buf, sizeof(buf));
        ASSERT_STREQ(buf, "0000:01:00.0 0000:01:00.1");
        members(inv->groups[1], buf, sizeof(buf));
        ASSERT_STREQ(buf, "0000:00:1c.0 0000:03:00.0");
        ASSERT_STREQ(iom_address_format(&inv->devices[0]->address, buf), "0000:00:1c.0");
        ASSERT_STREQ(iom_address_format(&inv->devices[1]->address, buf), "0000:00:1f.3");
        ASSERT_TRUE(inv->devices[1]->group == NULL);
        ASSERT_TRUE(inv->groups[1]->viable);
        ASSERT_TRUE(!inv->groups[0]->viable);

        /* Linking again (after a change) rebuilds the membership instead of adding to it. */
        inv->devices[4]->iommu_group = 9; /* 0000:03:00.0 moves to a new group */
        ASSERT_EQ(iom_inventory_link(inv), 0);
        ASSERT_EQ(inv->n_groups, 3);
        members(inv->groups[0], buf, sizeof(buf));
        ASSERT_STREQ(buf, "0000:01:00.0 0000:01:00.1");
        members(inv->groups[1], buf, sizeof(buf));
        ASSERT_STREQ(buf, "0000:00:1c.0");
        members(inv->groups[2], buf, sizeof(buf));
        ASSERT_STREQ(buf, "0000:03:00.0");
        ASSERT_TRUE(inv->devices[4]->group == inv->groups[2]);
}

static void test_add(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = iom_inventory_new();
        struct iom_group *g = iom_group_new(5);

        ASSERT_TRUE(inv && g);
        /* Groups given before linking are kept, with their facts, and filled. */
        g->type = strdup("identity");
        ASSERT_EQ(iom_inventory_add_group(inv, g), 0);
        struct iom_device *d = calloc(1, sizeof(*d));
        ASSERT_TRUE(d);
        d->address = fixture_address("0000:02:00.0");
        d->iommu_group = 5;
        ASSERT_EQ(iom_inventory_add_device(inv, d), 0);
        ASSERT_EQ(iom_inventory_link(inv), 0);
        ASSERT_EQ(inv->n_groups, 1);
        ASSERT_STREQ(inv->groups[0]->type, "identity");
        ASSERT_EQ(inv->groups[0]->n_devices, 1);
        ASSERT_TRUE(inv->groups[0]->devices[0] == d && d->group == inv->groups[0]);

        ASSERT_EQ(iom_inventory_add_device(NULL, calloc(1, sizeof(struct iom_device))), -EINVAL);
        ASSERT_EQ(iom_inventory_add_device(inv, NULL), -EINVAL);
        ASSERT_EQ(iom_inventory_add_group(NULL, iom_group_new(6)), -EINVAL);
        ASSERT_EQ(iom_inventory_add_group(inv, NULL), -EINVAL);
        ASSERT_EQ(iom_inventory_link(NULL), -EINVAL);
        ASSERT_EQ(inv->n_devices, 1);
        ASSERT_EQ(inv->n_groups, 1);
}

static struct iom_device *new_device(const char *address, int group) {
        struct iom_device *d = calloc(1, sizeof(*d));

        if (!d)
                abort(); /* test setup */
        d->address = fixture_address(address);
        d->iommu_group = group;
        return d;
}

/* Hot-plug changes a linked inventory in place: it stays sorted, linked and searchable. */
static void test_insert_take(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv =
                fixture_inventory(parts, ELEMENTSOF(parts));
        struct iom_device *d;
        struct iom_group *g;
        char buf[128];

        /* A device in a new group: the group first, then the device, each in its place. */
        ASSERT_EQ(iom_inventory_insert_group(inv, iom_group_new(4)), 0);
        ASSERT_EQ(inv->n_groups, 3);
        ASSERT_EQ(inv->groups[1]->id, 4);
        d = new_device("0000:02:00.0", 4);
        ASSERT_EQ(iom_inventory_insert_device(inv, d), 0);
        ASSERT_EQ(inv->n_devices, 6);
        for (size_t i = 1; i < inv->n_devices; i++)
                ASSERT_TRUE(iom_address_compare(&inv->devices[i - 1]->address,
                                                &inv->devices[i]->address) < 0);
        ASSERT_TRUE(iom_inventory_find_device(inv, &d->address) == d);
        ASSERT_TRUE(d->group == iom_inventory_find_group(inv, 4) && d->group->n_devices == 1);

        /* A second member joins its group in address order; first and last places work. */
        ASSERT_EQ(iom_inventory_insert_device(inv, new_device("0000:00:00.0", 7)), 0);
        ASSERT_EQ(iom_inventory_insert_device(inv, new_device("0000:ff:1f.7", -1)), 0);
        members(iom_inventory_find_group(inv, 7), buf, sizeof(buf));
        ASSERT_STREQ(buf, "0000:00:00.0 0000:00:1c.0 0000:03:00.0");
        ASSERT_STREQ(iom_address_format(&inv->devices[0]->address, buf), "0000:00:00.0");
        ASSERT_STREQ(iom_address_format(&inv->devices[inv->n_devices - 1]->address, buf),
                     "0000:ff:1f.7");

        /* Refused: an address or id already there, a group the inventory lacks. */
        ASSERT_EQ(iom_inventory_insert_device(inv, new_device("0000:02:00.0", 4)), -EEXIST);
        ASSERT_EQ(iom_inventory_insert_device(inv, new_device("0000:05:00.0", 9)), -ENOENT);
        ASSERT_EQ(iom_inventory_insert_group(inv, iom_group_new(7)), -EEXIST);
        ASSERT_EQ(iom_inventory_insert_device(NULL, new_device("0000:05:00.0", -1)), -EINVAL);
        ASSERT_EQ(iom_inventory_insert_group(inv, NULL), -EINVAL);
        ASSERT_EQ(inv->n_devices, 8);
        ASSERT_EQ(inv->n_groups, 3);

        /* Taking a device takes it out of its group; a group goes only once empty. */
        ASSERT_TRUE(iom_inventory_take_group(inv, 4) == NULL);
        d = iom_inventory_take_device(inv, &(struct iom_address){.bus = 2});
        ASSERT_TRUE(d && d->group == NULL);
        iom_device_free(d);
        ASSERT_TRUE(iom_inventory_find_group(inv, 4)->n_devices == 0);
        g = iom_inventory_take_group(inv, 4);
        ASSERT_TRUE(g && g->id == 4);
        iom_group_free(g);
        ASSERT_TRUE(iom_inventory_find_group(inv, 4) == NULL);
        iom_device_free(iom_inventory_take_device(inv, &inv->devices[0]->address));
        members(iom_inventory_find_group(inv, 7), buf, sizeof(buf));
        ASSERT_STREQ(buf, "0000:00:1c.0 0000:03:00.0");
        ASSERT_TRUE(iom_inventory_take_device(inv, &(struct iom_address){.bus = 2}) == NULL);
        ASSERT_EQ(inv->n_devices, 6);
        for (size_t i = 0; i < inv->n_devices; i++)
                ASSERT_TRUE(iom_inventory_find_device(inv, &inv->devices[i]->address) ==
                            inv->devices[i]);
}

IOM_TEST_MAIN(IOM_TEST(test_scan_bridge), IOM_TEST(test_scan_viability),
              IOM_TEST(test_scan_sysfs_variants), IOM_TEST(test_scan_without_groups),
              IOM_TEST(test_find_every), IOM_TEST(test_find), IOM_TEST(test_link),
              IOM_TEST(test_add), IOM_TEST(test_insert_take))
