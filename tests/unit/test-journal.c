/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state journal: round trip, atomic save, and strict reading with located errors. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture-inventory.h"
#include "iom-journal.h"
#include "iom-sysfs.h"
#include "macro.h"
#include "tests.h"

static struct iom_plan *assign_plan(struct iom_inventory *inv) {
        char *devices[] = {(char *) "01:00.0", NULL};
        struct iom_plan *p = NULL;

        if (iom_plan_assign(inv, "win11", devices, &p, NULL) < 0)
                abort();
        return p;
}

static struct iom_inventory *desktop(void) {
        static const struct fixture_device devices[] = {
                {"0000:01:00.0", 0x1234, 0x1111, 1, "bochs-drm", 0},
                {"0000:01:00.1", 0x8086, 0x293e, 1, NULL, 0},
        };
        return fixture_inventory(devices, ELEMENTSOF(devices));
}

static void test_round_trip(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = desktop();
        _cleanup_(iom_plan_freep) struct iom_plan *p = assign_plan(inv);
        _cleanup_(iom_journal_freep) struct iom_journal *j = iom_journal_new(), *back = NULL;
        _cleanup_free_ char *json = NULL, *again = NULL;

        ASSERT_EQ(iom_journal_begin(j, p, 1), 0);
        /* A policy rule's host_driver option beats the driver the device had. */
        p->steps[1].release_to = strdup("snd_hda_intel");
        ASSERT_EQ(iom_journal_claim(j, p, 1), 0);
        json = iom_journal_to_json(j);
        ASSERT_TRUE(json);
        ASSERT_EQ(iom_journal_from_json(json, "state.json", &back, NULL), 0);
        ASSERT_EQ(back->n_claims, 1);
        ASSERT_STREQ(back->claims[0].owner, "win11");
        ASSERT_EQ(back->claims[0].n_devices, 2);
        ASSERT_STREQ(back->claims[0].devices[0].host_driver, "bochs-drm");
        ASSERT_STREQ(back->claims[0].devices[1].host_driver, "snd_hda_intel");
        ASSERT_EQ(back->n_intents, 1);
        ASSERT_EQ(back->intents[0].op, IOM_PLAN_ASSIGN);
        ASSERT_STREQ(back->intents[0].steps[0].to, "vfio-pci");
        again = iom_journal_to_json(back);
        ASSERT_STREQ(again, json);

        iom_journal_end(back, 1);
        iom_journal_unclaim(back, 1);
        ASSERT_EQ(back->n_intents, 0);
        ASSERT_EQ(back->n_claims, 0);
}

static void test_save_load(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = desktop();
        _cleanup_(iom_plan_freep) struct iom_plan *p = assign_plan(inv);
        _cleanup_(iom_journal_freep) struct iom_journal *j = iom_journal_new(), *back = NULL,
                                                        *empty = NULL;
        char dir[] = "/tmp/test-journal-XXXXXX", path[64], missing[64];
        struct stat st;

        ASSERT_TRUE(mkdtemp(dir));
        (void) snprintf(path, sizeof(path), "%s/state.json", dir);
        (void) snprintf(missing, sizeof(missing), "%s/none.json", dir);
        ASSERT_EQ(iom_journal_claim(j, p, 1), 0);
        ASSERT_EQ(iom_journal_save(j, path), 0);
        ASSERT_EQ(stat(path, &st), 0);
        ASSERT_EQ(st.st_mode & 0777, 0644);
        ASSERT_EQ(iom_journal_load(path, &back, NULL), 0);
        ASSERT_EQ(back->n_claims, 1);
        /* No file yet: an empty journal, not an error. */
        ASSERT_EQ(iom_journal_load(missing, &empty, NULL), 0);
        ASSERT_EQ(empty->n_claims + empty->n_intents, 0);
        (void) unlink(path);
        (void) rmdir(dir);
}

/* Saves @j as an unprivileged user, in a child: root writes into any directory, and a
 * read-only one must refuse the save here. */
static int save_unprivileged(const struct iom_journal *j, const char *path) {
        pid_t pid = fork();
        int status;

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                if (geteuid() == 0 && setresuid(65534, 65534, 65534) < 0)
                        _exit(100);
                _exit(-iom_journal_save(j, path));
        }
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
                return -EIO;
        return -WEXITSTATUS(status);
}

