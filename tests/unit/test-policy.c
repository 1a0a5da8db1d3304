/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy: good files load, every bad file gives exactly its expected located errors, and
 * evaluation follows the documented order. $IOM_POLICY_TESTS is tests/policy/. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture-sysfs.h"
#include "iom-bind.h"
#include "iom-policy.h"
#include "iom-strv.h"
#include "iom-sysfs.h"
#include "macro.h"
#include "tests.h"

/* Loads @name relative to @dir (so messages name it as the expectations do). */
static int load_in(const char *dir, const char *name, struct iom_policy **ret, char **errors) {
        char *paths[] = {(char *) name, NULL};
        char cwd[4096];
        int r;

        if (!getcwd(cwd, sizeof(cwd)) || chdir(dir) < 0)
                return -errno;
        r = iom_policy_load_files(paths, ret, errors);
        if (chdir(cwd) < 0)
                abort();
        return r;
}

static char *tests_dir(const char *sub) {
        const char *base = getenv("IOM_POLICY_TESTS");
        char *dir;

        if (!base || asprintf(&dir, "%s/%s", base, sub) < 0)
                return NULL;
        return dir;
}

/* Calls @check for every *.json of @dir, counting them. */
static size_t for_each_json(const char *dir, void (*check)(const char *dir, const char *name)) {
        DIR *d = opendir(dir);
        struct dirent *e;
        size_t n = 0;

        while (d && (e = readdir(d))) {
                size_t len = strlen(e->d_name);
                if (len > 5 && streq(e->d_name + len - 5, ".json")) {
                        check(dir, e->d_name);
                        n++;
                }
        }
        if (d)
                closedir(d);
        return n;
}

static void check_good(const char *dir, const char *name) {
        _cleanup_(iom_policy_freep) struct iom_policy *p = NULL;
        _cleanup_free_ char *errors = NULL;
        int r = load_in(dir, name, &p, &errors);

        if (r < 0)
                fprintf(stderr, "%s/%s: %s\n", dir, name, strempty(errors));
        ASSERT_EQ(r, 0);
}

static void check_bad(const char *dir, const char *name) {
        _cleanup_(iom_policy_freep) struct iom_policy *p = NULL;
        _cleanup_free_ char *errors = NULL, *expected = NULL, *expected_path = NULL;

        ASSERT_EQ(load_in(dir, name, &p, &errors), -EINVAL);
        ASSERT_TRUE(asprintf(&expected_path, "%s/%.*s.expected", dir, (int) strlen(name) - 5,
                             name) > 0);
        ASSERT_EQ(iom_read_file(expected_path, 65536, &expected, NULL), 0);
        size_t n = strlen(expected);
        while (n > 0 && expected[n - 1] == '\n')
                expected[--n] = '\0';
        if (!errors || !streq(errors, expected))
                fprintf(stderr, "%s/%s gave:\n%s\nexpected:\n%s\n", dir, name, strempty(errors),
                        expected);
        ASSERT_STREQ(errors, expected);
}

static void test_good_files(void) {
        _cleanup_free_ char *good = tests_dir("good"),
                            *examples = tests_dir("../../policy/examples");

        ASSERT_TRUE(good && examples);
        ASSERT_TRUE(for_each_json(good, check_good) >= 2);
        ASSERT_TRUE(for_each_json(examples, check_good) >= 2);
}

static void test_bad_files(void) {
        _cleanup_free_ char *bad = tests_dir("bad");

        ASSERT_TRUE(bad);
        ASSERT_TRUE(for_each_json(bad, check_bad) >= 10);
}

static struct iom_policy *policy_from(const char *text) {
        struct iom_policy *p = iom_policy_new();
        char *errors = NULL;

        if (!p || iom_policy_add_text(p, "t.json", text, &errors) < 0) {
                fprintf(stderr, "%s\n", strempty(errors));
                abort();
        }
        return p;
}

static struct iom_policy_subject nic(void) {
        struct iom_policy_subject s = {
                .vendor = 0x8086,
                .device = 0x10d3,
                .class = 0x020000,
                .driver = "e1000e",
                .group = -1,
        };
        (void) iom_address_parse("0000:03:00.0", &s.address, NULL);
        return s;
}

/* Asks @p whether @guest may own @s: the rule @rule must decide it with @action, or with @rule
 * NULL, nothing applies (the default deny). */
static void expect(const struct iom_policy *p, const struct iom_policy_subject *s,
                   const char *guest, enum iom_policy_action action, const char *rule) {
        struct iom_policy_decision d;

        iom_policy_evaluate(p, s, guest, &d);
        ASSERT_EQ(d.action, action);
        if (rule)
                ASSERT_STREQ(d.rule ? d.rule->id : "(default deny)", rule);
        else
                ASSERT_TRUE(d.rule == NULL);
}

/* Policies of rules on one line, each asked about nic() by guests: the rule that decides
 * (NULL: nothing applies, the default deny), with the nic's serial number @dsn. */
