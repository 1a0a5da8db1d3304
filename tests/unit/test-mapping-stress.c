/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Readers translate without a lock while a writer maps, splits and unmaps: no torn entry, and
 * once unmap has returned no reader is handed the old target. Then readers write all over a
 * space with dirty tracking on, far faster than the writer refills the pools their bitmaps
 * grow from, while the writer reads and clears: no written page goes unreported. Then the
 * streaming ring at full speed, in the tree, the hashed form (its table copied and retired
 * under the readers) and the small form: no reader is handed what a grace period freed, nor
 * misses a page mapped all along; and with readers that live for a few translates, each
 * registering while the writer, alone, frees at once. Built under ThreadSanitizer, with what grace
 * periods free poisoned, and plainly. Usage: test-mapping-stress [TEST...], TAP on stdout;
 * IOM_MAPPING_STRESS_OPS=N (writer operations, 20000) and IOM_MAPPING_STRESS_READERS=N (2, at
 * most 16) set the run. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "iom-space-internal.h"
#include "iom-space.h"
#include "macro.h"
#include "tests.h"

#define PAGE IOM_SPACE_PAGE_SIZE
#define REGIONS 64
#define REGION_PAGES 64
/* Regions past REGIONS are whole 2 MiB leaves mapped page by page: linear leaves. */
#define LEAVES 4
#define LEAF_PAGES 512
/* Past those, one-page regions strewn 8 to a 1 GiB line of a packed node. */
#define STREWN 128
#define STREWN_PER_LINE 8
#define ALL (REGIONS + LEAVES + STREWN)
#define HOLE_FIRST 16
#define HOLE_LAST 47

/* Region r lives at base(r): even regions packed together, odd ones strewn far apart, so both
 * radix leaves and compact nodes change under the readers; leaf regions fill a radix leaf one
 * page at a time, so its linear summary comes and goes under them; strewn regions come and go
 * in the lines of a packed node, which hold them in themselves up to 7 and overflow to a
 * compact at 8. Version v of region r maps page p to target (v << 32) | (r << 24) | p * PAGE:
 * a reader can tell what it was handed. */
static uint64_t base(unsigned r) {
        unsigned k = r - REGIONS - LEAVES;

        if (r >= REGIONS + LEAVES)
                return (UINT64_C(1) << 41) + ((uint64_t) (k % (STREWN / STREWN_PER_LINE)) << 30) +
                       ((uint64_t) (k / (STREWN / STREWN_PER_LINE)) << 21);
        if (r >= REGIONS)
                return (UINT64_C(1) << 40) + (uint64_t) (r - REGIONS) * LEAF_PAGES * PAGE;
        return r % 2 ? (uint64_t) r << 38 : (UINT64_C(1) << 32) + r * REGION_PAGES * PAGE;
}

static unsigned pages_of(unsigned r) {
        return r >= REGIONS + LEAVES ? 1 : r >= REGIONS ? LEAF_PAGES : REGION_PAGES;
}

static uint64_t target_of(unsigned r, uint64_t v) {
        return (v << 32) | ((uint64_t) r << 24);
}

static struct iom_space *space;
static uint64_t version[ALL];   /* the version mapped (or last mapped), writer's */
static uint64_t gone[ALL];      /* versions <= this were fully unmapped */
static uint64_t hole_gone[ALL]; /* versions <= this lost pages HOLE_FIRST..HOLE_LAST */
static int done, errors;
static uint64_t translated;

static uint64_t rnd(uint64_t *x) {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        return *x;
}

static void *reader(void *arg) {
        uint64_t x = (uintptr_t) arg * 7919 + 1, n = 0;

        while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
                unsigned r = rnd(&x) % ALL, p = rnd(&x) % pages_of(r);
                uint64_t g = __atomic_load_n(&gone[r], __ATOMIC_ACQUIRE);
                uint64_t h = __atomic_load_n(&hole_gone[r], __ATOMIC_ACQUIRE);
                uint64_t t, len, v;
                unsigned prot;
                int k;

                k = iom_space_translate(space, base(r) + p * PAGE + 8, 1 + rnd(&x) % 3, &t, &prot,
                                        &len);
                n++;
                if (k == -ENOENT)
                        continue;
                if (k < 0) {
                        fprintf(stderr, "region %u page %u: unexpected %d\n", r, p, k);
                        __atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
                        continue;
                }
                v = t >> 32;
                if (((t >> 24) & 0xff) != r || (t & 0xffffff) != p * PAGE + 8 || prot != 3 ||
                    len > (pages_of(r) - p) * PAGE - 8) {
                        fprintf(stderr,
                                "region %u page %u: torn answer 0x%" PRIx64 " len %" PRIu64 "\n", r,
                                p, t, len);
                        __atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
                }
                if (v <= g || (p >= HOLE_FIRST && p <= HOLE_LAST && v <= h)) {
                        fprintf(stderr,
                                "region %u page %u: handed version %" PRIu64
                                " after its unmap returned\n",
                                r, p, v);
                        __atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
                }
        }
        __atomic_add_fetch(&translated, n, __ATOMIC_RELAXED);
        return NULL;
}

