/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mapping core over D-Bus, end to end: a client on the bus $DBUS_SYSTEM_BUS_ADDRESS (a
 * private dbus-daemon with iommud on it: bench/bench-dbus.py starts both) creates a space,
 * MapBatches 10^5 pages, translates and unmaps, beside the baselines of the same run: one
 * Map call per page, and the core in-process; and unmaps 10^5 scattered pages in one call
 * with and without a second connection listening to Unmapped. Prints one table; figures,
 * never a verdict. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "iom-space.h"
#include "macro.h"

#define PAGE IOM_SPACE_PAGE_SIZE
#define BATCH 100000u
#define SINGLE 10000u
#define TRANSLATES 10000u
#define ROUNDS 5
#define BASE UINT64_C(0x100000000)

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return (x > y) - (x < y);
}

/* @ns: per-operation samples (sorted here); prints median, p99 and the throughput. */
static void report(const char *workload, const char *impl, uint64_t *ns, size_t n) {
        qsort(ns, n, sizeof(*ns), cmp_u64);
        double median = (double) ns[n / 2], p99 = (double) ns[n * 99 / 100];

        printf("| %-50s | %-10s | %10.1f | %10.1f | %12.3g |\n", workload, impl, median, p99,
               1e9 / median);
}

static int die(const char *what, const sd_bus_error *error, int r) {
        fprintf(stderr, "bench-dbus: %s: %s\n", what,
                error && error->message ? error->message : strerror(-r));
        return EXIT_FAILURE;
}

static int wait_for_daemon(sd_bus *bus) {
        for (int i = 0; i < 400; i++) {
                int r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                           "org.freedesktop.DBus", "GetNameOwner", NULL, NULL, "s",
                                           "org.iommud1");
                if (r >= 0)
                        return 0;
                usleep(50 * 1000);
        }
        return -ETIMEDOUT;
}

/* MapBatch of BATCH pages at BASE, @stride pages apart (1: adjacent). */
static int map_batch(sd_bus *bus, const char *space, uint64_t stride, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, "org.iommud1", space, "org.iommud1.Space",
                                           "MapBatch");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(tttu)");
        for (uint32_t i = 0; r >= 0 && i < BATCH; i++)
                r = sd_bus_message_append(m, "(tttu)", BASE + stride * i * PAGE, PAGE, i * PAGE,
                                          (uint32_t) 3);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_call(bus, m, 120 * 1000000ull, error, NULL);
        return r;
}

static int unmap_all(sd_bus *bus, const char *space, uint64_t pages, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint64_t unmapped;
        int r;

        r = sd_bus_call_method(bus, "org.iommud1", space, "org.iommud1.Space", "Unmap", error,
                               &reply, "tt", BASE, pages * PAGE);
        if (r >= 0)
                r = sd_bus_message_read(reply, "t", &unmapped);
        if (r >= 0 && unmapped != pages * PAGE)
                r = -EIO;
        return r;
}

static int count_unmapped(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        size_t *n = userdata;
        uint64_t iova, size;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "(tt)");
        while (r >= 0 && (r = sd_bus_message_read(m, "(tt)", &iova, &size)) > 0)
                (*n)++;
        return 0;
}

/* Unmap of 10^5 scattered pages in one call, with @listener (a second connection, or NULL)
 * subscribed to the space's signals: nanoseconds per range until the reply, and until the
 * listener has every range. */
static int bulk_unmap(sd_bus *bus, sd_bus *listener, const char *space, uint64_t *ret_reply,
                      uint64_t *ret_heard) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *match = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        size_t heard = 0;
        uint64_t t0;
        int r;

        if (listener) {
                r = sd_bus_match_signal(listener, &match, "org.iommud1", space, "org.iommud1.Space",
                                        "Unmapped", count_unmapped, &heard);
                if (r < 0)
                        return die("AddMatch", NULL, r);
        }
        r = map_batch(bus, space, 2, &error);
        if (r < 0)
                return die("MapBatch", &error, r);
        t0 = now_ns();
        r = unmap_all(bus, space, 2 * BATCH, &error);
        if (r == -EIO) /* half the range is holes: the reply counts what was mapped */
                r = 0;
        if (r < 0)
                return die("Unmap", &error, r);
        *ret_reply = (now_ns() - t0) / BATCH;
        while (listener && heard < BATCH) {
                r = sd_bus_process(listener, NULL);
                if (r == 0)
                        r = sd_bus_wait(listener, 10 * 1000000ull);
                if (r < 0)
                        return die("waiting for Unmapped", NULL, r);
        }
        *ret_heard = (now_ns() - t0) / BATCH;
        return 0;
}

static int bench_bulk_unmap(sd_bus *bus, sd_bus *listener, const char *space) {
        uint64_t quiet[ROUNDS], reply[ROUNDS], heard[ROUNDS];
        int r;

        for (int round = 0; round < ROUNDS; round++) {
                uint64_t ignored;
                r = bulk_unmap(bus, NULL, space, &quiet[round], &ignored);
                if (r == 0)
                        r = bulk_unmap(bus, listener, space, &reply[round], &heard[round]);
                if (r != 0)
                        return r;
        }
        report("Unmap 10^5 scattered x 4K, no listener (per range)", "D-Bus", quiet, ROUNDS);
        report("the same, one listener: until the reply", "D-Bus", reply, ROUNDS);
        report("the same, one listener: until it heard all", "D-Bus", heard, ROUNDS);
        return 0;
}

