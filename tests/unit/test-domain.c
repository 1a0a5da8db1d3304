/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt domain XML: the host PCI devices of real domains, and every refusal located.
 * $IOM_LIBVIRT_TESTS is tests/libvirt/. */
#include <stdio.h>

#include "iom-domain.h"
#include "iom-sysfs.h"
#include "tests.h"

static int parse_file(const char *name, struct iom_domain **ret, char **ret_error) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        const char *base = getenv("IOM_LIBVIRT_TESTS");

        if (!base || asprintf(&path, "%s/%s", base, name) < 0 ||
            iom_read_file(path, IOM_DOMAIN_XML_MAX, &text, NULL) < 0) {
                fprintf(stderr, "cannot read %s/%s ($IOM_LIBVIRT_TESTS)\n", strempty(base), name);
                return -EIO;
        }
        return iom_domain_parse(text, strlen(text), ret, ret_error);
}

static const char *address(const struct iom_domain *d, size_t i) {
        static char buf[IOM_ADDRESS_STRING_MAX];
        return iom_address_format(&d->pci[i].address, buf);
}

static void test_managed_gpu_with_usb(void) {
        _cleanup_(iom_domain_freep) struct iom_domain *d = NULL;

        ASSERT_EQ(parse_file("win11.xml", &d, NULL), 0);
        ASSERT_STREQ(d->name, "win11");
        ASSERT_STREQ(d->uuid, "4a9b3f53-fa2a-47f3-a757-dd87720d9d1d");
        /* The <source><address>, not the guest-side 05:00.x, nor the controllers' own. */
        ASSERT_EQ(d->n_pci, 2);
        ASSERT_STREQ(address(d, 0), "0000:01:00.0");
        ASSERT_STREQ(address(d, 1), "0000:01:00.1");
        for (size_t i = 0; i < d->n_pci; i++) {
                ASSERT_TRUE(d->pci[i].managed);
                ASSERT_EQ(d->pci[i].kind, IOM_DOMAIN_PCI_HOSTDEV);
        }
        ASSERT_TRUE(d->ignored && d->ignored[0] && !d->ignored[1]);
        ASSERT_STREQ(d->ignored[0], "<hostdev> #3 (mode 'subsystem', type 'usb', line 78)");
}

static void test_unmanaged_decimal(void) {
        _cleanup_(iom_domain_freep) struct iom_domain *d = NULL;

        ASSERT_EQ(parse_file("storage.xml", &d, NULL), 0);
        ASSERT_EQ(d->n_pci, 1);
        ASSERT_STREQ(address(d, 0), "0000:02:00.0");
        ASSERT_TRUE(!d->pci[0].managed);
        ASSERT_TRUE(!d->ignored);
}

static void test_sriov_interface(void) {
        _cleanup_(iom_domain_freep) struct iom_domain *d = NULL;

        ASSERT_EQ(parse_file("router.xml", &d, NULL), 0);
        ASSERT_EQ(d->n_pci, 1); /* the bridged virtio NIC is nothing of the host's */
        ASSERT_STREQ(address(d, 0), "0000:03:00.0");
        ASSERT_EQ(d->pci[0].kind, IOM_DOMAIN_PCI_INTERFACE);
        ASSERT_TRUE(d->pci[0].managed);
        ASSERT_STREQ(iom_domain_pci_kind_to_string(d->pci[0].kind), "interface");
        ASSERT_EQ(iom_domain_pci_kind_from_string("hostdev"), IOM_DOMAIN_PCI_HOSTDEV);
        ASSERT_EQ(iom_domain_pci_kind_from_string("usb"), _IOM_DOMAIN_PCI_KIND_INVALID);
}

static void test_no_pci(void) {
        _cleanup_(iom_domain_freep) struct iom_domain *usb = NULL, *plain = NULL;

        ASSERT_EQ(parse_file("usb-only.xml", &usb, NULL), 0);
        ASSERT_EQ(usb->n_pci, 0);
        ASSERT_TRUE(usb->ignored && usb->ignored[2] && !usb->ignored[3]);
        ASSERT_STREQ(usb->ignored[1], "<hostdev> #2 (mode 'subsystem', type 'mdev', line 17)");
        ASSERT_EQ(parse_file("plain.xml", &plain, NULL), 0);
        ASSERT_EQ(plain->n_pci, 0);
        ASSERT_TRUE(!plain->ignored);
}

static void test_hostile_files(void) {
        static const struct {
                const char *file, *error;
        } table[] = {
                {"malformed.xml", "line 8: not well-formed XML: Opening and ending tag mismatch: "
                                  "hostdev line 4 and devices"},
                {"entity-bomb.xml", "line 2: <!DOCTYPE> is not allowed in domain XML (libvirt "
                                    "writes none; DTDs and entities are refused)"},
                {"bad-address.xml", "line 15: <hostdev> #2: <source><address bus='0x100'>: bus "
                                    "0x100 is larger than 0xff"},
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(iom_domain_freep) struct iom_domain *d = NULL;
                _cleanup_free_ char *error = NULL;

                ASSERT_EQ(parse_file(table[i].file, &d, &error), -EINVAL);
                ASSERT_TRUE(!d);
                ASSERT_STREQ(error, table[i].error);
        }
}

#define HOSTDEV(attrs)                                                                             \
        "<domain><name>g</name><devices><hostdev mode='subsystem' type='pci'><source>"             \
        "<address " attrs "/></source></hostdev></devices></domain>"

