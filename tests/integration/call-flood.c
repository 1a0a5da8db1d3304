/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A caller with a huge argument, and a bystander: sends Manager.Assign with N device names on
 * one connection and, once it is out, reads Manager.Version on another. Prints one JSON line
 * for tests/integration/test-auth.py: the call's error and milliseconds from sending to its
 * answer (read after the bystander's, so an upper bound), the same for Peer.Ping carrying the
 * same bytes (the cost of the bus and the socket alone, which the daemon's filter does not
 * change), the bystander's milliseconds, and the CPU time the daemon (PID, the second
 * argument) spent on each: on a busy machine the wall clock measures the bus more than the
 * daemon. Messages are built before the clock starts. Usage: call-flood [N [PID]]. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-bus.h>

#include "macro.h"

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct answer {
        double at;
        char *error;
};

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        struct answer *a = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        a->at = now_ms();
        a->error = strdup(e ? e->name : "");
        return 0;
}

static int fail(const char *what, int r) {
        fprintf(stderr, "call-flood: %s: %s\n", what, strerror(-r));
        return EXIT_FAILURE;
}

/* Milliseconds process @pid has spent on a CPU (/proc/PID/schedstat, in ns), or 0. */
static double cpu_ms(const char *pid) {
        char path[64];
        unsigned long long ns = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%s/schedstat", pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        if (fscanf(f, "%llu", &ns) != 1)
                ns = 0;
        fclose(f);
        return ns / 1e6;
}

/* Sends Manager.Assign (or, for @baseline, Peer.Ping: the same bytes, which the daemon
 * answers without looking at them) with @n names; while it is out, @bystander reads the
 * daemon's Version. Returns milliseconds to the answer, or a negative errno. */
static double flood(sd_bus *caller, sd_bus *bystander, unsigned long n, bool baseline,
                    double *ret_other, char **ret_error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        struct answer big = {};
        double sent;
        char *version;
        int r;

        r = baseline ? sd_bus_message_new_method_call(caller, &call, "org.iommud1", "/org/iommud1",
                                                      "org.freedesktop.DBus.Peer", "Ping")
                     : sd_bus_message_new_method_call(caller, &call, "org.iommud1", "/org/iommud1",
                                                      "org.iommud1.Manager", "Assign");
        if (r >= 0)
                r = sd_bus_message_append(call, "s", "win11");
        if (r >= 0)
                r = sd_bus_message_open_container(call, 'a', "s");
        for (unsigned long i = 0; r >= 0 && i < n; i++) {
                char name[32];
                snprintf(name, sizeof(name), "0000:%02lx:%02lx.%lu", (i >> 8) & 0xff,
                         (i >> 3) & 0x1f, i & 7);
                r = sd_bus_message_append_basic(call, 's', name);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(call);
        if (r >= 0)
                r = sd_bus_message_append(call, "a{sv}", 0);
        if (r < 0)
                return r;

        sent = now_ms();
        r = sd_bus_call_async(caller, &slot, call, on_reply, &big, 60 * 1000000ULL);
        if (r < 0)
                return r;
        /* The big message takes a while to leave: it is out before the bystander asks. */
        r = sd_bus_flush(caller);
        if (r < 0)
                return r;
        r = sd_bus_get_property_string(bystander, "org.iommud1", "/org/iommud1",
                                       "org.iommud1.Manager", "Version", NULL, &version);
        if (r < 0)
                return r;
        free(version);
        *ret_other = now_ms() - sent;
        while (!big.error) {
                r = sd_bus_process(caller, NULL);
                if (r == 0)
                        r = sd_bus_wait(caller, 60 * 1000000ULL);
                if (r < 0)
                        return r;
        }
        *ret_error = big.error;
        return big.at - sent;
}

int main(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *caller = NULL, *bystander = NULL;
        unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
        const char *pid = argc > 2 ? argv[2] : "0";
        double best[2] = {1e9, 1e9}, cpu[2] = {1e9, 1e9}, other = 0;
        char *error = NULL;
        int r;

        r = sd_bus_open_system(&caller);
        if (r >= 0)
                r = sd_bus_open_system(&bystander);
        if (r < 0)
                return fail("cannot connect to the bus", r);
        /* Three rounds each, the best kept: the bus's own cost of carrying 10^6 names varies. */
        for (int round = 0; round < 6; round++) {
                bool baseline = round % 2 == 0;
                double o = 0, ms, used = cpu_ms(pid);

                free(error);
                error = NULL;
                ms = flood(caller, bystander, n, baseline, &o, &error);
                if (ms < 0)
                        return fail(baseline ? "the baseline call" : "the call", (int) ms);
                best[baseline] = MIN(best[baseline], ms);
                cpu[baseline] = MIN(cpu[baseline], cpu_ms(pid) - used);
                if (!baseline)
                        other = MAX(other, o);
        }
        printf("{\"error\": \"%s\", \"ms\": %.1f, \"baseline_ms\": %.1f, \"other_ms\": %.1f, "
               "\"cpu_ms\": %.1f, \"baseline_cpu_ms\": %.1f}\n",
               error, best[0], best[1], other, cpu[0], cpu[1]);
        free(error);
        return EXIT_SUCCESS;
}
