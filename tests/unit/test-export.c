/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The exports of a hand-built host: which groups are listed (whole, or not at all), the names
 * the policy gives, ids shared with unlisted devices, and each format's text. */
#include <stdlib.h>
#include <string.h>

#include "fixture-inventory.h"
#include "iom-export.h"
#include "tests.h"

/* Group 1: a GPU on vfio-pci with its audio function unbound, owned by vm1 (listed whole).
 * Group 2: a NIC on e1000e that an autobind rule takes (listed). Group 3: the same NIC model
 * on e1000e, no autobind (absent; so its id is ambiguous). Group 4: a bridge alone (absent).
 * Group 5: an NVMe on nvme beside an unbound function (absent: the group is not viable). */
static const struct fixture_device devices[] = {
        {"0000:00:01.0", 0x8086, 0x1901, 4, "pcieport", 1},
        {"0000:01:00.0", 0x10de, 0x1db4, 1, "vfio-pci", 0},
        {"0000:01:00.1", 0x10de, 0x10f7, 1, NULL, 0},
        {"0000:02:00.0", 0x8086, 0x10d3, 2, "e1000e", 0},
        {"0000:03:00.0", 0x8086, 0x10d3, 3, "e1000e", 0},
        {"0000:04:00.0", 0x144d, 0xa808, 5, "nvme", 0},
        {"0000:04:00.1", 0x144d, 0xa809, 5, NULL, 0},
};

static const char policy_text[] =
        "{\"aliases\": {\"gpu\": \"0000:01:00.0\", \"disk\": \"0000:04:00.0\"},"
        " \"rules\": ["
        "{\"id\": \"nic\", \"match\": {\"address\": \"0000:02:00.0\"}, \"guests\": [\"*\"],"
        " \"action\": \"allow\", \"options\": {\"autobind\": true}},"
        "{\"id\": \"gpus\", \"match\": {\"vendor\": \"10de\", \"device\": \"1db4\"},"
        " \"guests\": [\"*\"], \"action\": \"allow\","
        " \"options\": {\"resource_name\": \"nvidia.com/GV100GL_Tesla_V100\"}}]}";

static struct iom_inventory *host(void) {
        struct iom_inventory *inv = fixture_inventory(devices, ELEMENTSOF(devices));

        inv->host->groups_present = true;
        inv->host->interrupt_remapping = true;
        inv->groups[0]->owner = strdup("vm \"1\"");
        return inv;
}

static struct iom_policy *policy(void) {
        struct iom_policy *p = iom_policy_new();
        _cleanup_free_ char *errors = NULL;

        if (!p || iom_policy_add_text(p, "export.json", policy_text, &errors) < 0) {
                fprintf(stderr, "%s\n", strempty(errors));
                abort();
        }
        return p;
}

static char *render(enum iom_export_format format, const struct iom_export_state *state) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = host();
        _cleanup_(iom_policy_freep) struct iom_policy *p = policy();
        char *text = NULL;

        if (iom_export_render(format, inv, p, state, &text) < 0)
                abort();
        return text;
}

static void test_formats(void) {
        for (int f = 0; f < _IOM_EXPORT_FORMAT_MAX; f++)
                ASSERT_EQ(iom_export_format_from_string(iom_export_format_to_string(f)), f);
        ASSERT_EQ(iom_export_format_from_string("yaml"), -EINVAL);
        ASSERT_TRUE(iom_export_format_to_string(_IOM_EXPORT_FORMAT_MAX) == NULL);
}

static void test_groups_listed(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = host();
        _cleanup_(iom_policy_freep) struct iom_policy *p = policy();
        const bool expected[] = {true, true, false, false, false}; /* groups 1-5 */

        for (size_t i = 0; i < inv->n_groups; i++)
                ASSERT_EQ(iom_export_group_listed(inv, p, inv->groups[i]), expected[i]);
        /* Without the autobind rule the NIC's group is not viable. */
        ASSERT_TRUE(!iom_export_group_listed(inv, NULL, inv->groups[1]));
        /* Interrupt remapping off: nothing can be given, unless VFIO allows unsafe interrupts. */
        inv->host->interrupt_remapping = false;
        ASSERT_TRUE(!iom_export_group_listed(inv, p, inv->groups[0]));
        inv->host->allow_unsafe_interrupts = true;
        ASSERT_TRUE(iom_export_group_listed(inv, p, inv->groups[0]));
        /* A quarantined group is on vfio-pci and owned by nobody, and still not offered. */
        inv->groups[0]->quarantine = strdup("reset failed");
        ASSERT_TRUE(inv->groups[0]->quarantine);
        ASSERT_TRUE(!iom_export_group_listed(inv, p, inv->groups[0]));
}