static void write_text(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        ASSERT_TRUE(f);
        fputs(text, f);
        fclose(f);
}

/* A save that fails leaves the file as it was and no temporary behind; a change made on a copy
 * (as the daemon makes every change) leaves the journal equal to the file. */
static void test_failed_save(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = desktop();
        _cleanup_(iom_plan_freep) struct iom_plan *p = assign_plan(inv);
        _cleanup_(iom_journal_freep) struct iom_journal *j = iom_journal_new(), *next = NULL;
        _cleanup_free_ char *before = NULL, *after = NULL, *in_memory = NULL;
        char dir[] = "/tmp/test-journal-XXXXXX", path[64];

        ASSERT_TRUE(mkdtemp(dir));
        (void) snprintf(path, sizeof(path), "%s/state.json", dir);
        ASSERT_EQ(iom_journal_begin(j, p, 1), 0);
        ASSERT_EQ(iom_journal_save(j, path), 0);
        ASSERT_EQ(iom_read_file(path, IOM_JOURNAL_SIZE_MAX, &before, NULL), 0);

        ASSERT_EQ(iom_journal_copy(j, &next), 0);
        iom_journal_end(next, 1);
        ASSERT_EQ(iom_journal_claim(next, p, 1), 0);
        ASSERT_EQ(chmod(dir, 0555), 0);
        ASSERT_EQ(save_unprivileged(next, path), -EACCES);
        ASSERT_EQ(chmod(dir, 0755), 0);

        ASSERT_EQ(iom_read_file(path, IOM_JOURNAL_SIZE_MAX, &after, NULL), 0);
        ASSERT_STREQ(after, before);
        in_memory = iom_journal_to_json(j);
        ASSERT_STREQ(in_memory, before);
        ASSERT_EQ(j->n_claims, 0);
        ASSERT_EQ(j->n_intents, 1);
        (void) unlink(path);
        ASSERT_EQ(rmdir(dir), 0); /* nothing else was left in it */
}

/* Opening the journal removes what a crash mid-save left (".state.json.XXXXXX"), and nothing
 * else. */
static void test_stale_temporaries(void) {
        static const char *const kept[] = {"state.json",        "state.json.corrupt-1700000000",
                                           "state.json.ab",     ".other.json.Ab12Cd",
                                           "state.json.Ab12Cd", "state.json.a-b_cd"};
        _cleanup_(iom_journal_freep) struct iom_journal *j = NULL;
        char dir[] = "/tmp/test-journal-XXXXXX", path[128];

        ASSERT_TRUE(mkdtemp(dir));
        for (size_t i = 0; i < ELEMENTSOF(kept); i++) {
                (void) snprintf(path, sizeof(path), "%s/%s", dir, kept[i]);
                write_text(path, "{\"version\":1,\"claims\":[],\"intents\":[]}");
        }
        (void) snprintf(path, sizeof(path), "%s/.state.json.Ab12Cd", dir);
        write_text(path, "{\"version\":1,\"cla");

        (void) snprintf(path, sizeof(path), "%s/state.json", dir);
        ASSERT_EQ(iom_journal_load(path, &j, NULL), 0);
        (void) snprintf(path, sizeof(path), "%s/.state.json.Ab12Cd", dir);
        ASSERT_TRUE(access(path, F_OK) < 0);
        for (size_t i = 0; i < ELEMENTSOF(kept); i++) {
                (void) snprintf(path, sizeof(path), "%s/%s", dir, kept[i]);
                ASSERT_EQ(access(path, F_OK), 0);
                (void) unlink(path);
        }
        ASSERT_EQ(rmdir(dir), 0);
}