static void test_addresses(void) {
        static const struct {
                const char *xml, *address;
        } good[] = {
                {HOSTDEV("domain='0x0001' bus='0xFF' slot='0x1f' function='0x7'"), "0001:ff:1f.7"},
                {HOSTDEV("bus='10' slot='31'"), "0000:0a:1f.0"},
                {HOSTDEV("domain='65535' bus='255' slot='0' function='7'"), "ffff:ff:00.7"},
                {HOSTDEV("bus='010' slot='0X1' function='0'"), "0000:08:01.0"}, /* octal */
        };
        static const struct {
                const char *xml, *error;
        } bad[] = {
                {HOSTDEV("bus='0x01' slot='32'"),
                 "line 1: <hostdev> #1: <source><address slot='32'>: slot 32 is larger than 0x1f"},
                {HOSTDEV("bus='0x01' slot='0' function='8'"),
                 "line 1: <hostdev> #1: <source><address function='8'>: function 8 is larger "
                 "than 0x7"},
                {HOSTDEV("domain='0x10000' bus='0' slot='1'"),
                 "line 1: <hostdev> #1: <source><address domain='0x10000'>: domain 0x10000 is "
                 "larger than 0xffff"},
                {HOSTDEV("bus='0x' slot='1'"), "line 1: <hostdev> #1: <source><address bus='0x'>: "
                                               "not a number (decimal, or hexadecimal with 0x)"},
                {HOSTDEV("bus='08' slot='1'"), "line 1: <hostdev> #1: <source><address bus='08'>: "
                                               "not a number (decimal, or hexadecimal with 0x)"},
                {HOSTDEV("bus='-1' slot='1'"), "line 1: <hostdev> #1: <source><address bus='-1'>: "
                                               "not a number (decimal, or hexadecimal with 0x)"},
                {HOSTDEV("bus=' 1' slot='1'"), "line 1: <hostdev> #1: <source><address bus=' 1'>: "
                                               "not a number (decimal, or hexadecimal with 0x)"},
                {HOSTDEV("slot='1'"), "line 1: <hostdev> #1: <source><address> has no bus"},
                {"<domain><name>g</name><devices><hostdev type='pci'><address bus='1' slot='0'/>"
                 "</hostdev></devices></domain>",
                 "line 1: <hostdev> #1: no <source><address> names the host device"},
                {"<domain><name>g</name><devices><interface type='hostdev'><source><address "
                 "bus='1' slot='0'/></source></interface><hostdev type='pci'><source><address "
                 "bus='0x01' slot='0x00'/></source></hostdev></devices></domain>",
                 "line 1: <hostdev> #1: 0000:01:00.0 is given twice"},
                {"<domain><devices/></domain>", "<domain> has no <name>"},
                {"<network><name>default</name></network>",
                 "the root element is <network>, not <domain>"},
                {"<domain><name>g</name><uuid>not-a-uuid</uuid></domain>",
                 "line 1: <uuid>not-a-uuid</uuid>: not a UUID (32 hexadecimal digits)"},
                {"\xff\xfe<domain/>",
                 "line 1: not well-formed XML: Start tag expected, '<' not found"},
                {"", "the domain XML is empty"},
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_(iom_domain_freep) struct iom_domain *d = NULL;

                ASSERT_EQ(iom_domain_parse(good[i].xml, strlen(good[i].xml), &d, NULL), 0);
                ASSERT_EQ(d->n_pci, 1);
                ASSERT_STREQ(address(d, 0), good[i].address);
                ASSERT_TRUE(!d->pci[0].managed);
                ASSERT_TRUE(!d->uuid);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(iom_domain_freep) struct iom_domain *d = NULL;
                _cleanup_free_ char *error = NULL;

                ASSERT_EQ(iom_domain_parse(bad[i].xml, strlen(bad[i].xml), &d, &error), -EINVAL);
                ASSERT_STREQ(error, bad[i].error);
        }
}

static void test_uuid_spellings(void) {
        static const char xml[] = "<domain><name>g</name>"
                                  "<uuid>4A9B3F53FA2A47F3A757DD87720D9D1D</uuid></domain>";
        _cleanup_(iom_domain_freep) struct iom_domain *d = NULL;

        ASSERT_EQ(iom_domain_parse(xml, strlen(xml), &d, NULL), 0);
        ASSERT_STREQ(d->uuid, "4a9b3f53-fa2a-47f3-a757-dd87720d9d1d");
}

static void test_size_cap(void) {
        static const char xml[] = "<domain><name>g</name></domain>";
        _cleanup_(iom_domain_freep) struct iom_domain *d = NULL;
        _cleanup_free_ char *error = NULL;

        /* Refused on its length alone: the parser never reads the (absent) bytes past xml. */
        ASSERT_EQ(iom_domain_parse(xml, IOM_DOMAIN_XML_MAX + 1, &d, &error), -E2BIG);
        ASSERT_STREQ(error, "the domain XML is 16777217 bytes, more than the 16777216 allowed");
}

IOM_TEST_MAIN(IOM_TEST(test_managed_gpu_with_usb), IOM_TEST(test_unmanaged_decimal),
              IOM_TEST(test_sriov_interface), IOM_TEST(test_no_pci), IOM_TEST(test_hostile_files),
              IOM_TEST(test_addresses), IOM_TEST(test_uuid_spellings), IOM_TEST(test_size_cap))