static void test_kubevirt(void) {
        _cleanup_free_ char *json = render(IOM_EXPORT_KUBEVIRT, NULL),
                            *yaml = render(IOM_EXPORT_KUBEVIRT_YAML, NULL);

        ASSERT_STREQ(json, "{\n"
                           "  \"spec\": {\n"
                           "    \"configuration\": {\n"
                           "      \"permittedHostDevices\": {\n"
                           "        \"pciHostDevices\": [\n"
                           "          {\n"
                           "            \"pciVendorSelector\": \"10DE:10F7\",\n"
                           "            \"resourceName\": \"iommud.io/10de_10f7\"\n"
                           "          },\n"
                           "          {\n"
                           "            \"pciVendorSelector\": \"10DE:1DB4\",\n"
                           "            \"resourceName\": \"nvidia.com/GV100GL_Tesla_V100\"\n"
                           "          },\n"
                           "          {\n"
                           "            \"pciVendorSelector\": \"8086:10D3\",\n"
                           "            \"resourceName\": \"iommud.io/8086_10d3\"\n"
                           "          }\n"
                           "        ]\n"
                           "      }\n"
                           "    }\n"
                           "  }\n"
                           "}\n");
        ASSERT_STREQ(yaml, "spec:\n"
                           "  configuration:\n"
                           "    permittedHostDevices:\n"
                           "      pciHostDevices:\n"
                           "        - pciVendorSelector: \"10DE:10F7\"\n"
                           "          resourceName: \"iommud.io/10de_10f7\"\n"
                           "        - pciVendorSelector: \"10DE:1DB4\"\n"
                           "          resourceName: \"nvidia.com/GV100GL_Tesla_V100\"\n"
                           "        - pciVendorSelector: \"8086:10D3\"\n"
                           "          resourceName: \"iommud.io/8086_10d3\"\n");
}

/* The NIC's id is shared with a device that is not listed: Nova gets its address. Aliases are
 * named after resources, and after the policy's aliases of listed devices ("disk" is not). */
static void test_nova(void) {
        _cleanup_free_ char *text = render(IOM_EXPORT_NOVA, NULL);

        ASSERT_TRUE(strstr(text, "\n[pci]\n"));
        ASSERT_TRUE(strstr(text, "\ndevice_spec = [{\"vendor_id\": \"10de\", \"product_id\": "
                                 "\"10f7\"}, {\"vendor_id\": \"10de\", \"product_id\": "
                                 "\"1db4\"}, {\"address\": \"0000:02:00.0\", \"vendor_id\": "
                                 "\"8086\", \"product_id\": \"10d3\"}]\n"));
        ASSERT_TRUE(strstr(text, "\nalias = {\"name\": \"10de_10f7\", \"vendor_id\": \"10de\", "
                                 "\"product_id\": \"10f7\", \"device_type\": \"type-PCI\"}\n"));
        ASSERT_TRUE(strstr(text, "\nalias = {\"name\": \"GV100GL_Tesla_V100\", \"vendor_id\": "
                                 "\"10de\", \"product_id\": \"1db4\", \"device_type\": "
                                 "\"type-PCI\"}\n"));
        ASSERT_TRUE(strstr(text, "\nalias = {\"name\": \"gpu\", \"vendor_id\": \"10de\", "
                                 "\"product_id\": \"1db4\", \"device_type\": \"type-PCI\"}\n"));
        ASSERT_TRUE(strstr(text, "\"8086_10d3\""));
        ASSERT_TRUE(!strstr(text, "disk"));
        ASSERT_TRUE(!strstr(text, "144d"));
}

/* The NFD features and Prometheus samples of host() and policy(), whichever way rendered. */
static void assert_nfd(const char *text) {
        const char *body = strstr(text, "iommu.present=");

        ASSERT_TRUE(body);
        ASSERT_STREQ(body, "iommu.present=true\n"
                           "iommu.interrupt_remapping=true\n"
                           "iommu.acs_override=false\n"
                           "iommud.assignable_groups=2\n"
                           "iommud.assignable.10de_10f7=1\n"
                           "iommud.assignable.10de_1db4=1\n"
                           "iommud.assignable.8086_10d3=1\n"
                           "iommud.available.10de_10f7=0\n"
                           "iommud.available.10de_1db4=0\n"
                           "iommud.available.8086_10d3=1\n");
}

static const struct iom_export_space spaces[] = {
        {.id = 7, .guest = "vm1", .mappings = 2, .mapped_bytes = 8192}};
static const struct iom_export_state state = {.binder_failures = 3,
                                              .policy_reloads = 2,
                                              .policy_reload_errors = 1,
                                              .spaces = spaces,
                                              .n_spaces = 1};

static void assert_prometheus(const char *text) {
        static const char *const lines[] = {
                "# TYPE iommud_groups gauge\niommud_groups 5\n",
                "iommud_groups_viable 2\n", /* the GPU's group and the lone bridge's */
                "iommud_groups_assignable 2\n",
                "iommud_groups_owned{owner=\"vm \\\"1\\\"\"} 1\n",
                "iommud_groups_quarantined 0\n",
                "iommud_devices{driver=\"e1000e\"} 2\n",
                "iommud_devices{driver=\"none\"} 2\n",
                "iommud_devices{driver=\"pcieport\"} 1\n",
                "# TYPE iommud_binder_failures_total counter\niommud_binder_failures_total 3\n",
                "iommud_policy_reloads_total 2\n",
                "iommud_policy_reload_errors_total 1\n",
                "iommud_policy_rules 2\n",
                "iommud_spaces 1\n",
                "iommud_space_mappings{space=\"7\",guest=\"vm1\"} 2\n",
                "iommud_space_mapped_bytes{space=\"7\",guest=\"vm1\"} 8192\n",
        };

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                if (!strstr(text, lines[i]))
                        fprintf(stderr, "missing: %s", lines[i]);
                ASSERT_TRUE(strstr(text, lines[i]));
        }
}