static void test_bad_journals(void) {
        static const struct {
                const char *text, *error;
        } table[] = {
                {"{", "s.json:1:2: unexpected end of data"},
                /* What json-c alone took: content after the document, a repeated key. */
                {"{\"version\":1,\"claims\":[],\"intents\":[]}\n}",
                 "s.json:2:1: unexpected content after the JSON document"},
                {"{\"version\":1,\"claims\":[],\"intents\":[]}{}",
                 "s.json:1:39: unexpected content after the JSON document"},
                {"{\"version\":1,\"claims\":[],\"intents\":[],\"claims\":[]}",
                 "s.json:1:39: duplicate key 'claims' (first at line 1, column 14)"},
                {"{\"version\":1,\"claims\":[{\"group\":1,\"owner\":\"a\",\"\\u006fwner\":\"b\","
                 "\"devices\":[]}],\"intents\":[]}",
                 "s.json:1:47: duplicate key 'owner' (first at line 1, column 35)"},
                /* An owner the daemon would log and publish must be one it accepts. */
                {"{\"version\":1,\"claims\":[{\"group\":1,\"owner\":\"a\\u202eb\",\"devices\":[]}],"
                 "\"intents\":[]}",
                 "s.json: claims[0]: 'owner': the owner name contains a bidi control U+202E at "
                 "byte 2"},
                {"[]", "s.json: (top): must be an object"},
                {"{\"version\":2,\"claims\":[],\"intents\":[]}",
                 "s.json: version: version 2 is not 1"},
                {"{\"version\":1,\"claims\":[],\"intents\":[],\"x\":1}",
                 "s.json: (top): unknown key 'x'"},
                {"{\"version\":1,\"intents\":[]}", "s.json: (top): 'claims' is missing"},
                {"{\"version\":1,\"claims\":[{\"group\":\"1\",\"owner\":\"a\",\"devices\":[]}],"
                 "\"intents\":[]}",
                 "s.json: claims[0]: 'group' must be an integer"},
                {"{\"version\":1,\"claims\":[{\"group\":1,\"owner\":\"a\",\"devices\":"
                 "[{\"address\":\"zz\",\"host_driver\":null}]}],\"intents\":[]}",
                 "s.json: claims[0].devices[0]: 'address': expected hexadecimal digits, as in "
                 "0000:01:00.0"},
                {"{\"version\":1,\"claims\":[{\"group\":1,\"owner\":\"a\",\"devices\":[]},"
                 "{\"group\":1,\"owner\":\"b\",\"devices\":[]}],\"intents\":[]}",
                 "s.json: claims[1]: group 1 is claimed twice"},
                {"{\"version\":1,\"claims\":[],\"intents\":[{\"group\":1,\"op\":\"steal\","
                 "\"owner\":null,\"steps\":[]}]}",
                 "s.json: intents[0]: 'op' must be assign, release or rebind, not 'steal'"},
                {"{\"version\":1,\"claims\":[],\"intents\":[{\"group\":1,\"op\":\"assign\","
                 "\"owner\":null,\"steps\":[{\"address\":\"01:00.0\",\"from\":3,\"to\":null,"
                 "\"from_override\":null}]}]}",
                 "s.json: intents[0].steps[0]: 'from' must be a string or null"},
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(iom_journal_freep) struct iom_journal *j = NULL;
                _cleanup_free_ char *error = NULL;

                ASSERT_EQ(iom_journal_from_json(table[i].text, "s.json", &j, &error), -EBADMSG);
                ASSERT_STREQ(error, table[i].error);
                ASSERT_TRUE(j == NULL);
        }
}

static void test_move_aside(void) {
        char dir[] = "/tmp/test-journal-XXXXXX", path[64];
        _cleanup_free_ char *aside = NULL, *text = NULL;
        FILE *f;

        ASSERT_TRUE(mkdtemp(dir));
        (void) snprintf(path, sizeof(path), "%s/state.json", dir);
        f = fopen(path, "we");
        ASSERT_TRUE(f);
        fputs("garbage", f);
        fclose(f);
        ASSERT_EQ(iom_journal_move_aside(path, &aside), 0);
        ASSERT_TRUE(access(path, F_OK) < 0);
        ASSERT_EQ(iom_read_file(aside, 100, &text, NULL), 0);
        ASSERT_STREQ(text, "garbage");
        (void) unlink(aside);
        (void) rmdir(dir);
}

/* The libvirt hook's UUID is kept with the claim; claims without one, as every journal
 * before it had, read back without. */
