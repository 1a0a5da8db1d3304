/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Planning assign, release and rebind: whole groups, peers named, owners checked. */
#include <stdlib.h>
#include <string.h>

#include "fixture-inventory.h"
#include "iom-plan.h"
#include "macro.h"
#include "tests.h"

/* A workstation: display + audio in group 1, a bridge group (bridge + two NICs), an NVMe. */
static struct iom_inventory *workstation(void) {
        static const struct fixture_device devices[] = {
                {"0000:01:00.0", 0x1234, 0x1111, 1, "bochs-drm", 0},
                {"0000:01:00.1", 0x8086, 0x293e, 1, "snd_hda_intel", 0},
                {"0000:02:00.0", 0x1b36, 0x0001, 2, "shpchp", 1},
                {"0000:03:01.0", 0x8086, 0x10d3, 2, "e1000e", 0},
                {"0000:03:02.0", 0x8086, 0x10d3, 2, "e1000e", 0},
                {"0000:04:00.0", 0x1b36, 0x0010, 3, "nvme", 0},
                {"0000:05:00.0", 0x1af4, 0x1041, -1, "virtio-pci", 0},
                {"0000:06:00.0", 0x8086, 0x7450, 4, "pcieport", 1},
        };
        return fixture_inventory(devices, ELEMENTSOF(devices));
}

static void test_assign_takes_group_peers(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = workstation();
        _cleanup_(iom_plan_freep) struct iom_plan *p = NULL;
        char *devices[] = {(char *) "03:01.0", NULL};
        char buf[IOM_ADDRESS_STRING_MAX];

        ASSERT_EQ(iom_plan_assign(inv, "win11", devices, &p, NULL), 0);
        ASSERT_EQ(p->n_groups, 1);
        ASSERT_EQ(p->groups[0], 2);
        /* Both endpoints go to vfio-pci, the peer marked as brought along; the bridge's
         * shpchp claims DMA ownership, so it is unbound. */
        ASSERT_EQ(p->n_steps, 3);
        ASSERT_STREQ(iom_address_format(&p->steps[0].address, buf), "0000:02:00.0");
        ASSERT_STREQ(p->steps[0].from, "shpchp");
        ASSERT_TRUE(p->steps[0].to == NULL);
        ASSERT_STREQ(iom_address_format(&p->steps[1].address, buf), "0000:03:01.0");
        ASSERT_TRUE(p->steps[1].named);
        ASSERT_STREQ(p->steps[1].from, "e1000e");
        ASSERT_STREQ(p->steps[1].to, "vfio-pci");
        ASSERT_STREQ(iom_address_format(&p->steps[2].address, buf), "0000:03:02.0");
        ASSERT_TRUE(!p->steps[2].named);
        ASSERT_STREQ(iom_address_format(&p->steps[2].named_by, buf), "0000:03:01.0");
        ASSERT_STREQ(iom_plan_step_reason(&p->steps[1]), "named");
        ASSERT_STREQ(iom_plan_step_reason(&p->steps[2]), "peer");
}

/* A client reads a step's reason back from its kind and device: data, no prose. */
static void test_step_set_reason(void) {
        struct iom_plan_step s = {};
        char buf[IOM_ADDRESS_STRING_MAX];

        ASSERT_EQ(iom_address_parse("0000:03:02.0", &s.address, NULL), 0);
        ASSERT_EQ(iom_plan_step_set_reason(&s, "peer", "03:01.0"), 0);
        ASSERT_TRUE(!s.named);
        ASSERT_STREQ(iom_address_format(&s.named_by, buf), "0000:03:01.0");
        ASSERT_EQ(iom_plan_step_set_reason(&s, "named", ""), 0);
        ASSERT_TRUE(s.named);
        ASSERT_EQ(iom_plan_step_set_reason(&s, "peer", ""), -EBADMSG);
        ASSERT_EQ(iom_plan_step_set_reason(&s, "group peer of 0000:03:01.0", ""), -EBADMSG);
}