static const struct {
        const char *what;
        const char *policy;
        struct {
                const char *guest, *dsn;
                enum iom_policy_action action;
                const char *rule;
        } asks[3];
} evaluations[] = {
        {"default deny",
         "{\"rules\": [{\"id\": \"gpu\", \"match\": {\"vendor\": \"10de\"}, \"guests\": [\"*\"], "
         "\"action\": \"allow\"}]}",
         {{"win11", NULL, IOM_POLICY_DENY, NULL}}},
        {"a deny naming the guest beats an allow for *",
         "{\"rules\": ["
         "{\"id\": \"all\", \"match\": {\"vendor\": \"8086\"}, \"guests\": [\"*\"], "
         "\"action\": \"allow\"},"
         "{\"id\": \"not-evil\", \"match\": {\"vendor\": \"8086\"}, \"guests\": [\"evil\"], "
         "\"action\": \"deny\"}]}",
         {{"evil", NULL, IOM_POLICY_DENY, "not-evil"}, {"good", NULL, IOM_POLICY_ALLOW, "all"}}},
        /* Two device keys beat one; not a router, two one-key rules for "*" tie, and deny
         * wins the tie. */
        {"the most specific rule wins",
         "{\"rules\": ["
         "{\"id\": \"no-nics\", \"match\": {\"class_name\": \"network\"}, "
         "\"guests\": [\"*\"], \"action\": \"deny\"},"
         "{\"id\": \"this-nic\", \"match\": {\"vendor\": \"8086\", \"device\": \"10d3\"}, "
         "\"guests\": [\"router-*\"], \"action\": \"allow\"},"
         "{\"id\": \"by-driver\", \"match\": {\"driver\": \"e1000e\"}, \"guests\": [\"*\"], "
         "\"action\": \"allow\"}]}",
         {{"router-1", NULL, IOM_POLICY_ALLOW, "this-nic"},
          {"win11", NULL, IOM_POLICY_DENY, "no-nics"}}},
        {"dsn matches one serial number",
         "{\"rules\": [{\"id\": \"this-card\", \"match\": {\"dsn\": "
         "\"00-11-22-33-44-55-66-77\"}, \"guests\": [\"win11\"], \"action\": \"allow\"}]}",
         {{"win11", "00-11-22-33-44-55-66-77", IOM_POLICY_ALLOW, "this-card"},
          {"win11", "00-11-22-33-44-55-66-78", IOM_POLICY_DENY, NULL},
          {"win11", NULL, IOM_POLICY_DENY, NULL}}},
};

static void test_evaluation(void) {
        for (size_t i = 0; i < ELEMENTSOF(evaluations); i++) {
                _cleanup_(iom_policy_freep) struct iom_policy *p =
                        policy_from(evaluations[i].policy);

                fprintf(stderr, "# %s\n", evaluations[i].what);
                for (size_t k = 0; k < p->n_rules; k++)
                        ASSERT_EQ(p->rules[k].line, 1);
                for (size_t k = 0; k < ELEMENTSOF(evaluations[i].asks); k++) {
                        struct iom_policy_subject s = nic();

                        if (!evaluations[i].asks[k].guest)
                                break;
                        s.dsn = evaluations[i].asks[k].dsn;
                        expect(p, &s, evaluations[i].asks[k].guest, evaluations[i].asks[k].action,
                               evaluations[i].asks[k].rule);
                }
        }
}

static int group_of_fixture(const struct iom_address *a, void *userdata) {
        return a->bus == 1 ? 7 : 9; /* 01:00.x share group 7 */
}

static void test_references(void) {
        _cleanup_(iom_policy_freep) struct iom_policy *p = NULL;
        _cleanup_free_ char *errors = NULL;
        char *paths[] = {NULL, NULL};
        _cleanup_free_ char *dir = tests_dir("good"), *path = NULL;
        struct iom_policy_subject vf = nic(), audio = nic();
        struct iom_address pf, other;

        ASSERT_TRUE(asprintf(&path, "%s/references.json", dir) > 0);
        paths[0] = path;
        ASSERT_EQ(iom_policy_load_files(paths, &p, &errors), 0);
        ASSERT_EQ(iom_address_parse("0000:03:00.0", &pf, NULL), 0);
        ASSERT_EQ(iom_address_parse("0000:05:00.0", &other, NULL), 0);
        /* A VF of the aliased PF: allowed to a router, nobody else. */
        vf.physfn = &pf;
        expect(p, &vf, "router-1", IOM_POLICY_ALLOW, "vfs-to-routers");
        expect(p, &vf, "win11", IOM_POLICY_DENY, NULL);
        vf.physfn = &other;
        expect(p, &vf, "router-1", IOM_POLICY_DENY, NULL);
        /* A function in the GPU's group goes with it. */
        ASSERT_EQ(iom_address_parse("0000:01:00.1", &audio.address, NULL), 0);
        audio.group = 7;
        audio.group_of = group_of_fixture;
        expect(p, &audio, "win11", IOM_POLICY_ALLOW, "the-gpu-group");
        audio.group = 9;
        expect(p, &audio, "win11", IOM_POLICY_DENY, NULL);
}