static void test_claim_uuid(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = desktop();
        _cleanup_(iom_plan_freep) struct iom_plan *p = assign_plan(inv);
        _cleanup_(iom_journal_freep) struct iom_journal *j = iom_journal_new(), *back = NULL,
                                                        *plain = NULL;
        _cleanup_free_ char *json = NULL, *without = NULL;

        ASSERT_EQ(iom_journal_claim(j, p, 1), 0);
        without = iom_journal_to_json(j);
        ASSERT_TRUE(without && !strstr(without, "uuid"));
        ASSERT_EQ(iom_journal_from_json(without, "state.json", &plain, NULL), 0);
        ASSERT_TRUE(!plain->claims[0].uuid);

        iom_journal_unclaim(j, 1);
        p->owner_uuid = strdup("4a9b3f53-fa2a-47f3-a757-dd87720d9d1d");
        ASSERT_EQ(iom_journal_claim(j, p, 1), 0);
        json = iom_journal_to_json(j);
        ASSERT_EQ(iom_journal_from_json(json, "state.json", &back, NULL), 0);
        ASSERT_STREQ(back->claims[0].uuid, "4a9b3f53-fa2a-47f3-a757-dd87720d9d1d");
}

/* Between owners: the claim keeps the rule's reset method, quarantine_after and the
 * d3cold_allowed to put back; a quarantine record (reason, no owner) and the last reset of
 * each device survive a save and a load. */
static void test_quarantine_and_resets(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = desktop();
        _cleanup_(iom_plan_freep) struct iom_plan *p = assign_plan(inv), *release = NULL;
        _cleanup_(iom_journal_freep) struct iom_journal *j = iom_journal_new(), *back = NULL;
        _cleanup_free_ char *json = NULL, *again = NULL;

        p->steps[0].reset_method = strdup("bus");
        p->steps[0].d3cold_was = IOM_D3COLD_WAS_ON;
        p->steps[1].quarantine_after = true;
        ASSERT_EQ(iom_journal_claim(j, p, 1), 0);
        ASSERT_STREQ(j->claims[0].devices[0].reset_method, "bus");
        ASSERT_EQ(j->claims[0].devices[0].d3cold_was, IOM_D3COLD_WAS_ON);
        ASSERT_TRUE(j->claims[0].quarantine_after);
        /* On disk as d3cold_allowed reads, and only where it was written. */
        json = iom_journal_to_json(j);
        ASSERT_TRUE(strstr(json, "\"d3cold_was\": \"1\"") != NULL);
        ASSERT_TRUE(strstr(json, "\"d3cold_was\": \"0\"") == NULL);
        ASSERT_EQ(iom_journal_from_json(json, "state.json", &back, NULL), 0);
        ASSERT_EQ(back->claims[0].devices[0].d3cold_was, IOM_D3COLD_WAS_ON);
        ASSERT_EQ(back->claims[0].devices[1].d3cold_was, IOM_D3COLD_UNTOUCHED);
        json = mfree(json);
        back = iom_journal_free(back);

        /* The release that quarantined it: the steps go home to where the claim said. */
        inv->groups[0]->owner = strdup("win11");
        ASSERT_EQ(iom_plan_release(inv, "win11", NULL, &release, NULL), 0);
        release->steps[0].reset_method = strdup("bus");
        release->steps[0].reset_result = strdup("the device does not offer 'bus'");
        release->steps[1].reset_result = strdup("ok");
        ASSERT_EQ(iom_journal_record_resets(j, release, 1), 0);
        iom_journal_unclaim(j, 1);
        ASSERT_EQ(iom_journal_quarantine(j, release, 1, "the reset failed"), 0);
        ASSERT_EQ(iom_journal_quarantine(j, release, 1, NULL), -EINVAL);

        json = iom_journal_to_json(j);
        ASSERT_EQ(iom_journal_from_json(json, "state.json", &back, NULL), 0);
        ASSERT_EQ(back->n_claims, 0);
        ASSERT_TRUE(!iom_journal_find_claim(back, 1));
        const struct iom_claim *q = iom_journal_find_quarantine(back, 1);
        ASSERT_TRUE(q);
        ASSERT_STREQ(q->reason, "the reset failed");
        ASSERT_TRUE(!q->owner && !q->quarantine_after);
        ASSERT_EQ(q->n_devices, 2);
        ASSERT_STREQ(q->devices[0].reset_method, "bus");
        const struct iom_reset_record *rec = iom_journal_find_reset(back, &release->steps[1].address);
        ASSERT_TRUE(rec);
        ASSERT_STREQ(rec->method, "default");
        ASSERT_STREQ(rec->result, "ok");
        ASSERT_EQ(back->n_resets, 2);
        again = iom_journal_to_json(back);
        ASSERT_STREQ(again, json);

        /* A second reset of a device replaces its record. */
        release->steps[0].reset_result = mfree(release->steps[0].reset_result);
        release->steps[1].reset_result = mfree(release->steps[1].reset_result);
        release->steps[1].reset_result = strdup("timed out");
        ASSERT_EQ(iom_journal_record_resets(back, release, 1), 0);
        ASSERT_EQ(back->n_resets, 2);
        ASSERT_STREQ(iom_journal_find_reset(back, &release->steps[1].address)->result,
                     "timed out");
        iom_journal_unquarantine(back, 1);
        ASSERT_EQ(back->n_quarantined, 0);
}