static int unmap(uint64_t iova, uint64_t pages) {
        uint64_t removed;
        int k = iom_space_unmap(space, iova, pages * PAGE, &removed);

        return k < 0 ? k : (int) (removed / PAGE);
}

static int writer(unsigned ops) {
        static uint8_t bitmap[LEAF_PAGES / 8];
        bool mapped[ALL] = {};
        uint64_t x = 12345;

        for (unsigned i = 0; i < ops; i++) {
                unsigned r = rnd(&x) % ALL, pages = pages_of(r);
                int k = 0;

                if (!mapped[r]) {
                        version[r]++;
                        if (r < REGIONS)
                                k = iom_space_map(space, base(r), pages * PAGE,
                                                  target_of(r, version[r]), IOM_SPACE_RW);
                        for (unsigned p = 0; r >= REGIONS && k >= 0 && p < pages; p++)
                                k = iom_space_map(space, base(r) + p * PAGE, PAGE,
                                                  target_of(r, version[r]) + p * PAGE,
                                                  IOM_SPACE_RW);
                        if (k < 0)
                                return k;
                        mapped[r] = true;
                } else if (pages > HOLE_LAST && rnd(&x) % 2) {
                        /* Punch the hole first (a split), then the rest. */
                        k = unmap(base(r) + HOLE_FIRST * PAGE, HOLE_LAST - HOLE_FIRST + 1);
                        if (k != HOLE_LAST - HOLE_FIRST + 1)
                                return -EIO;
                        __atomic_store_n(&hole_gone[r], version[r], __ATOMIC_RELEASE);
                        if (unmap(base(r), pages) != (int) pages - k)
                                return -EIO;
                        __atomic_store_n(&gone[r], version[r], __ATOMIC_RELEASE);
                        mapped[r] = false;
                } else {
                        if (unmap(base(r), pages) != (int) pages)
                                return -EIO;
                        __atomic_store_n(&gone[r], version[r], __ATOMIC_RELEASE);
                        mapped[r] = false;
                }
                if (i % 97 == 0) {
                        k = iom_space_set_dirty_tracking(space, i % 2);
                        if (k < 0)
                                return k;
                }
                if (i % 13 == 0 && iom_space_get_dirty_tracking(space)) {
                        k = iom_space_get_dirty(space, base(r), pages * PAGE, true, bitmap,
                                                sizeof(bitmap));
                        if (k < 0)
                                return k;
                }
        }
        return 0;
}

/* The dirty run: one mapping of DIRTY_PAGES; readers write to random pages of it and set their
 * bits in "written" once translate returned, the writer ORs what get_dirty reports into
 * "reported". Every written page is reported by a read that follows. */
#define DIRTY_BASE (UINT64_C(1) << 32)
#define DIRTY_PAGES (UINT64_C(1) << 24) /* 64 GiB: 4096 leaves, 8 nodes of bitmaps */
#define DIRTY_BYTES (DIRTY_PAGES / 8)

static uint8_t *written, *reported, *scratch;
static uint64_t writes;

static void *dirty_reader(void *arg) {
        uint64_t x = (uintptr_t) arg * 104729 + 3, n = 0;

        while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
                uint64_t p = rnd(&x) % DIRTY_PAGES, t;
                int k = iom_space_translate(space, DIRTY_BASE + p * PAGE, IOM_SPACE_WRITE, &t, NULL,
                                            NULL);

                if (k < 0) {
                        fprintf(stderr, "dirty page %" PRIu64 ": unexpected %d\n", p, k);
                        __atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
                        continue;
                }
                (void) __atomic_fetch_or(&written[p / 8], 1u << p % 8, __ATOMIC_RELAXED);
                if (++n % 256 == 0)
                        __atomic_add_fetch(&writes, 256, __ATOMIC_RELAXED);
        }
        return NULL;
}