static void test_assign_two_functions_one_group(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = workstation();
        _cleanup_(iom_plan_freep) struct iom_plan *p = NULL;
        char *devices[] = {(char *) "01:00.1", (char *) "0000:01:00.0", NULL};
        size_t first;

        ASSERT_EQ(iom_plan_assign(inv, "win11", devices, &p, NULL), 0);
        ASSERT_EQ(p->n_groups, 1);
        ASSERT_EQ(iom_plan_group_steps(p, 1, &first), 2);
        ASSERT_TRUE(p->steps[0].named && p->steps[1].named);
}

static void test_assign_refusals(void) {
        static const struct {
                const char *owner, *device;
                int error;
                const char *message;
        } table[] = {
                {"", "01:00.0", -EINVAL, "'': the owner name is empty"},
                {"a/b", "01:00.0", -EINVAL, "'a/b': the owner name contains '/'"},
                {"bad\tname", "01:00.0", -EINVAL,
                 "'bad\\tname': the owner name contains a control character U+0009 at byte 4"},
                {"uid:x", "01:00.0", -EINVAL,
                 "'uid:x': a local owner 'uid:N' needs a numeric user id"},
                {"win11", "0000:09:00.0", -ENOENT, "no PCI device at 0000:09:00.0"},
                {"win11", "zz", -EINVAL,
                 "'zz' is not a PCI address: expected hexadecimal digits, as in 0000:01:00.0"},
                {"win11", "05:00.0", -EXDEV,
                 "0000:05:00.0 has no IOMMU group: the IOMMU is off or does not cover it"},
                {"linux", "04:00.0", -EEXIST, "IOMMU group 3 is owned by 'win11'"},
                {"win11", "0000:06:00.0", -EXDEV,
                 "IOMMU group 4 holds only bridges: there is nothing in it a guest could use"},
        };
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = workstation();

        iom_inventory_find_group(inv, 3)->owner = strdup("win11");
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(iom_plan_freep) struct iom_plan *p = NULL;
                _cleanup_free_ char *error = NULL;
                char *devices[] = {(char *) table[i].device, NULL};

                ASSERT_EQ(iom_plan_assign(inv, table[i].owner, devices, &p, &error),
                          table[i].error);
                ASSERT_STREQ(error, table[i].message);
                ASSERT_TRUE(p == NULL);
        }
}

static void test_release(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = workstation();
        _cleanup_(iom_plan_freep) struct iom_plan *all = NULL, *one = NULL, *other = NULL;
        _cleanup_free_ char *error = NULL, *error2 = NULL;
        char *nvme[] = {(char *) "04:00.0", NULL};
        char *audio[] = {(char *) "01:00.1", NULL};
        char *none[] = {NULL};

        iom_inventory_find_group(inv, 1)->owner = strdup("win11");
        iom_inventory_find_group(inv, 3)->owner = strdup("win11");
        iom_inventory_find_device(inv, &inv->devices[0]->address)->host_driver =
                strdup("bochs-drm");

        ASSERT_EQ(iom_plan_release(inv, "win11", none, &all, NULL), 0);
        ASSERT_EQ(all->n_groups, 2);
        ASSERT_EQ(all->n_steps, 3);
        ASSERT_STREQ(all->steps[0].to, "bochs-drm");
        ASSERT_TRUE(all->steps[1].to == NULL); /* no recorded host driver: left unbound */

        ASSERT_EQ(iom_plan_release(inv, "win11", nvme, &one, NULL), 0);
        ASSERT_EQ(one->n_groups, 1);

        ASSERT_EQ(iom_plan_release(inv, "linux", audio, &other, &error), -EPERM);
        ASSERT_STREQ(error, "IOMMU group 1 is not owned by 'linux' but by 'win11'");
        ASSERT_EQ(iom_plan_release(inv, "linux", none, &other, &error2), -ENOENT);
        ASSERT_STREQ(error2, "'linux' owns no IOMMU group");
}