static int bench_bus(sd_bus *bus, const char *space) {
        static uint64_t samples[TRANSLATES > SINGLE ? TRANSLATES : SINGLE];
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t batch[ROUNDS], unmap[ROUNDS];
        int r;

        for (int round = 0; round < ROUNDS; round++) {
                uint64_t t0 = now_ns();
                r = map_batch(bus, space, 1, &error);
                if (r < 0)
                        return die("MapBatch", &error, r);
                uint64_t t1 = now_ns();
                r = unmap_all(bus, space, BATCH, &error);
                if (r < 0)
                        return die("Unmap", &error, r);
                batch[round] = (t1 - t0) / BATCH;
                unmap[round] = (now_ns() - t1) / BATCH;
        }
        report("MapBatch 10^5 x 4K, end to end (per mapping)", "D-Bus", batch, ROUNDS);
        report("Unmap 10^5 x 4K in one call (per mapping)", "D-Bus", unmap, ROUNDS);

        /* The baseline a client without MapBatch has: one call per page. */
        for (uint32_t i = 0; i < SINGLE; i++) {
                uint64_t t0 = now_ns();
                r = sd_bus_call_method(bus, "org.iommud1", space, "org.iommud1.Space", "Map",
                                       &error, NULL, "tttu", BASE + i * PAGE, PAGE, i * PAGE,
                                       (uint32_t) 3);
                if (r < 0)
                        return die("Map", &error, r);
                samples[i] = now_ns() - t0;
        }
        report("Map 10^4 x 4K, one call each (per mapping)", "D-Bus", samples, SINGLE);

        for (uint32_t i = 0; i < TRANSLATES; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                uint64_t t0 = now_ns();
                r = sd_bus_call_method(bus, "org.iommud1", space, "org.iommud1.Space", "Translate",
                                       &error, &reply, "tu", BASE + (i * 7919u % SINGLE) * PAGE,
                                       (uint32_t) 1);
                if (r < 0)
                        return die("Translate", &error, r);
                samples[i] = now_ns() - t0;
        }
        report("Translate, one call each", "D-Bus", samples, TRANSLATES);
        r = unmap_all(bus, space, SINGLE, &error);
        return r < 0 ? die("Unmap", &error, r) : 0;
}

/* The same work without the bus: what the daemon's side costs. */
static int bench_in_process(void) {
        static uint64_t samples[TRANSLATES];
        struct iom_space *s;
        uint64_t batch[ROUNDS], target, contiguous;
        unsigned prot;
        int r;

        r = iom_space_new(NULL, &s);
        if (r < 0)
                return die("iom_space_new", NULL, r);
        for (int round = 0; round < ROUNDS; round++) {
                uint64_t t0 = now_ns();
                for (uint32_t i = 0; i < BATCH && r >= 0; i++)
                        r = iom_space_map(s, BASE + i * PAGE, PAGE, i * PAGE, 3);
                batch[round] = (now_ns() - t0) / BATCH;
                if (r >= 0 && round < ROUNDS - 1)
                        r = iom_space_unmap(s, BASE, BATCH * PAGE, NULL);
                if (r < 0)
                        return die("map/unmap", NULL, r);
        }
        report("MapBatch 10^5 x 4K, end to end (per mapping)", "in-process", batch, ROUNDS);
        for (uint32_t i = 0; i < TRANSLATES; i++) {
                uint64_t t0 = now_ns();
                r = iom_space_translate(s, BASE + (i * 7919u % SINGLE) * PAGE, 1, &target, &prot,
                                        &contiguous);
                samples[i] = now_ns() - t0;
                if (r < 0)
                        return die("translate", NULL, r);
        }
        report("Translate, one call each", "in-process", samples, TRANSLATES);
        iom_space_free(s);
        return 0;
}

int main(void) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL, *listener = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *path;
        char *space;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return die("cannot connect to the bus", NULL, r);
        if (wait_for_daemon(bus) < 0)
                return die("iommud did not come onto the bus", NULL, -ETIMEDOUT);
        r = sd_bus_call_method(bus, "org.iommud1", "/org/iommud1", "org.iommud1.Manager",
                               "CreateSpace", &error, &reply, "sa{sv}", "bench", 0);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return die("CreateSpace", &error, r);
        space = strdupa(path);

        printf("bench-dbus: iommud on a private dbus-daemon, one client, 4 KiB pages\n\n");
        printf("| %-50s | %-10s | %10s | %10s | %12s |\n", "workload", "impl", "median ns",
               "p99 ns", "ops/s");
        printf("|----------------------------------------------------|------------|------------|"
               "------------|--------------|\n");
        r = bench_bus(bus, space);
        if (r == 0)
                r = sd_bus_open_system(&listener) < 0 ? EXIT_FAILURE : 0;
        if (r == 0)
                r = bench_bulk_unmap(bus, listener, space);
        if (r != 0)
                return r;
        r = bench_in_process();
        if (r != 0)
                return r;
        printf("\nper mapping: the call's wall time over the pages it maps (median of %d "
               "rounds); per call otherwise\n",
               ROUNDS);
        return 0;
}