/* get_dirty of pages [first, first + 8 * bytes) with @clear, ORed into reported. */
static int collect(uint64_t first, uint64_t bytes, bool clear) {
        int k = iom_space_get_dirty(space, DIRTY_BASE + first * PAGE, bytes * 8 * PAGE, clear,
                                    scratch, bytes);

        for (uint64_t i = 0; k >= 0 && i < bytes; i++)
                reported[first / 8 + i] |= scratch[i];
        return k;
}

static int dirty_run(unsigned n, unsigned rounds) {
        struct iom_space_stats st;
        pthread_t threads[16];
        uint64_t x = 777, lost = 0, extra = 0;
        int k;

        written = calloc(DIRTY_BYTES, 1);
        reported = calloc(DIRTY_BYTES, 1);
        scratch = malloc(DIRTY_BYTES);
        if (!written || !reported || !scratch || iom_space_new(NULL, &space) < 0 ||
            iom_space_map(space, DIRTY_BASE, DIRTY_PAGES * PAGE, 0, IOM_SPACE_RW) < 0 ||
            iom_space_set_dirty_tracking(space, true) < 0)
                return -ENOMEM;
        done = 0;
        for (unsigned i = 0; i < n; i++)
                if (pthread_create(&threads[i], NULL, dirty_reader, (void *) (uintptr_t) (i + 1)))
                        return -EAGAIN;
        /* No writer call until the readers wrote to far more places than the pools hold. */
        while (__atomic_load_n(&writes, __ATOMIC_RELAXED) < 20000)
                ;
        for (unsigned i = 0; i < rounds; i++) {
                /* Ranges of 8 pages to 1 GiB, at 8-page boundaries: most cut spans in part. */
                uint64_t bytes = 1 + rnd(&x) % (DIRTY_BYTES / 64);
                uint64_t first = rnd(&x) % (DIRTY_BYTES - bytes) * 8;

                k = collect(first, bytes, rnd(&x) % 4 != 0);
                if (k < 0)
                        return k;
        }
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
        for (unsigned i = 0; i < n; i++)
                (void) pthread_join(threads[i], NULL);
        k = collect(0, DIRTY_BYTES, true);
        iom_space_get_stats(space, &st);
        for (uint64_t i = 0; k >= 0 && i < DIRTY_BYTES; i++) {
                lost += __builtin_popcount(written[i] & ~reported[i]);
                extra += __builtin_popcount(reported[i] & ~written[i]);
        }
        printf("# dirty: %" PRIu64 " writes, %" PRIu64 " overflows, %" PRIu64
               " pages reported not written, %" PRIu64 " written not reported\n",
               writes, st.dirty_overflows, extra, lost);
        iom_space_free(space);
        free(written);
        free(reported);
        free(scratch);
        if (k < 0)
                return k;
        /* The run must have drained the pools, or it proved nothing. */
        return lost || st.dirty_overflows == 0 ? -EIO : 0;
}

static unsigned ops = 20000, readers = 2;

/* The streaming ring at full speed: ring one-page mappings, each step unmapping the oldest and
 * mapping the next, half of them strewn over 48 bits (records in packed nodes' lines), half
 * packed in 64 MiB (compacts and radix nodes, rebuilt and retired), while readers translate
 * the pages of the last steps. Step i maps ring_page(i) to its own canary target: a record or
 * node reused before every reader left it (the sanitized builds poison what a grace period
 * frees) hands out something else. And the memory retired for reclamation stays bounded. */
#define RING_CLUSTER_PAGES (UINT64_C(1) << 14)

static uint64_t head, ring;

static uint64_t ring_iova(uint64_t i) {
        /* Multiplying by an odd number permutes the residues: no two live steps collide. */
        uint64_t m = i / 2 * UINT64_C(0x9e3779b97f4a7c15);

        return (i % 2 ? RING_CLUSTER_PAGES + m % (UINT64_C(1) << 35) : m % RING_CLUSTER_PAGES) *
               PAGE;
}

static uint64_t ring_target(uint64_t i) {
        return (i % (UINT64_C(1) << 30) + 1) * PAGE;
}