/* A quarantined device that leaves the host leaves the record, which goes with its last
 * device; what is left survives a save and a load. */
static void test_quarantine_device_leaves(void) {
        _cleanup_(iom_inventory_freep) struct iom_inventory *inv = desktop();
        _cleanup_(iom_plan_freep) struct iom_plan *release = NULL;
        _cleanup_(iom_journal_freep) struct iom_journal *j = iom_journal_new(), *back = NULL;
        _cleanup_free_ char *json = NULL;

        inv->groups[0]->owner = strdup("win11");
        ASSERT_EQ(iom_plan_release(inv, "win11", NULL, &release, NULL), 0);
        ASSERT_EQ(iom_journal_quarantine(j, release, 1, "the reset failed"), 0);
        ASSERT_EQ(j->quarantined[0].n_devices, 2);
        ASSERT_EQ(iom_journal_unquarantine_device(j, 2, &release->steps[0].address), -ENOENT);

        ASSERT_EQ(iom_journal_unquarantine_device(j, 1, &release->steps[0].address), 0);
        json = iom_journal_to_json(j);
        ASSERT_EQ(iom_journal_from_json(json, "state.json", &back, NULL), 0);
        const struct iom_claim *q = iom_journal_find_quarantine(back, 1);
        ASSERT_TRUE(q);
        ASSERT_EQ(q->n_devices, 1);
        ASSERT_TRUE(iom_address_equal(&q->devices[0].address, &release->steps[1].address));
        ASSERT_STREQ(q->reason, "the reset failed");
        ASSERT_EQ(iom_journal_unquarantine_device(back, 1, &release->steps[0].address), -ENOENT);

        ASSERT_EQ(iom_journal_unquarantine_device(back, 1, &release->steps[1].address), 1);
        ASSERT_EQ(back->n_quarantined, 0);
        ASSERT_TRUE(!iom_journal_find_quarantine(back, 1));
        ASSERT_EQ(iom_journal_unquarantine_device(NULL, 1, &release->steps[1].address), -EINVAL);
}

static void test_bad_quarantine_journals(void) {
        static const struct {
                const char *text, *error;
        } table[] = {
                {"{\"version\":1,\"claims\":[],\"intents\":[],\"quarantined\":[{\"group\":1,"
                 "\"owner\":\"a\",\"reason\":\"r\",\"devices\":[]}]}",
                 "s.json: quarantined[0]: unknown key 'owner'"},
                {"{\"version\":1,\"claims\":[],\"intents\":[],\"quarantined\":[{\"group\":1,"
                 "\"devices\":[]}]}",
                 "s.json: quarantined[0]: 'reason' is missing"},
                {"{\"version\":1,\"claims\":[{\"group\":1,\"owner\":\"a\",\"devices\":[]}],"
                 "\"intents\":[],\"quarantined\":[{\"group\":1,\"reason\":\"r\",\"devices\":[]}]}",
                 "s.json: quarantined[0]: group 1 is recorded twice"},
                {"{\"version\":1,\"claims\":[{\"group\":1,\"owner\":\"a\",\"devices\":"
                 "[{\"address\":\"01:00.0\",\"host_driver\":null,\"d3cold_was\":\"2\"}]}],"
                 "\"intents\":[]}",
                 "s.json: claims[0].devices[0]: 'd3cold_was' must be \"0\" or \"1\""},
                {"{\"version\":1,\"claims\":[],\"intents\":[],\"resets\":[{\"address\":"
                 "\"01:00.0\",\"method\":\"flr\",\"result\":\"ok\"},{\"address\":\"0000:01:00.0\","
                 "\"method\":\"bus\",\"result\":\"ok\"}]}",
                 "s.json: resets[1]: a second record of the same device"},
                {"{\"version\":1,\"claims\":[],\"intents\":[],\"resets\":[{\"address\":"
                 "\"01:00.0\",\"method\":\"flr\"}]}",
                 "s.json: resets[0]: 'result' is missing"},
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(iom_journal_freep) struct iom_journal *j = NULL;
                _cleanup_free_ char *error = NULL;

                ASSERT_EQ(iom_journal_from_json(table[i].text, "s.json", &j, &error), -EBADMSG);
                ASSERT_STREQ(error, table[i].error);
        }
}