static void test_rebind(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = workstation();
        _cleanup_(iom_plan_freep) struct iom_plan *p = NULL, *q = NULL;
        _cleanup_free_ char *error = NULL;

        ASSERT_EQ(iom_plan_rebind(inv, "01:00.1", "vfio-pci", &p, NULL), 0);
        ASSERT_EQ(p->n_steps, 1);
        ASSERT_STREQ(p->steps[0].from, "snd_hda_intel");
        ASSERT_STREQ(p->steps[0].to, "vfio-pci");

        iom_inventory_find_group(inv, 1)->owner = strdup("win11");
        ASSERT_EQ(iom_plan_rebind(inv, "01:00.1", "snd_hda_intel", &q, &error), -EEXIST);
        ASSERT_STREQ(error, "IOMMU group 1 is owned by 'win11': release it first");
}

/* "none" is no driver; "" (an unset shell variable) is refused, and so is a device no IOMMU
 * group covers: the binder could not journal, lock or roll it back. */
static void test_rebind_none_empty_no_group(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = workstation();
        _cleanup_(iom_plan_freep) struct iom_plan *p = NULL, *q = NULL;
        _cleanup_free_ char *empty = NULL, *no_group = NULL;

        ASSERT_EQ(iom_plan_rebind(inv, "04:00.0", "none", &p, NULL), 0);
        ASSERT_EQ(p->n_steps, 1);
        ASSERT_TRUE(p->steps[0].to == NULL);
        ASSERT_EQ(p->n_groups, 1);

        ASSERT_EQ(iom_plan_rebind(inv, "04:00.0", "", &q, &empty), -EINVAL);
        ASSERT_STREQ(empty, "the driver name is empty (write 'none' for no driver)");
        ASSERT_EQ(iom_plan_rebind(inv, "05:00.0", "vfio-pci", &q, &no_group), -EXDEV);
        ASSERT_STREQ(no_group,
                     "0000:05:00.0 has no IOMMU group: the IOMMU is off or does not cover it");
        ASSERT_TRUE(q == NULL);
}

/* A quarantined group is kept from guests and from rebinds, and only release_quarantine lets
 * it go: every endpoint to its recorded host driver, with no owner. */
static void test_quarantine(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = workstation();
        _cleanup_(iom_plan_freep) struct iom_plan *p = NULL, *q = NULL, *r = NULL, *s = NULL;
        _cleanup_free_ char *assign = NULL, *rebind = NULL, *not_quarantined = NULL;
        char *devices[] = {(char *) "01:00.0", NULL};
        struct iom_group *g = iom_inventory_find_group(inv, 1);

        ASSERT_EQ(iom_plan_release_quarantine(inv, "01:00.0", &p, &not_quarantined), -EPERM);
        ASSERT_STREQ(not_quarantined, "IOMMU group 1 is not quarantined");

        g->quarantine = strdup("the reset of 0000:01:00.0 failed");
        ASSERT_EQ(iom_plan_assign(inv, "win11", devices, &q, &assign), -ENOTRECOVERABLE);
        ASSERT_STREQ(assign, "IOMMU group 1 is quarantined (the reset of 0000:01:00.0 failed); "
                             "an administrator lets it go with 'iommuctl release "
                             "--from-quarantine'");
        ASSERT_EQ(iom_plan_rebind(inv, "01:00.1", "vfio-pci", &r, &rebind), -ENOTRECOVERABLE);
        ASSERT_TRUE(rebind != NULL);

        iom_inventory_find_device(inv, &g->devices[0]->address)->host_driver = strdup("nouveau");
        ASSERT_EQ(iom_plan_release_quarantine(inv, "01:00.1", &s, NULL), 0);
        ASSERT_EQ(s->op, IOM_PLAN_RELEASE);
        ASSERT_TRUE(s->owner == NULL);
        ASSERT_EQ(s->n_groups, 1);
        ASSERT_STREQ(s->steps[0].to, "nouveau");
}

IOM_TEST_MAIN(IOM_TEST(test_assign_takes_group_peers), IOM_TEST(test_step_set_reason),
              IOM_TEST(test_assign_two_functions_one_group), IOM_TEST(test_assign_refusals),
              IOM_TEST(test_release), IOM_TEST(test_rebind),
              IOM_TEST(test_rebind_none_empty_no_group), IOM_TEST(test_quarantine))