static void test_aliases(void) {
        _cleanup_(iom_policy_freep) struct iom_policy *p =
                policy_from("{\"aliases\": {\"gpu\": \"01:00.0\"}, \"rules\": []}");
        char buf[IOM_ADDRESS_STRING_MAX];

        ASSERT_STREQ(iom_address_format(iom_policy_alias(p, "gpu"), buf), "0000:01:00.0");
        ASSERT_TRUE(iom_policy_alias(p, "nic") == NULL);
}

/* The first allowing rule that names a resource and matches decides it; a deny never names one. */
static void test_resource_name(void) {
        _cleanup_(iom_policy_freep) struct iom_policy *p = policy_from(
                "{\"rules\": ["
                "{\"id\": \"denied\", \"match\": {\"vendor\": \"8086\"}, \"guests\": [\"x\"], "
                "\"action\": \"deny\", \"options\": {\"resource_name\": \"a.example/denied\"}},"
                "{\"id\": \"plain\", \"match\": {}, \"guests\": [\"*\"], \"action\": \"allow\"},"
                "{\"id\": \"nics\", \"match\": {\"class_name\": \"network\"}, "
                "\"guests\": [\"*\"], \"action\": \"allow\", "
                "\"options\": {\"resource_name\": \"intel.com/E1000E_NIC\"}},"
                "{\"id\": \"later\", \"match\": {\"vendor\": \"8086\"}, \"guests\": [\"*\"], "
                "\"action\": \"allow\", \"options\": {\"resource_name\": \"b.example/later\"}}]}");
        struct iom_policy_subject s = nic();
        const struct iom_policy_rule *r = iom_policy_resource_name(p, &s);
        _cleanup_free_ char *options = NULL;

        ASSERT_TRUE(r != NULL);
        ASSERT_STREQ(r->id, "nics");
        ASSERT_STREQ(r->resource_name, "intel.com/E1000E_NIC");
        options = iom_policy_options_describe(r);
        ASSERT_STREQ(options, "resource_name=intel.com/E1000E_NIC");
        s.class = 0x010802; /* an NVMe controller: only the vendor rule is left */
        r = iom_policy_resource_name(p, &s);
        ASSERT_TRUE(r != NULL);
        ASSERT_STREQ(r->resource_name, "b.example/later");
        s.vendor = 0x144d;
        ASSERT_TRUE(iom_policy_resource_name(p, &s) == NULL);
}

/* The reset methods a rule may name are those of libiom's table, and an unknown one is refused
 * with exactly that list, in its order. */
static void test_reset_methods(void) {
        static const char rule[] = "{\"rules\": [{\"id\": \"r\", \"match\": {}, "
                                   "\"guests\": [\"*\"], \"action\": \"allow\", "
                                   "\"options\": {\"reset_method\": \"%s\"}}]}";
        _cleanup_(iom_policy_freep) struct iom_policy *p = iom_policy_new();
        _cleanup_free_ char *bad = NULL, *errors = NULL, *known = NULL, *expected = NULL;
        size_t n = 0;

        for (const char *const *m = iom_reset_methods; *m; m++, n++) {
                _cleanup_(iom_policy_freep) struct iom_policy *good = NULL;
                _cleanup_free_ char *text = NULL;

                ASSERT_TRUE(asprintf(&text, rule, *m) > 0);
                good = policy_from(text);
                ASSERT_STREQ(good->rules[0].reset_method, *m);
        }
        ASSERT_EQ(n, 8u); /* default and the kernel's seven (Linux 6.2: cxl_bus) */
        ASSERT_TRUE(p && asprintf(&bad, rule, "reboot") > 0);
        ASSERT_EQ(iom_policy_add_text(p, "t.json", bad, &errors), -EINVAL);
        known = iom_strv_join((char *const *) iom_reset_methods, ", ");
        ASSERT_TRUE(known && asprintf(&expected, "t.json:1:101: 'reboot' is not a reset method "
                                                 "(known: %s)",
                                      known) > 0);
        ASSERT_STREQ(errors, expected);
}

/* A FIFO among the files (a pipe such as /dev/stdin): named, never waited on. */
static void test_fifo(void) {
        _cleanup_free_ char *dir = fixture_mkdtemp("test-policy"), *fifo = NULL, *errors = NULL,
                            *expected = NULL;
        struct iom_policy *p = NULL;
        char *paths[2] = {};

        ASSERT_TRUE(asprintf(&fifo, "%s/fifo.json", dir) > 0 && mkfifo(fifo, 0600) == 0);
        paths[0] = fifo;
        ASSERT_EQ(iom_policy_load_files(paths, &p, &errors), -EINVAL);
        ASSERT_TRUE(asprintf(&expected, "%s: not a regular file", fifo) > 0);
        ASSERT_STREQ(errors, expected);
        fixture_remove(dir);
}

IOM_TEST_MAIN(IOM_TEST(test_good_files), IOM_TEST(test_bad_files), IOM_TEST(test_evaluation),
              IOM_TEST(test_references), IOM_TEST(test_aliases), IOM_TEST(test_resource_name),
              IOM_TEST(test_reset_methods), IOM_TEST(test_fifo))