/* One translate of a page of the last steps, checked; false when the ring is not full yet. */
static bool ring_check(uint64_t *x) {
        uint64_t h = __atomic_load_n(&head, __ATOMIC_ACQUIRE), i, j, t;
        int k;

        if (h < 2 * ring)
                return false;
        /* Live ones, and some unmapped a moment ago. */
        i = h - 1 - rnd(x) % (ring + ring / 8 + 1);
        k = iom_space_translate(space, ring_iova(i), IOM_SPACE_READ, &t, NULL, NULL);
        /* Step i + ring unmaps page i; while head stays below, it was not begun: a
         * page mapped all along must be found (a table published before it was
         * filled would lose it). A strewn page may fall in the MSI window. */
        if (k == -ENOENT && i + ring > __atomic_load_n(&head, __ATOMIC_ACQUIRE) &&
            (ring_iova(i) < IOM_SPACE_MSI_FIRST || ring_iova(i) > IOM_SPACE_MSI_LAST)) {
                fprintf(stderr, "ring step %" PRIu64 ": not found while mapped\n", i);
                __atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
        }
        if (k == -ENOENT)
                return true;
        /* A reader preempted for long may find the IOVA mapped again by a later step
         * (the packed half comes back every 2 * RING_CLUSTER_PAGES steps). */
        j = t / PAGE - 1;
        if (k == 0 && j > i && j < __atomic_load_n(&head, __ATOMIC_ACQUIRE) &&
            ring_iova(j) == ring_iova(i) && t == ring_target(j))
                return true;
        if (k < 0 || t != ring_target(i)) {
                fprintf(stderr, "ring step %" PRIu64 ": %d, target 0x%" PRIx64 "\n", i, k,
                        k < 0 ? 0 : t);
                __atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
        }
        return true;
}

static void *ring_reader(void *arg) {
        uint64_t x = (uintptr_t) arg * 6151 + 5, n = 0;

        while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE))
                n += ring_check(&x);
        __atomic_add_fetch(&translated, n, __ATOMIC_RELAXED);
        return NULL;
}

/* A reader that lives for one to four translates: its first one registers it (iom-rcu.h) at
 * any instant of the writer's, perhaps while the writer, alone a moment before, frees what it
 * just unpublished without a grace period. */
static uint64_t visitors, visitors_min;

static void *ring_visitor(void *arg) {
        uint64_t x = (uintptr_t) arg, n = 0, count = 1 + x % 4;

        for (unsigned i = 0; i < count;)
                if (ring_check(&x))
                        n++, i++;
                else if (__atomic_load_n(&done, __ATOMIC_ACQUIRE))
                        break;
        __atomic_add_fetch(&translated, n, __ATOMIC_RELAXED);
        return NULL;
}

/* Starts visitors one after the other until the run ends: the writer is mostly alone. */
static void *ring_spawner(void *arg) {
        uint64_t n = 0;

        while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
                pthread_t t;

                if (pthread_create(&t, NULL, ring_visitor,
                                   (void *) (uintptr_t) ((uintptr_t) arg * 7919 + n * 6151 + 5)) !=
                    0)
                        abort();
                (void) pthread_join(t, NULL);
                __atomic_add_fetch(&visitors, 1, __ATOMIC_RELAXED);
                n++;
        }
        return NULL;
}

/* @size live mappings: 1024 take the hashed form (its table copied and retired every few
 * hundred steps), or with @tree a tree (one mapping of two pages first, far away); 6 keep
 * the space in its small form (struct small, rebuilt and retired at every step). */
static void ring_run(uint64_t size, bool tree, unsigned times, uint64_t memory_max,
                     void *(*thread)(void *) ) {
        uint64_t steps = MAX((uint64_t) ops * 5, (uint64_t) 100000) * times, removed, peak = 0,
                 step;
        struct iom_space_stats st;
        pthread_t threads[16];

        ring = size;
        head = 0;
        errors = 0;
        done = 0;
        translated = 0;
        ASSERT_EQ(iom_space_new(NULL, &space), 0);
        if (tree)
                ASSERT_EQ(iom_space_map(space, UINT64_C(1) << 46, 2 * PAGE, 0, IOM_SPACE_READ), 0);
        for (unsigned i = 0; i < readers; i++)
                ASSERT_EQ(pthread_create(&threads[i], NULL, thread, (void *) (uintptr_t) (i + 1)),
                          0);
        /* Visitors come slower than steps go: the run lasts until enough came. */
        visitors = 0;
        for (step = 0; step < steps ||
                       __atomic_load_n(&visitors, __ATOMIC_RELAXED) < (readers ? visitors_min : 0);
             step++) {
                int k;

                if (step >= ring)
                        ASSERT_EQ(iom_space_unmap(space, ring_iova(step - ring), PAGE, &removed),
                                  0);
                k = iom_space_map(space, ring_iova(step), PAGE, ring_target(step), IOM_SPACE_READ);
                /* A strewn page may fall in the MSI window. */
                ASSERT_TRUE(k == 0 || k == -EADDRNOTAVAIL);
                __atomic_store_n(&head, step + 1, __ATOMIC_RELEASE);
                if (step % 4096 == 0) {
                        iom_space_get_stats(space, &st);
                        peak = MAX(peak, st.memory_bytes);
                }
        }
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
        for (unsigned i = 0; i < readers; i++)
                (void) pthread_join(threads[i], NULL);
        /* The form the run meant to test, to its end. */
        if (tree)
                ASSERT_TRUE(space->root && !space->hash);
        else if (size > SMALL_MAX)
                ASSERT_TRUE(space->hash && !space->root);
        else
                ASSERT_TRUE(space->small && !space->hash && !space->root);
        iom_space_free(space);
        printf("# ring of %" PRIu64 ": %" PRIu64 " steps, %u readers (%" PRIu64
               " visitors), %" PRIu64 " translations, %d errors, peak %" PRIu64 " KiB\n",
               size, step, readers, visitors, translated, errors, peak >> 10);
        ASSERT_EQ(errors, 0);
        ASSERT_TRUE(peak < memory_max);
}

