/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmarks the mapping core against the trees others use (GLib GTree as in QEMU's iova-tree,
 * libbsd's intrusive red-black tree as in VFIO type1), all with the same semantics, in one run,
 * and prints one table. Usage: bench-mapping [--quick]. Figures, never a verdict. */
/* libbsd's RB_GENERATE_STATIC marks its functions __unused, a BSD spelling. */
#define __unused __attribute__((unused))
#include <bsd/sys/tree.h>
#include <glib.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iom-space.h"

#define PAGE IOM_SPACE_PAGE_SIZE
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define BATCH 64
#define QUERIES (1u << 20)

/* One implementation behind the semantics of iom-space.h: map refuses overlap, unmap splits,
 * translate answers target and the contiguous length to the end of the mapping. */
struct impl {
        const char *name;
        void *(*new)(void);
        void (*free)(void *t);
        int (*map)(void *t, uint64_t iova, uint64_t size, uint64_t target, unsigned prot);
        int (*unmap)(void *t, uint64_t iova, uint64_t size, uint64_t *removed);
        int (*translate)(void *t, uint64_t iova, unsigned access, uint64_t *target,
                         uint64_t *contiguous);
        /* Bytes it holds, when it keeps its own account (the core maps its arenas itself,
         * beyond mallinfo2()'s sight); NULL: what the heap grew by. */
        size_t (*memory)(void *t);
};

/* The core. */
static void *core_new(void) {
        struct iom_space *s;

        return iom_space_new(NULL, &s) < 0 ? NULL : s;
}

static void core_free(void *t) {
        iom_space_free(t);
}

static int core_map(void *t, uint64_t iova, uint64_t size, uint64_t target, unsigned prot) {
        return iom_space_map(t, iova, size, target, prot);
}

static int core_unmap(void *t, uint64_t iova, uint64_t size, uint64_t *removed) {
        return iom_space_unmap(t, iova, size, removed);
}

static int core_translate(void *t, uint64_t iova, unsigned access, uint64_t *target,
                          uint64_t *contiguous) {
        unsigned prot;

        return iom_space_translate(t, iova, access, target, &prot, contiguous);
}

/* Everything the space allocated: index, records, arenas whole (also their unused tails). */
static size_t core_memory(void *t) {
        struct iom_space_stats st;

        iom_space_get_stats(t, &st);
        return st.memory_bytes;
}

/* The baselines' record, and the ordering both use: ranges compare equal when they overlap,
 * so a lookup of [x, x] finds the mapping holding x and an insert finds any overlap. */
struct tmap {
        RB_ENTRY(tmap) link;
        uint64_t iova, last, target;
        unsigned prot;
};

static int range_cmp(const struct tmap *a, const struct tmap *b) {
        return a->last < b->iova ? -1 : a->iova > b->last ? 1 : 0;
}

static struct tmap *tmap_new(uint64_t iova, uint64_t last, uint64_t target, unsigned prot) {
        struct tmap *m = calloc(1, sizeof(*m));

        if (!m)
                abort();
        *m = (struct tmap){.iova = iova, .last = last, .target = target, .prot = prot};
        return m;
}

static int tmap_translate(const struct tmap *m, uint64_t iova, unsigned access, uint64_t *target,
                          uint64_t *contiguous) {
        if (!m)
                return -ENOENT;
        if (access & ~m->prot)
                return -EACCES;
        *target = m->target + (iova - m->iova);
        *contiguous = m->last - iova + 1;
        return 0;
}

/* A baseline's unmap of @q took mapping @x out: the parts of @x outside @q go back in through
 * @map. Returns the bytes of @x inside @q. */
static uint64_t tmap_keep_outside(void *t, const struct tmap *x, const struct tmap *q,
                                  int (*map)(void *t, uint64_t iova, uint64_t size, uint64_t target,
                                             unsigned prot)) {
        if (x->iova < q->iova)
                (void) map(t, x->iova, q->iova - x->iova, x->target, x->prot);
        if (x->last > q->last)
                (void) map(t, q->last + 1, x->last - q->last, x->target + (q->last + 1 - x->iova),
                           x->prot);
        return MIN(x->last, q->last) - MAX(x->iova, q->iova) + 1;
}

/* GLib's balanced tree (QEMU's iova-tree). */
static gint gtree_key_cmp(gconstpointer a, gconstpointer b, gpointer unused) {
        return range_cmp(a, b);
}

static gint gtree_search_cmp(gconstpointer key, gconstpointer query) {
        return range_cmp(query, key);
}

static void *gtree_new(void) {
        return g_tree_new_full(gtree_key_cmp, NULL, free, NULL);
}

static void gtree_free(void *t) {
        g_tree_destroy(t);
}

static int gtree_map(void *t, uint64_t iova, uint64_t size, uint64_t target, unsigned prot) {
        struct tmap q = {.iova = iova, .last = iova + size - 1}, *m;

        if (g_tree_search(t, gtree_search_cmp, &q))
                return -EEXIST;
        m = tmap_new(iova, iova + size - 1, target, prot);
        g_tree_insert(t, m, m);
        return 0;
}

static int gtree_unmap(void *t, uint64_t iova, uint64_t size, uint64_t *removed) {
        struct tmap q = {.iova = iova, .last = iova + size - 1}, *m;

        *removed = 0;
        while ((m = g_tree_search(t, gtree_search_cmp, &q))) {
                struct tmap x = *m;

                g_tree_remove(t, m);
                *removed += tmap_keep_outside(t, &x, &q, gtree_map);
        }
        return 0;
}

static int gtree_translate(void *t, uint64_t iova, unsigned access, uint64_t *target,
                           uint64_t *contiguous) {
        struct tmap q = {.iova = iova, .last = iova};

        return tmap_translate(g_tree_search(t, gtree_search_cmp, &q), iova, access, target,
                              contiguous);
}

/* libbsd's intrusive red-black tree (the shape of VFIO type1's rbtree). */
RB_HEAD(rbt, tmap);
RB_GENERATE_STATIC(rbt, tmap, link, range_cmp)

static void *rb_new(void) {
        struct rbt *h = calloc(1, sizeof(*h));

        RB_INIT(h);
        return h;
}

static void rb_free(void *t) {
        struct tmap *m, *next;

        RB_FOREACH_SAFE(m, rbt, t, next) {
                RB_REMOVE(rbt, t, m);
                free(m);
        }
        free(t);
}

static int rb_map(void *t, uint64_t iova, uint64_t size, uint64_t target, unsigned prot) {
        struct tmap *m = tmap_new(iova, iova + size - 1, target, prot);

        if (RB_INSERT(rbt, t, m)) {
                free(m);
                return -EEXIST;
        }
        return 0;
}

static int rb_unmap(void *t, uint64_t iova, uint64_t size, uint64_t *removed) {
        struct tmap q = {.iova = iova, .last = iova + size - 1}, *m;

        *removed = 0;
        while ((m = RB_FIND(rbt, t, &q))) {
                struct tmap x = *m;

                RB_REMOVE(rbt, t, m);
                free(m);
                *removed += tmap_keep_outside(t, &x, &q, rb_map);
        }
        return 0;
}

static int rb_translate(void *t, uint64_t iova, unsigned access, uint64_t *target,
                        uint64_t *contiguous) {
        struct tmap q = {.iova = iova, .last = iova};

        return tmap_translate(RB_FIND(rbt, t, &q), iova, access, target, contiguous);
}

static const struct impl impls[] = {
        {"iom_space", core_new, core_free, core_map, core_unmap, core_translate, core_memory},
        {"GTree", gtree_new, gtree_free, gtree_map, gtree_unmap, gtree_translate},
        {"RB (bsd)", rb_new, rb_free, rb_map, rb_unmap, rb_translate},
};

#define N_IMPLS (sizeof(impls) / sizeof(impls[0]))

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static size_t heap_bytes(void) {
        struct mallinfo2 mi = mallinfo2();

        return mi.uordblks + mi.hblkhd;
}

static uint64_t rng = 0x2545f4914f6cdd1d;

static uint64_t rnd(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

/* Per-batch nanoseconds per operation, kept to report median and p99. */
struct samples {
        double *v;
        size_t n, cap;
        uint64_t ops, ns;
};

static void sample(struct samples *s, uint64_t ns, uint64_t ops) {
        if (s->n == s->cap) {
                s->cap = s->cap ? 2 * s->cap : 1024;
                s->v = realloc(s->v, s->cap * sizeof(double));
                if (!s->v)
                        abort();
        }
        s->v[s->n++] = (double) ns / (double) ops;
        s->ops += ops;
        s->ns += ns;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

static void report(const char *workload, const char *impl, struct samples *s, double bytes) {
        double median = NAN, p99 = NAN;
        char b[32] = "-";

        if (s->n > 0) {
                qsort(s->v, s->n, sizeof(double), cmp_double);
                median = s->v[s->n / 2];
                p99 = s->v[(size_t) ((double) (s->n - 1) * 0.99)];
        }
        if (bytes > 0)
                snprintf(b, sizeof(b), "%.1f", bytes);
        printf("| %-48s | %-9s | %10.1f | %10.1f | %12.3g | %10s |\n", workload, impl, median, p99,
               s->ns ? (double) s->ops * 1e9 / (double) s->ns : 0.0, b);
        fflush(stdout);
        free(s->v);
        *s = (struct samples){};
}

/* What @t holds since the heap held @before: its own account when it keeps one. */
static size_t bytes_of(const struct impl *im, void *t, size_t before) {
        return im->memory ? im->memory(t) : heap_bytes() - before;
}

static volatile uint64_t sink;

/* Times @queries translates in batches. */
static void time_translates(const struct impl *im, void *t, const uint64_t *q, size_t n,
                            unsigned access, struct samples *out) {
        uint64_t sum = 0;

        for (size_t i = 0; i + BATCH <= n; i += BATCH) {
                uint64_t t0 = now_ns(), target, len;

                for (size_t j = 0; j < BATCH; j++)
                        if (im->translate(t, q[i + j], access, &target, &len) == 0)
                                sum += target;
                sample(out, now_ns() - t0, BATCH);
        }
        sink += sum;
}

/* Layouts of N 4 KiB mappings: dense packs guest RAM (below 3 GiB, then from 4 GiB on);
 * scattered strews them over the 48-bit aperture. */
static uint64_t dense_iova(uint64_t i) {
        return i < 786432 ? i * PAGE : 4 * GiB + (i - 786432) * PAGE;
}

static uint64_t *scattered_iovas(size_t n) {
        uint64_t *v = malloc(n * sizeof(*v));

        if (!v)
                abort();
        for (size_t i = 0; i < n; i++) {
                uint64_t iova;

                do
                        iova = (rnd() % (UINT64_C(1) << 36)) * PAGE;
                while (iova >= 0xfe000000 && iova < 0x100000000);
                v[i] = iova; /* a collision is simply refused by map, for everyone */
        }
        return v;
}

/* Queries: uniform, or Zipf (s = 1) over the mappings in a shuffled order of popularity. */
static uint64_t *make_queries(const uint64_t *iovas, size_t n, bool zipf) {
        uint64_t *q = malloc(QUERIES * sizeof(*q));
        double *cdf = NULL, total = 0;
        size_t *perm = NULL;

        if (!q)
                abort();
        if (zipf) {
                cdf = malloc(n * sizeof(*cdf));
                perm = malloc(n * sizeof(*perm));
                if (!cdf || !perm)
                        abort();
                for (size_t i = 0; i < n; i++) {
                        total += 1.0 / (double) (i + 1);
                        cdf[i] = total;
                        perm[i] = i;
                }
                for (size_t i = n; i > 1; i--) {
                        size_t j = rnd() % i, x = perm[i - 1];

                        perm[i - 1] = perm[j];
                        perm[j] = x;
                }
        }
        for (size_t i = 0; i < QUERIES; i++) {
                size_t k;

                if (zipf) {
                        double u = (double) (rnd() >> 11) / 9007199254740992.0 * total;
                        size_t lo = 0, hi = n - 1;

                        while (lo < hi) {
                                size_t mid = (lo + hi) / 2;

                                if (cdf[mid] < u)
                                        lo = mid + 1;
                                else
                                        hi = mid;
                        }
                        k = perm[lo];
                } else
                        k = rnd() % n;
                q[i] = iovas[k] + (rnd() % PAGE);
        }
        free(cdf);
        free(perm);
        return q;
}

static bool quick;

/* Where a page's target goes: guest RAM is one host region, so a guest mapping its RAM page by
 * page (a vIOMMU in passthrough, QEMU mapping RAM for a device) gives targets that continue
 * each other; a guest's DMA buffers land on arbitrary pages. */
enum targets { TARGETS_RAM, TARGETS_RANDOM };

static uint64_t target_for(enum targets targets, uint64_t iova) {
        return targets == TARGETS_RAM ? (UINT64_C(1) << 40) + iova : (rnd() % (1u << 30)) * PAGE;
}

/* Translate workloads run in this many rounds, the implementations taking turns in each, so
 * that a slow spell of a shared machine falls on all of them alike and the ratios hold. A turn
 * starts with WARM_UP untimed translates: the others' turns evicted what it keeps in the cache,
 * and a turn is timed as warm as the implementation keeps itself. */
#define ROUNDS 8
#define WARM_UP 8192

/* Maps @n 4 KiB pages at @iovas into a fresh instance of each implementation, timing each batch
 * of maps, and reports the maps and then bytes per mapping with uniform and Zipf translates. */
static void workload_pages(const char *layout, const uint64_t *iovas, size_t n,
                           enum targets targets) {
        uint64_t *q[2] = {make_queries(iovas, n, false), make_queries(iovas, n, true)};
        static const char *const query_names[2] = {"uniform", "Zipf"};
        struct samples maps[N_IMPLS] = {}, tr[N_IMPLS][2] = {};
        double bytes[N_IMPLS];
        void *t[N_IMPLS];
        char name[64];

        for (size_t k = 0; k < N_IMPLS; k++) {
                size_t before = heap_bytes();

                t[k] = impls[k].new();
                for (size_t i = 0; i < n; i += 16) {
                        uint64_t t0 = now_ns();
                        size_t m = MIN(n - i, (size_t) 16);

                        for (size_t j = 0; j < m; j++)
                                (void) impls[k].map(t[k], iovas[i + j], PAGE,
                                                    target_for(targets, iovas[i + j]),
                                                    IOM_SPACE_RW);
                        sample(&maps[k], now_ns() - t0, m);
                }
                bytes[k] = (double) bytes_of(&impls[k], t[k], before) / (double) n;
        }
        for (unsigned r = 0; r < ROUNDS; r++)
                for (unsigned z = 0; z < 2; z++)
                        for (size_t k = 0; k < N_IMPLS; k++) {
                                const uint64_t *slice = q[z] + r * (QUERIES / ROUNDS);
                                struct samples warm = {};

                                time_translates(&impls[k], t[k], slice, WARM_UP, IOM_SPACE_READ,
                                                &warm);
                                free(warm.v);
                                time_translates(&impls[k], t[k], slice, QUERIES / ROUNDS,
                                                IOM_SPACE_READ, &tr[k][z]);
                        }
        for (size_t k = 0; k < N_IMPLS; k++) {
                snprintf(name, sizeof(name), "map 4K, %zu %s", n, layout);
                report(name, impls[k].name, &maps[k], bytes[k]);
                for (unsigned z = 0; z < 2; z++) {
                        snprintf(name, sizeof(name), "translate %s, %zu %s", query_names[z], n,
                                 layout);
                        report(name, impls[k].name, &tr[k][z], bytes[k]);
                }
                impls[k].free(t[k]);
        }
        free(q[0]);
        free(q[1]);
}

static void workload_large(void) {
        uint64_t *q = malloc(QUERIES * sizeof(*q));

        for (size_t i = 0; i < QUERIES; i++)
                q[i] = 4 * GiB + rnd() % (64 * GiB);
        for (size_t k = 0; k < N_IMPLS; k++) {
                const struct impl *im = &impls[k];
                struct samples s = {};
                void *t = im->new ();

                /* Map cost by size: one 4 KiB and one 64 GiB mapping, made and removed. */
                for (uint64_t size = PAGE; size <= 64 * GiB; size *= 64 * GiB / PAGE) {
                        for (unsigned i = 0; i < 2000; i++) {
                                uint64_t t0 = now_ns(), removed;

                                (void) im->map(t, 4 * GiB + 2 * MiB, size, 0, IOM_SPACE_RW);
                                sample(&s, now_ns() - t0, 1);
                                (void) im->unmap(t, 4 * GiB + 2 * MiB, size, &removed);
                        }
                        report(size == PAGE ? "map one 4 KiB" : "map one 64 GiB (unaligned)",
                               im->name, &s, 0);
                }
                (void) im->map(t, 4 * GiB, 64 * GiB, 0, IOM_SPACE_RW);
                time_translates(im, t, q, QUERIES, IOM_SPACE_READ, &s);
                report("translate uniform, one 64 GiB", im->name, &s, 0);
                im->free(t);
        }
        free(q);
}

static void workload_churn(size_t n) {
        struct samples s[N_IMPLS] = {};
        void *t[N_IMPLS];

        for (size_t k = 0; k < N_IMPLS; k++) {
                t[k] = impls[k].new();
                for (size_t i = 0; i < n; i++)
                        (void) impls[k].map(t[k], dense_iova(i), PAGE, i * PAGE, IOM_SPACE_RW);
        }
        /* The implementations take turns (ROUNDS), each turn long enough to run warm. */
        for (unsigned r = 0; r < ROUNDS; r++)
                for (size_t k = 0; k < N_IMPLS; k++)
                        for (unsigned b = 0; b < (quick ? 2000 : 20000) / ROUNDS; b++) {
                                uint64_t t0 = now_ns(), removed;

                                for (unsigned j = 0; j < 8; j++) {
                                        uint64_t iova = dense_iova(rnd() % n);

                                        (void) impls[k].unmap(t[k], iova, PAGE, &removed);
                                        (void) impls[k].map(t[k], iova, PAGE, rnd() % GiB * PAGE,
                                                            IOM_SPACE_RW);
                                }
                                sample(&s[k], now_ns() - t0, 16);
                        }
        for (size_t k = 0; k < N_IMPLS; k++) {
                report("churn map+unmap, 10^6 live (per op)", impls[k].name, &s[k], 0);
                impls[k].free(t[k]);
        }
}

static void workload_huge(void) {
        size_t n = (1u << 19); /* 1 TiB in 2 MiB pages */
        uint64_t *iovas = malloc(n * sizeof(*iovas)), *q;

        for (size_t i = 0; i < n; i++)
                iovas[i] = 8 * GiB + i * 2 * MiB;
        q = make_queries(iovas, n, false);
        for (size_t i = 0; i < QUERIES; i++)
                q[i] += (rnd() % 512) * PAGE;
        for (size_t k = 0; k < N_IMPLS; k++) {
                const struct impl *im = &impls[k];
                struct samples s = {};
                size_t before = heap_bytes();
                void *t = im->new ();

                for (size_t i = 0; i < n; i += 16) {
                        uint64_t t0 = now_ns();

                        for (size_t j = 0; j < 16; j++)
                                (void) im->map(t, iovas[i + j], 2 * MiB, iovas[i + j],
                                               IOM_SPACE_RW);
                        sample(&s, now_ns() - t0, 16);
                }
                report("map 2M, 1 TiB guest", im->name, &s,
                       (double) bytes_of(im, t, before) / (double) n);
                time_translates(im, t, q, QUERIES, IOM_SPACE_READ, &s);
                report("translate uniform, 1 TiB in 2M pages", im->name, &s, 0);
                im->free(t);
        }
        free(iovas);
        free(q);
}

/* translate_sg of 1 MiB requests over 4 KiB mappings with random targets (256 entries); the
 * trees answer it with the loop a caller would write. */
static int sg_loop(const struct impl *im, void *t, uint64_t iova, uint64_t length,
                   struct iom_sg *sg, size_t n) {
        size_t count = 0;

        for (uint64_t pos = iova; pos < iova + length;) {
                uint64_t target, len;
                int r = im->translate(t, pos, IOM_SPACE_READ, &target, &len);

                if (r < 0)
                        return r;
                len = MIN(len, iova + length - pos);
                if (count > 0 && sg[count - 1].target + sg[count - 1].size == target)
                        sg[count - 1].size += len;
                else if (count == n)
                        return -ENOBUFS;
                else
                        sg[count++] = (struct iom_sg){pos, target, len};
                pos += len;
        }
        return (int) count;
}

static void workload_sg(size_t n) {
        static struct iom_sg sg[512];

        for (size_t k = 0; k < N_IMPLS; k++) {
                const struct impl *im = &impls[k];
                struct samples s = {};
                void *t = im->new ();

                for (size_t i = 0; i < n; i++)
                        (void) im->map(t, dense_iova(i), PAGE, rnd() % GiB * PAGE, IOM_SPACE_RW);
                for (unsigned i = 0; i < (quick ? 500 : 5000); i++) {
                        uint64_t iova = dense_iova(rnd() % (786432 - 256)), t0 = now_ns();
                        int r = k == 0 ? iom_space_translate_sg(t, iova, MiB, IOM_SPACE_READ, sg,
                                                                512)
                                       : sg_loop(im, t, iova, MiB, sg, 512);

                        sample(&s, now_ns() - t0, 1);
                        sink += (uint64_t) r;
                }
                report("translate_sg 1 MiB (256 pieces)", im->name, &s, 0);
                im->free(t);
        }
}

static void workload_unmap_gib(void) {
        for (size_t k = 0; k < N_IMPLS; k++) {
                const struct impl *im = &impls[k];
                struct samples s = {};

                for (unsigned rep = 0; rep < (quick ? 1 : 3); rep++) {
                        void *t = im->new ();
                        uint64_t t0, removed;

                        for (uint64_t i = 0; i < GiB / PAGE; i++)
                                (void) im->map(t, 2 * GiB + i * PAGE, PAGE, i * PAGE, IOM_SPACE_RW);
                        t0 = now_ns();
                        (void) im->unmap(t, 2 * GiB, GiB, &removed);
                        sample(&s, now_ns() - t0, GiB / PAGE);
                        im->free(t);
                }
                report("unmap 1 GiB of 4K in one call (per map)", im->name, &s, 0);
        }
}

static uint64_t dirty_overflows(struct iom_space *s) {
        struct iom_space_stats st;

        iom_space_get_stats(s, &st);
        return st.dirty_overflows;
}

/* The same writes again, each pass read and cleared, until one overflows no dirty bitmap:
 * writes to new places between two reads come first to a few coarse reads while the pools
 * grow (iom-space-dirty.c); this measures the steady state of a migration after them. */
static void dirty_settle(struct iom_space *s, void (*writes)(struct iom_space *s, void *userdata),
                         void *userdata, uint64_t iova, uint64_t size, uint8_t *bitmap) {
        for (unsigned pass = 0; pass < 16; pass++) {
                uint64_t o = dirty_overflows(s);

                writes(s, userdata);
                if (dirty_overflows(s) == o)
                        return;
                (void) iom_space_get_dirty(s, iova, size, true, bitmap, size / PAGE / 8);
        }
        fprintf(stderr, "bench-mapping: dirty writes still overflow after 16 passes\n");
}

/* translate_sg of 64 GiB in 1 GiB writes, or translates of @userdata's percent of its pages
 * (the same ones each pass). */
static void dirty_writes(struct iom_space *s, void *userdata) {
        unsigned percent = *(unsigned *) userdata;
        uint64_t x = 88172645463325252u;
        struct iom_sg sg[4];

        if (percent == 100)
                for (uint64_t off = 0; off < 64 * GiB; off += GiB)
                        (void) iom_space_translate_sg(s, 4 * GiB + off, GiB, IOM_SPACE_WRITE, sg,
                                                      4);
        else
                for (uint64_t i = 0; i < 64 * GiB / PAGE * percent / 100; i++) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        (void) iom_space_translate(s, 4 * GiB + x % (64 * GiB), IOM_SPACE_WRITE,
                                                   NULL, NULL, NULL);
                }
}

/* Core only: the trees have no dirty tracking. */
static void workload_dirty(void) {
        static const unsigned percents[] = {0, 1, 100};
        size_t bytes = 64 * GiB / PAGE / 8;
        uint8_t *bitmap = malloc(bytes);

        for (size_t p = 0; p < 3; p++) {
                struct iom_space *s;
                struct samples smp = {};
                char name[64];

                if (iom_space_new(NULL, &s) < 0 || iom_space_map(s, 4 * GiB, 64 * GiB, 0, 3) < 0 ||
                    iom_space_set_dirty_tracking(s, true) < 0)
                        abort();
                dirty_settle(s, dirty_writes, (void *) &percents[p], 4 * GiB, 64 * GiB, bitmap);
                for (unsigned i = 0; i < (quick ? 3 : 15); i++) {
                        uint64_t t0 = now_ns();

                        (void) iom_space_get_dirty(s, 4 * GiB, 64 * GiB, false, bitmap, bytes);
                        sample(&smp, now_ns() - t0, 1);
                }
                snprintf(name, sizeof(name), "get_dirty 64 GiB, %u%% dirty", percents[p]);
                report(name, "iom_space", &smp, 0);
                iom_space_free(s);
        }
        free(bitmap);
}

struct dirty_queries {
        const uint64_t *q;
        struct samples *smp;
};

static void dirty_queries(struct iom_space *s, void *userdata) {
        struct dirty_queries *d = userdata;

        time_translates(&impls[0], s, d->q, QUERIES, IOM_SPACE_WRITE, d->smp);
}

static void workload_dirty_translate(size_t n) {
        uint64_t *iovas = malloc(n * sizeof(*iovas)), *q, size;
        size_t bytes = (dense_iova(n - 1) / PAGE + 8) / 8;
        uint8_t *bitmap = malloc(bytes);
        struct iom_space *s;
        struct samples smp = {}, warm = {};

        for (size_t i = 0; i < n; i++)
                iovas[i] = dense_iova(i);
        q = make_queries(iovas, n, false);
        if (iom_space_new(NULL, &s) < 0)
                abort();
        for (size_t i = 0; i < n; i++)
                (void) iom_space_map(s, iovas[i], PAGE, rnd() % GiB * PAGE, IOM_SPACE_RW);
        time_translates(&impls[0], s, q, QUERIES, IOM_SPACE_READ, &smp);
        report("read translate, 10^6 dense", "iom_space", &smp, 0);
        time_translates(&impls[0], s, q, QUERIES, IOM_SPACE_WRITE, &smp);
        report("write translate, tracking off", "iom_space", &smp, 0);
        (void) iom_space_set_dirty_tracking(s, true);
        time_translates(&impls[0], s, q, QUERIES, IOM_SPACE_WRITE, &smp);
        report("write translate, tracking on (1st pass)", "iom_space", &smp, 0);
        size = bytes * 8 * PAGE;
        dirty_settle(s, dirty_queries, &(struct dirty_queries){q, &warm}, 0, size, bitmap);
        (void) iom_space_get_dirty(s, 0, size, true, bitmap, bytes);
        time_translates(&impls[0], s, q, QUERIES, IOM_SPACE_WRITE, &smp);
        report("write translate, tracking on (1st, settled)", "iom_space", &smp, 0);
        time_translates(&impls[0], s, q, QUERIES, IOM_SPACE_WRITE, &smp);
        report("write translate, tracking on (again)", "iom_space", &smp, 0);
        iom_space_free(s);
        free(bitmap);
        free(warm.v);
        free(iovas);
        free(q);
}

/* Readers translate while one thread churns (core only: the trees need a lock to do this). */
struct reader_arg {
        struct iom_space *s;
        const uint64_t *q;
        uint64_t ops;
        int *stop;
};

static void *reader(void *p) {
        struct reader_arg *a = p;
        uint64_t sum = 0, target;

        for (size_t i = 0; !__atomic_load_n(a->stop, __ATOMIC_RELAXED); i = (i + 1) % QUERIES) {
                if (iom_space_translate(a->s, a->q[i], IOM_SPACE_READ, &target, NULL, NULL) == 0)
                        sum += target;
                a->ops++;
        }
        sink += sum;
        return NULL;
}

static void workload_threads(size_t n) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned counts[] = {1, 2, (unsigned) (cpus > 0 ? cpus : 1)};
        uint64_t *iovas = malloc(n * sizeof(*iovas)), *q;
        struct iom_space *s;

        for (size_t i = 0; i < n; i++)
                iovas[i] = dense_iova(i);
        q = make_queries(iovas, n, false);
        if (iom_space_new(NULL, &s) < 0)
                abort();
        for (size_t i = 0; i < n; i++)
                (void) iom_space_map(s, iovas[i], PAGE, i * PAGE, IOM_SPACE_RW);
        for (size_t c = 0; c < 3; c++) {
                struct reader_arg args[64];
                pthread_t threads[64];
                struct samples rd = {}, wr = {};
                unsigned nr = MIN(counts[c], 64u);
                uint64_t t0 = now_ns(), churn = 0, elapsed, total = 0;
                int stop = 0;
                char name[64];

                if (c == 2 && counts[2] <= 2)
                        break;
                for (unsigned i = 0; i < nr; i++) {
                        args[i] = (struct reader_arg){s, q, 0, &stop};
                        pthread_create(&threads[i], NULL, reader, &args[i]);
                }
                while (now_ns() - t0 < (quick ? 300000000u : 1000000000u)) {
                        uint64_t iova = iovas[rnd() % n], removed;

                        (void) iom_space_unmap(s, iova, PAGE, &removed);
                        (void) iom_space_map(s, iova, PAGE, iova, IOM_SPACE_RW);
                        churn += 2;
                }
                __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
                for (unsigned i = 0; i < nr; i++) {
                        pthread_join(threads[i], NULL);
                        total += args[i].ops;
                }
                elapsed = now_ns() - t0;
                rd = (struct samples){.ops = total, .ns = elapsed};
                wr = (struct samples){.ops = churn, .ns = elapsed};
                snprintf(name, sizeof(name), "translate, %u reader%s + 1 churning (all)", nr,
                         nr > 1 ? "s" : "");
                report(name, "iom_space", &rd, 0);
                snprintf(name, sizeof(name), "the churning writer, %u reader%s", nr,
                         nr > 1 ? "s" : "");
                report(name, "iom_space", &wr, 0);
        }
        iom_space_free(s);
        free(iovas);
        free(q);
}

int main(int argc, char **argv) {
        size_t million = 1000000;
        uint64_t *dense, *scattered;
        char model[128] = "unknown";
        FILE *f;

        quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
        /* GLib's slice allocator would hide the tree's nodes from mallinfo2(). */
        setenv("G_SLICE", "always-malloc", 1);
        f = fopen("/proc/cpuinfo", "re");
        while (f && fgets(model, sizeof(model), f))
                if (strncmp(model, "model name", 10) == 0)
                        break;
        if (f)
                fclose(f);
        model[strcspn(model, "\n")] = 0;
        printf("bench-mapping: %ld CPUs online, %s%s\n\n", sysconf(_SC_NPROCESSORS_ONLN),
               strchr(model, ':') ? strchr(model, ':') + 2 : model, quick ? " (--quick)" : "");
        printf("| %-48s | %-9s | %10s | %10s | %12s | %10s |\n", "workload", "impl", "median ns",
               "p99 ns", "ops/s", "B/mapping");
        printf("|%s|%s|%s|%s|%s|%s|\n", "--------------------------------------------------",
               "-----------", "------------", "------------", "--------------", "------------");

        dense = malloc(million * sizeof(*dense));
        for (size_t i = 0; i < million; i++)
                dense[i] = dense_iova(i);
        scattered = scattered_iovas(million);
        workload_large();
        workload_pages("dense", dense, 1, TARGETS_RAM);
        workload_pages("dense", dense, 1000, TARGETS_RAM);
        workload_pages("dense", dense, million, TARGETS_RAM);
        workload_pages("dense, random targets", dense, million, TARGETS_RANDOM);
        workload_pages("scattered", scattered, 1000, TARGETS_RANDOM);
        workload_pages("scattered", scattered, million, TARGETS_RANDOM);
        workload_churn(million);
        workload_huge();
        workload_sg(million);
        workload_unmap_gib();
        workload_dirty();
        workload_dirty_translate(million);
        workload_threads(million);
        printf("\nns per operation: median and p99 over batches of %d translates (16 maps);"
               " per call for translate_sg, get_dirty; B/mapping: the heap's growth (mallinfo2()), "
               "the core's own account of all it allocated\n",
               BATCH);
        free(dense);
        free(scattered);
        return 0;
}