/* The resets stay sorted by address however they come, from a release or from a file: a
 * lookup is a binary search, and each device keeps one record. */
static void test_resets_sorted(void) {
        _cleanup_(iom_journal_freep) struct iom_journal *j = iom_journal_new(), *back = NULL;
        _cleanup_free_ char *json = NULL;
        struct iom_reset_record *rec;
        struct iom_address a = {};
        enum { N = 300 };

        ASSERT_TRUE(j);
        /* Descending, with every third address asked twice. */
        for (unsigned i = N; i > 0; i--) {
                a.bus = i / 8;
                a.slot = i % 8;
                ASSERT_EQ(iom_journal_reset_record(j, &a, &rec), 1);
                ASSERT_TRUE(rec->method = strdup("flr"));
                ASSERT_TRUE(rec->result = strdup("ok"));
                if (i % 3 == 0) {
                        ASSERT_EQ(iom_journal_reset_record(j, &a, &rec), 0);
                        ASSERT_TRUE(iom_address_equal(&rec->address, &a));
                }
        }
        ASSERT_EQ(j->n_resets, N);
        for (size_t i = 1; i < j->n_resets; i++) {
                const struct iom_address *before = &j->resets[i - 1].address;
                ASSERT_TRUE(iom_address_compare(before, &j->resets[i].address) < 0);
        }
        for (unsigned i = 1; i <= N; i++) {
                a.bus = i / 8;
                a.slot = i % 8;
                ASSERT_TRUE(iom_journal_find_reset(j, &a) == &j->resets[i - 1]);
        }
        a.bus = 0xff;
        ASSERT_TRUE(!iom_journal_find_reset(j, &a));

        /* A file in another order (a journal from before) reads sorted. */
        ASSERT_EQ(iom_journal_from_json(
                          "{\"version\":1,\"claims\":[],\"intents\":[],\"resets\":["
                          "{\"address\":\"0000:02:00.0\",\"method\":\"flr\",\"result\":\"ok\"},"
                          "{\"address\":\"0000:01:00.1\",\"method\":\"bus\",\"result\":\"ok\"},"
                          "{\"address\":\"0000:01:00.0\",\"method\":\"pm\",\"result\":\"x\"}]}",
                          "s.json", &back, NULL),
                  0);
        ASSERT_EQ(back->n_resets, 3);
        ASSERT_STREQ(back->resets[0].method, "pm");
        ASSERT_STREQ(back->resets[1].method, "bus");
        ASSERT_STREQ(back->resets[2].method, "flr");
        ASSERT_TRUE(iom_address_parse("0000:01:00.1", &a, NULL) >= 0);
        ASSERT_STREQ(iom_journal_find_reset(back, &a)->method, "bus");
}

IOM_TEST_MAIN(IOM_TEST(test_round_trip), IOM_TEST(test_save_load), IOM_TEST(test_failed_save),
              IOM_TEST(test_stale_temporaries), IOM_TEST(test_bad_journals),
              IOM_TEST(test_move_aside), IOM_TEST(test_claim_uuid),
              IOM_TEST(test_quarantine_and_resets), IOM_TEST(test_quarantine_device_leaves),
              IOM_TEST(test_bad_quarantine_journals), IOM_TEST(test_resets_sorted))