static void test_reclaim(void) {
        /* Some 180 bytes retired a step, 18 MiB in all (as much would the space hold without
         * reclamation): what waits for a grace period stays bounded (4 MiB). */
        ring_run(1024, true, 1, UINT64_C(12) << 20, ring_reader);
}

static void test_reclaim_hashed(void) {
        /* A table of 8192 slots (160 KiB) copied and retired every 3000 steps or so, while
         * readers probe it: four times the steps, for a reader to be there at a copy. */
        ring_run(1024, false, 4, UINT64_C(8) << 20, ring_reader);
}

static void test_reclaim_small(void) {
        /* Two small arrays retired a step, 128 MiB in all. */
        ring_run(6, false, 1, UINT64_C(8) << 20, ring_reader);
}

/* Readers that come and go, each registering with its first translate, while the writer runs
 * at full speed: the small form (two arrays retired a step), the hashed form (copied tables)
 * and the tree (records and compacts). Between visitors the writer is alone and frees what it retires at once; a
 * visitor that registered too late (its first loads before the writer could see it) reads
 * what was freed: poisoned, or a race under ThreadSanitizer. */
static void test_reclaim_visitors(void) {
        visitors_min = 2000;
        ring_run(6, false, 1, UINT64_C(8) << 20, ring_spawner);
        ring_run(1024, false, 4, UINT64_C(8) << 20, ring_spawner);
        ring_run(1024, true, 1, UINT64_C(12) << 20, ring_spawner);
        visitors_min = 0;
}

static void test_readers_writer(void) {
        pthread_t threads[16];
        int k;

        errors = 0;
        done = 0;
        ASSERT_EQ(iom_space_new(NULL, &space), 0);
        for (unsigned i = 0; i < readers; i++)
                ASSERT_EQ(pthread_create(&threads[i], NULL, reader, (void *) (uintptr_t) (i + 1)),
                          0);
        k = writer(ops);
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
        for (unsigned i = 0; i < readers; i++)
                (void) pthread_join(threads[i], NULL);
        iom_space_free(space);
        printf("# %u writer operations, %u readers, %" PRIu64 " translations, %d errors\n", ops,
               readers, translated, errors);
        ASSERT_EQ(k, 0);
        ASSERT_EQ(errors, 0);
}

static void test_dirty(void) {
        if (readers == 0) {
                printf("# no readers: nothing drains the pools, nothing to check\n");
                return;
        }
        errors = 0;
        ASSERT_EQ(dirty_run(readers, 300), 0);
        ASSERT_EQ(errors, 0);
}

int main(int argc, char **argv) {
        static const struct iom_test tests[] = {
                IOM_TEST(test_readers_writer), IOM_TEST(test_dirty),
                IOM_TEST(test_reclaim),        IOM_TEST(test_reclaim_hashed),
                IOM_TEST(test_reclaim_small),  IOM_TEST(test_reclaim_visitors)};
        const char *env_ops = getenv("IOM_MAPPING_STRESS_OPS"),
                   *env_readers = getenv("IOM_MAPPING_STRESS_READERS");

        if (env_ops)
                ops = (unsigned) strtoul(env_ops, NULL, 0);
        if (env_readers)
                readers = (unsigned) strtoul(env_readers, NULL, 0);
        readers = readers > 16 ? 16 : readers;
        return iom_test_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