static void test_nfd(void) {
        _cleanup_free_ char *text = render(IOM_EXPORT_NFD, NULL);

        assert_nfd(text);
}

static void test_prometheus(void) {
        _cleanup_free_ char *text = render(IOM_EXPORT_PROMETHEUS, &state);

        assert_prometheus(text);
}

/* A host without groups lists nothing, in every format. */
static void test_no_iommu(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = host();
        _cleanup_free_ char *json = NULL, *nfd = NULL;

        inv->host->groups_present = false;
        ASSERT_EQ(iom_export_render(IOM_EXPORT_KUBEVIRT, inv, NULL, NULL, &json), 0);
        ASSERT_TRUE(strstr(json, "\"pciHostDevices\": []\n"));
        ASSERT_EQ(iom_export_render(IOM_EXPORT_NFD, inv, NULL, NULL, &nfd), 0);
        ASSERT_TRUE(strstr(nfd, "iommu.present=false\n"));
        ASSERT_TRUE(strstr(nfd, "iommud.assignable_groups=0\n"));
        ASSERT_TRUE(!strstr(nfd, "iommud.assignable."));
        ASSERT_EQ(iom_export_render(_IOM_EXPORT_FORMAT_MAX, inv, NULL, NULL, &json), -EINVAL);
}

/* The policy's rule lookups, counted: meson links this test with --wrap for both, so every
 * call from libiom-export comes here first. */
const struct iom_policy_rule *__real_iom_policy_autobind(const struct iom_policy *p,
                                                         const struct iom_policy_subject *s);
const struct iom_policy_rule *__wrap_iom_policy_autobind(const struct iom_policy *p,
                                                         const struct iom_policy_subject *s);
const struct iom_policy_rule *__real_iom_policy_resource_name(const struct iom_policy *p,
                                                              const struct iom_policy_subject *s);
const struct iom_policy_rule *__wrap_iom_policy_resource_name(const struct iom_policy *p,
                                                              const struct iom_policy_subject *s);
static unsigned n_autobind, n_resource_name;

const struct iom_policy_rule *__wrap_iom_policy_autobind(const struct iom_policy *p,
                                                         const struct iom_policy_subject *s) {
        n_autobind++;
        return __real_iom_policy_autobind(p, s);
}

const struct iom_policy_rule *__wrap_iom_policy_resource_name(const struct iom_policy *p,
                                                              const struct iom_policy_subject *s) {
        n_resource_name++;
        return __real_iom_policy_resource_name(p, s);
}

/* One listing renders the texts above, and every format, on the verdicts it took once: one
 * autobind lookup per group with an endpoint on a host driver (groups 2, 3 and 5), one
 * resource_name lookup per listed id, and none while rendering. */
static void test_listing(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = host();
        _cleanup_(iom_policy_freep) struct iom_policy *p = policy();
        _cleanup_(iom_export_listing_freep) struct iom_export_listing *l = NULL;
        _cleanup_free_ char *nfd = NULL, *prometheus = NULL;
        char *text = NULL;

        ASSERT_EQ(iom_export_listing_new(NULL, p, &l), -EINVAL);
        n_autobind = n_resource_name = 0;
        ASSERT_EQ(iom_export_listing_new(inv, p, &l), 0);
        ASSERT_EQ(n_autobind, 3u);
        ASSERT_EQ(n_resource_name, 3u);

        ASSERT_EQ(iom_export_listing_render(l, IOM_EXPORT_NFD, NULL, &nfd), 0);
        assert_nfd(nfd);
        ASSERT_EQ(iom_export_listing_render(l, IOM_EXPORT_PROMETHEUS, &state, &prometheus), 0);
        assert_prometheus(prometheus);
        for (enum iom_export_format f = 0; f < _IOM_EXPORT_FORMAT_MAX; f++) {
                _cleanup_free_ char *t = NULL;

                ASSERT_EQ(iom_export_listing_render(l, f, NULL, &t), 0);
                ASSERT_TRUE(t && *t);
        }
        ASSERT_EQ(n_autobind, 3u);
        ASSERT_EQ(n_resource_name, 3u);

        ASSERT_EQ(iom_export_listing_render(l, _IOM_EXPORT_FORMAT_MAX, NULL, &text), -EINVAL);
        ASSERT_TRUE(!text);
}

IOM_TEST_MAIN(IOM_TEST(test_formats), IOM_TEST(test_groups_listed), IOM_TEST(test_kubevirt),
              IOM_TEST(test_nova), IOM_TEST(test_nfd), IOM_TEST(test_prometheus),
              IOM_TEST(test_no_iommu), IOM_TEST(test_listing))
