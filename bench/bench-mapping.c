/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmarks the mapping core against the trees others use (GLib GTree as in QEMU's iova-tree,
 * libbsd's intrusive red-black tree as in VFIO type1), all with the same semantics, in one run,
 * and prints one table. Usage: bench-mapping [--quick] [SECTION...] (patterns large pages churn
 * huge sg unmap dirty threads; none: all). Figures, never a verdict. */
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
#include <sys/mman.h>
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

/* Memory for the two baselines below, given the core's treatment: blocks of 2 MiB and more
 * come from mmap(2) aligned to 2 MiB and advised onto transparent huge pages, as the core's
 * arenas are (the trees get the same through glibc.malloc.hugetlb=1, see main()). */
#define HUGE (2 * MiB)

static void *big_alloc(size_t size) {
        uint8_t *p;
        size_t head;

        if (size < HUGE)
                return calloc(1, size);
        p = mmap(NULL, size + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                abort();
        head = (HUGE - (uintptr_t) p % HUGE) % HUGE;
        if (head > 0)
                (void) munmap(p, head);
        (void) munmap(p + head + size, HUGE - head);
        (void) madvise(p + head, size, MADV_HUGEPAGE);
        return p + head;
}

static void big_free(void *p, size_t size) {
        if (size < HUGE)
                free(p);
        else if (p)
                (void) munmap(p, size);
}

/* A sorted array of mappings and a binary search: what a device emulator's author writes first.
 * Map and unmap move the tail (O(n)); the workloads that fill it with many scattered pages fill
 * it in address order, as a bulk build would. */
struct sorted {
        struct tmap *v;
        size_t n, cap;
};

static void *sorted_new(void) {
        struct sorted *a = calloc(1, sizeof(*a));

        if (!a)
                abort();
        return a;
}

static void sorted_free(void *t) {
        struct sorted *a = t;

        big_free(a->v, a->cap * sizeof(*a->v));
        free(a);
}

/* The index of the first mapping whose last byte is >= @iova (n when none). */
static size_t sorted_find(const struct sorted *a, uint64_t iova) {
        size_t lo = 0, hi = a->n;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;

                if (a->v[mid].last < iova)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static int sorted_map(void *t, uint64_t iova, uint64_t size, uint64_t target, unsigned prot) {
        struct sorted *a = t;
        size_t i = sorted_find(a, iova);

        if (i < a->n && a->v[i].iova <= iova + size - 1)
                return -EEXIST;
        if (a->n == a->cap) {
                size_t cap = a->cap ? 2 * a->cap : 16;
                struct tmap *v = big_alloc(cap * sizeof(*v));

                if (!v)
                        abort();
                memcpy(v, a->v, a->n * sizeof(*v));
                big_free(a->v, a->cap * sizeof(*v));
                a->v = v;
                a->cap = cap;
        }
        memmove(&a->v[i + 1], &a->v[i], (a->n - i) * sizeof(*a->v));
        a->v[i] = (struct tmap){
                .iova = iova, .last = iova + size - 1, .target = target, .prot = prot};
        a->n++;
        return 0;
}

static int sorted_unmap(void *t, uint64_t iova, uint64_t size, uint64_t *removed) {
        struct tmap q = {.iova = iova, .last = iova + size - 1};
        struct sorted *a = t;
        size_t i;

        *removed = 0;
        while ((i = sorted_find(a, iova)) < a->n && a->v[i].iova <= q.last) {
                struct tmap x = a->v[i];

                memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) * sizeof(*a->v));
                a->n--;
                *removed += tmap_keep_outside(t, &x, &q, sorted_map);
        }
        return 0;
}

static int sorted_translate(void *t, uint64_t iova, unsigned access, uint64_t *target,
                            uint64_t *contiguous) {
        const struct sorted *a = t;
        size_t i = sorted_find(a, iova);

        return tmap_translate(i < a->n && a->v[i].iova <= iova ? &a->v[i] : NULL, iova, access,
                              target, contiguous);
}

static size_t sorted_memory(void *t) {
        return sizeof(struct sorted) + ((struct sorted *) t)->cap * sizeof(struct tmap);
}

/* An open-addressing hash table on page number (linear probing, deletion by backward shift,
 * grown at half full): one entry per mapped page, so it answers a page's target and the rest
 * of that page only, and a mapping of n pages costs n entries. */
struct hash {
        struct hent {
                uint64_t key; /* page + 1; 0: free */
                uint64_t tp;  /* target | prot */
        } * v;
        size_t n, mask;
};

static void *hash_new(void) {
        struct hash *h = calloc(1, sizeof(*h));

        if (!h)
                abort();
        h->mask = 63;
        h->v = big_alloc((h->mask + 1) * sizeof(*h->v));
        return h;
}

static void hash_free(void *t) {
        struct hash *h = t;

        big_free(h->v, (h->mask + 1) * sizeof(*h->v));
        free(h);
}

static size_t hash_slot(const struct hash *h, uint64_t key) {
        return (size_t) ((key * UINT64_C(0x9e3779b97f4a7c15)) >> 20) & h->mask;
}

static struct hent *hash_get(const struct hash *h, uint64_t page) {
        for (size_t i = hash_slot(h, page + 1);; i = (i + 1) & h->mask) {
                if (h->v[i].key == page + 1)
                        return &h->v[i];
                if (h->v[i].key == 0)
                        return NULL;
        }
}

static void hash_put(struct hash *h, uint64_t key, uint64_t tp) {
        size_t i = hash_slot(h, key);

        while (h->v[i].key)
                i = (i + 1) & h->mask;
        h->v[i] = (struct hent){key, tp};
}

static int hash_map(void *t, uint64_t iova, uint64_t size, uint64_t target, unsigned prot) {
        struct hash *h = t;
        uint64_t pages = size / PAGE;

        for (uint64_t p = 0; p < pages; p++)
                if (hash_get(h, iova / PAGE + p))
                        return -EEXIST;
        while (2 * (h->n + pages) > h->mask + 1) {
                struct hash old = *h;

                h->mask = 2 * h->mask + 1;
                h->v = big_alloc((h->mask + 1) * sizeof(*h->v));
                for (size_t i = 0; i <= old.mask; i++)
                        if (old.v[i].key)
                                hash_put(h, old.v[i].key, old.v[i].tp);
                big_free(old.v, (old.mask + 1) * sizeof(*old.v));
        }
        for (uint64_t p = 0; p < pages; p++)
                hash_put(h, iova / PAGE + p + 1, (target + p * PAGE) | prot);
        h->n += pages;
        return 0;
}

static int hash_unmap(void *t, uint64_t iova, uint64_t size, uint64_t *removed) {
        struct hash *h = t;

        *removed = 0;
        for (uint64_t p = iova / PAGE; p <= (iova + size - 1) / PAGE; p++) {
                struct hent *e = hash_get(h, p);
                size_t i, j;

                if (!e)
                        continue;
                /* Backward shift: entries after the hole that may sit there move into it. */
                for (i = (size_t) (e - h->v), j = (i + 1) & h->mask; h->v[j].key;
                     j = (j + 1) & h->mask) {
                        size_t home = hash_slot(h, h->v[j].key);

                        if (((j - home) & h->mask) >= ((j - i) & h->mask)) {
                                h->v[i] = h->v[j];
                                i = j;
                        }
                }
                h->v[i].key = 0;
                h->n--;
                *removed += PAGE;
        }
        return 0;
}

static int hash_translate(void *t, uint64_t iova, unsigned access, uint64_t *target,
                          uint64_t *contiguous) {
        const struct hent *e = hash_get(t, iova / PAGE);

        if (!e)
                return -ENOENT;
        if (access & ~e->tp & IOM_SPACE_RW)
                return -EACCES;
        *target = (e->tp & ~(PAGE - 1)) + iova % PAGE;
        *contiguous = PAGE - iova % PAGE;
        return 0;
}

static size_t hash_memory(void *t) {
        return sizeof(struct hash) + (((struct hash *) t)->mask + 1) * sizeof(struct hent);
}

/* The first three everywhere; the baselines of the patterns (#15) where they fit:
 * patterns of many pages and the patterns workloads. */
static const struct impl impls[] = {
        {"iom_space", core_new, core_free, core_map, core_unmap, core_translate, core_memory},
        {"GTree", gtree_new, gtree_free, gtree_map, gtree_unmap, gtree_translate},
        {"RB (bsd)", rb_new, rb_free, rb_map, rb_unmap, rb_translate},
        {"sorted", sorted_new, sorted_free, sorted_map, sorted_unmap, sorted_translate,
         sorted_memory},
        {"hash", hash_new, hash_free, hash_map, hash_unmap, hash_translate, hash_memory},
};

#define N_TREES 3
#define N_IMPLS (sizeof(impls) / sizeof(impls[0]))
#define IMPL_SORTED 3

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static uint64_t cpu_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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

/* Orders arrays whose elements start with a uint64_t by it. */
static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
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
        uint64_t(*sorted)[2] = malloc(n * sizeof(*sorted)), *tg = malloc(n * sizeof(*tg));
        double bytes[N_IMPLS];
        void *t[N_IMPLS];
        char name[64];

        if (!sorted || !tg)
                abort();
        /* Targets drawn once: every implementation maps the same pages to the same places. */
        for (size_t i = 0; i < n; i++) {
                tg[i] = target_for(targets, iovas[i]);
                sorted[i][0] = iovas[i];
                sorted[i][1] = tg[i];
        }
        qsort(sorted, n, sizeof(*sorted), cmp_u64);
        for (size_t k = 0; k < N_IMPLS; k++) {
                size_t before = heap_bytes();

                t[k] = impls[k].new();
                for (size_t i = 0; i < n; i += 16) {
                        uint64_t t0 = now_ns();
                        size_t m = MIN(n - i, (size_t) 16);

                        for (size_t j = 0; j < m; j++)
                                if (k == IMPL_SORTED)
                                        (void) impls[k].map(t[k], sorted[i + j][0], PAGE,
                                                            sorted[i + j][1], IOM_SPACE_RW);
                                else
                                        (void) impls[k].map(t[k], iovas[i + j], PAGE, tg[i + j],
                                                            IOM_SPACE_RW);
                        sample(&maps[k], now_ns() - t0, m);
                }
                bytes[k] = (double) bytes_of(&impls[k], t[k], before) / (double) n;
        }
        for (unsigned r = 0; r < ROUNDS; r++)
                for (unsigned z = 0; z < 2; z++)
                        for (size_t k = 0; k < N_IMPLS; k++) {
                                const uint64_t *slice = q[z] + r * (QUERIES / ROUNDS);
                                const uint64_t *other =
                                        q[z] + ((r + 1) % ROUNDS) * (QUERIES / ROUNDS);
                                struct samples warm = {};

                                /* Warm on keys other than the timed ones. */
                                time_translates(&impls[k], t[k], other, WARM_UP, IOM_SPACE_READ,
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
        free(sorted);
        free(tg);
}

static void workload_large(void) {
        uint64_t *q = malloc(QUERIES * sizeof(*q));

        for (size_t i = 0; i < QUERIES; i++)
                q[i] = 4 * GiB + rnd() % (64 * GiB);
        /* Not the hash: 64 GiB is 16 million entries. */
        for (size_t k = 0; k <= IMPL_SORTED; k++) {
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

        /* Not the sorted array: it moves 16 MiB per operation at this size. */
        for (size_t k = 0; k < N_IMPLS; k++) {
                t[k] = k == IMPL_SORTED ? NULL : impls[k].new();
                for (size_t i = 0; t[k] && i < n; i++)
                        (void) impls[k].map(t[k], dense_iova(i), PAGE, i * PAGE, IOM_SPACE_RW);
        }
        /* The implementations take turns (ROUNDS), each turn long enough to run warm. */
        for (unsigned r = 0; r < ROUNDS; r++)
                for (size_t k = 0; k < N_IMPLS; k++)
                        for (unsigned b = 0; t[k] && b < (quick ? 2000 : 20000) / ROUNDS; b++) {
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
                if (!t[k])
                        continue;
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
        for (size_t k = 0; k <= IMPL_SORTED; k++) {
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

                /* The sorted array moves its tail once per mapping removed: O(n^2) here. */
                if (k == IMPL_SORTED)
                        continue;
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

/* The patterns guests make (issue #15), every implementation in one run, alone and beside 1 and
 * 2 threads that translate in the same structure meanwhile. There the baselines take the lock
 * they would need, a writer-preferring rwlock, on every call of every thread; the core takes
 * none. Keys and targets are drawn before the timed region, the same for everyone, and each
 * implementation's sum of targets is checked against the core's. */
struct inst {
        const struct impl *im;
        void *t;
        bool locked;
        pthread_rwlock_t lock;
};

static void inst_init(struct inst *x, size_t k) {
        pthread_rwlockattr_t a;

        *x = (struct inst){.im = &impls[k], .t = impls[k].new()};
        (void) pthread_rwlockattr_init(&a);
        (void) pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        (void) pthread_rwlock_init(&x->lock, &a);
        (void) pthread_rwlockattr_destroy(&a);
}

static void inst_done(struct inst *x) {
        x->im->free(x->t);
        (void) pthread_rwlock_destroy(&x->lock);
}

static _Thread_local uint64_t contiguous_sink;

static int inst_translate(struct inst *x, uint64_t iova, uint64_t *target) {
        int r;

        if (!x->locked)
                return x->im->translate(x->t, iova, IOM_SPACE_READ, target, &contiguous_sink);
        (void) pthread_rwlock_rdlock(&x->lock);
        r = x->im->translate(x->t, iova, IOM_SPACE_READ, target, &contiguous_sink);
        (void) pthread_rwlock_unlock(&x->lock);
        return r;
}

/* One step of the streaming ring: unmap @old, map @new to @target. */
static void inst_replace(struct inst *x, uint64_t old, uint64_t new, uint64_t target) {
        uint64_t removed;

        if (x->locked)
                (void) pthread_rwlock_wrlock(&x->lock);
        (void) x->im->unmap(x->t, old, PAGE, &removed);
        if (x->locked) {
                (void) pthread_rwlock_unlock(&x->lock);
                (void) pthread_rwlock_wrlock(&x->lock);
        }
        (void) x->im->map(x->t, new, PAGE, target, IOM_SPACE_RW);
        if (x->locked)
                (void) pthread_rwlock_unlock(&x->lock);
}

/* A thread translating keys[pos + random % width] until told to stop, pos read from the
 * timed thread as it goes (0 when NULL). */
struct bg {
        struct inst *x;
        const uint64_t *keys;
        const size_t *pos;
        size_t width;
        uint64_t ops;
        int stop;
        pthread_t thread;
};

static void *bg_run(void *p) {
        struct bg *b = p;
        uint64_t x = (uintptr_t) p | 1, target, sum = 0;

        while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
                size_t base = b->pos ? __atomic_load_n(b->pos, __ATOMIC_RELAXED) : 0;

                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if (inst_translate(b->x, b->keys[base + x % b->width], &target) == 0)
                        sum += target;
                b->ops++;
        }
        sink += sum;
        return NULL;
}

static void bg_start(struct bg *b, unsigned n, struct inst *x, const uint64_t *keys,
                     const size_t *pos, size_t width) {
        x->locked = n > 0 && x->im != &impls[0];
        for (unsigned i = 0; i < n; i++) {
                b[i] = (struct bg){.x = x, .keys = keys, .pos = pos, .width = width};
                if (pthread_create(&b[i].thread, NULL, bg_run, &b[i]) != 0)
                        abort();
        }
}

static void bg_stop(struct bg *b, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                __atomic_store_n(&b[i].stop, 1, __ATOMIC_RELAXED);
        for (unsigned i = 0; i < n; i++)
                (void) pthread_join(b[i].thread, NULL);
}

#define READERS_MAX 2

/* Translates of @q in batches: independent ones (throughput), or each key depending on the
 * answer before (latency: the processor cannot overlap them). Returns the sum of targets. */
static uint64_t time_keys(struct inst *x, const uint64_t *q, size_t n, bool chain,
                          struct samples *out) {
        uint64_t sum = 0, target = 0;

        for (size_t i = 0; i + BATCH <= n; i += BATCH) {
                uint64_t t0 = now_ns();

                if (chain)
                        for (size_t j = 0; j < BATCH; j++) {
                                /* target < 2^63: the key is q[i + j], after the answer. */
                                if (inst_translate(x, q[i + j] | (target >> 63), &target) == 0)
                                        sum += target;
                        }
                else
                        for (size_t j = 0; j < BATCH; j++)
                                if (inst_translate(x, q[i + j], &target) == 0)
                                        sum += target;
                if (out)
                        sample(out, now_ns() - t0, BATCH);
        }
        return sum;
}

static void check_sums(const char *workload, const uint64_t *sums) {
        for (size_t k = 1; k < N_IMPLS; k++)
                if (sums[k] != sums[0])
                        fprintf(stderr,
                                "bench-mapping: %s: %s's checksum differs from the core's\n",
                                workload, impls[k].name);
}

/* Translates of @q in each implementation filled with the @n mappings [iova, size, target] of
 * @maps, throughput and latency, alone and beside readers of other keys. */
static void pattern_translates(const char *workload, const uint64_t (*maps)[3], size_t n,
                               const uint64_t *q) {
        size_t slice = (quick ? 1u << 14 : 1u << 16), nq = ROUNDS * slice;
        struct samples s[READERS_MAX + 1][2][N_IMPLS] = {};
        uint64_t sums[N_IMPLS] = {};
        double bytes[N_IMPLS];
        struct inst x[N_IMPLS];

        for (size_t k = 0; k < N_IMPLS; k++) {
                size_t before = heap_bytes();

                inst_init(&x[k], k);
                for (size_t i = 0; i < n; i++)
                        (void) x[k].im->map(x[k].t, maps[i][0], maps[i][1], maps[i][2],
                                            IOM_SPACE_RW);
                bytes[k] = (double) bytes_of(x[k].im, x[k].t, before) / (double) n;
        }
        for (unsigned r = 0; r < ROUNDS; r++)
                for (unsigned c = 0; c <= READERS_MAX; c++)
                        for (size_t k = 0; k < N_IMPLS; k++) {
                                struct bg b[READERS_MAX];

                                /* Readers and warm-up on the keys after the timed ones. */
                                bg_start(b, c, &x[k], q + nq, NULL, QUERIES - nq);
                                (void) time_keys(&x[k], q + nq, WARM_UP, false, NULL);
                                for (unsigned chain = 0; chain < 2; chain++) {
                                        uint64_t sum = time_keys(&x[k], q + r * slice, slice, chain,
                                                                 &s[c][chain][k]);
                                        if (c == 0 && chain == 0)
                                                sums[k] += sum;
                                }
                                bg_stop(b, c);
                                x[k].locked = false;
                        }
        check_sums(workload, sums);
        for (unsigned c = 0; c <= READERS_MAX; c++)
                for (unsigned chain = 0; chain < 2; chain++)
                        for (size_t k = 0; k < N_IMPLS; k++) {
                                char name[80];

                                snprintf(name, sizeof(name), "%s, %s%s", workload,
                                         chain ? "latency" : "throughput",
                                         c == 0   ? ""
                                         : c == 1 ? " +1 reader"
                                                  : " +2 readers");
                                report(name, impls[k].name, &s[c][chain][k],
                                       c + chain == 0 ? bytes[k] : 0);
                        }
        for (size_t k = 0; k < N_IMPLS; k++)
                inst_done(&x[k]);
}

/* A guest without a vIOMMU: its RAM in two ranges (0-3 GiB, 4-16 GiB) and six BARs between. */
static void pattern_big_ranges(void) {
        uint64_t maps[8][3] = {{0, 3 * GiB, UINT64_C(1) << 40},
                               {4 * GiB, 12 * GiB, (UINT64_C(1) << 40) + 3 * GiB}};
        uint64_t *q = malloc(QUERIES * sizeof(*q));

        for (unsigned i = 0; i < 6; i++) {
                maps[2 + i][0] = 3 * GiB + i * 64 * MiB;
                maps[2 + i][1] = 16 * MiB;
                maps[2 + i][2] = (UINT64_C(1) << 41) + i * 64 * MiB;
        }
        for (size_t i = 0; i < QUERIES; i++) {
                const uint64_t *m = maps[rnd() % 8];

                q[i] = m[0] + rnd() % m[1];
        }
        pattern_translates("8 big ranges (2 RAM, 6 BARs)", (const uint64_t(*)[3]) maps, 8, q);
        free(q);
}

/* 10^6 one-page mappings with random targets, @layout's IOVAs; each implementation is filled
 * in address order. */
static void pattern_pages(const char *workload, const uint64_t *iovas, size_t n) {
        uint64_t(*maps)[3] = malloc(n * sizeof(*maps)), *q = malloc(QUERIES * sizeof(*q));

        if (!maps || !q)
                abort();
        for (size_t i = 0; i < n; i++) {
                maps[i][0] = iovas[i];
                maps[i][1] = PAGE;
                maps[i][2] = (rnd() % (1u << 30)) * PAGE;
        }
        qsort(maps, n, sizeof(*maps), cmp_u64);
        for (size_t i = 0; i < QUERIES; i++)
                q[i] = maps[rnd() % n][0] + rnd() % PAGE;
        pattern_translates(workload, (const uint64_t(*)[3]) maps, n, q);
        free(maps);
        free(q);
}

#define RING 4096

/* A Linux guest with a vIOMMU in strict mode: RING live one-page mappings; each step unmaps the
 * oldest, maps a new one and translates 4 live ones. @below_4g: the IOVAs a 32-bit DMA mask
 * gives, else anywhere in 48 bits. */
static void pattern_ring(bool below_4g) {
        size_t steps = quick ? 1u << 15 : 1u << 17, total = (steps + RING) * (READERS_MAX + 1);
        uint64_t *key = malloc(total * sizeof(*key)), *tgt = malloc(total * sizeof(*tgt));
        uint16_t(*pick)[4] = malloc(total * sizeof(*pick));
        struct samples s[READERS_MAX + 1][N_IMPLS] = {};
        uint64_t sums[N_IMPLS] = {};
        void *live = hash_new();
        const char *workload = below_4g ? "streaming ring, 4096 below 4 GiB (per step)"
                                        : "streaming ring, 4096 at 48-bit IOVAs (per step)";

        if (!key || !tgt || !pick)
                abort();
        /* Keys unique among any RING consecutive ones, all drawn here. */
        for (size_t i = 0; i < total; i++) {
                uint64_t removed;

                if (i >= RING)
                        (void) hash_unmap(live, key[i - RING], PAGE, &removed);
                do {
                        key[i] = below_4g ? (rnd() % (4 * GiB / PAGE)) * PAGE
                                          : (rnd() % (UINT64_C(1) << 36)) * PAGE;
                } while ((key[i] >= IOM_SPACE_MSI_FIRST && key[i] <= IOM_SPACE_MSI_LAST) ||
                         hash_map(live, key[i], PAGE, 0, IOM_SPACE_RW) < 0);
                tgt[i] = (rnd() % (1u << 30)) * PAGE;
                for (unsigned j = 0; j < 4; j++)
                        pick[i][j] = (uint16_t) (rnd() % RING);
        }
        hash_free(live);
        for (size_t k = 0; k < N_IMPLS; k++)
                for (unsigned c = 0; c <= READERS_MAX; c++) {
                        size_t first = c * (steps + RING), pos = first;
                        struct bg b[READERS_MAX];
                        struct inst x;

                        inst_init(&x, k);
                        for (size_t i = 0; i < RING; i++)
                                (void) x.im->map(x.t, key[first + i], PAGE, tgt[first + i],
                                                 IOM_SPACE_RW);
                        bg_start(b, c, &x, key, &pos, RING);
                        for (size_t i = first + RING; i < first + RING + steps; i += BATCH) {
                                uint64_t t0 = now_ns(), target, sum = 0;

                                for (size_t j = i; j < i + BATCH; j++) {
                                        inst_replace(&x, key[j - RING], key[j], tgt[j]);
                                        __atomic_store_n(&pos, j - RING + 1, __ATOMIC_RELAXED);
                                        for (unsigned p = 0; p < 4; p++)
                                                if (inst_translate(&x, key[j - pick[j][p]],
                                                                   &target) == 0)
                                                        sum += target;
                                }
                                /* The first eighth warms up, on keys of its own. */
                                if (i >= first + RING + steps / 8)
                                        sample(&s[c][k], now_ns() - t0, BATCH);
                                if (c == 0)
                                        sums[k] += sum;
                        }
                        bg_stop(b, c);
                        x.locked = false;
                        inst_done(&x);
                }
        check_sums(workload, sums);
        for (unsigned c = 0; c <= READERS_MAX; c++)
                for (size_t k = 0; k < N_IMPLS; k++) {
                        char name[80];

                        snprintf(name, sizeof(name), "%s%s", workload,
                                 c == 0   ? ""
                                 : c == 1 ? " +1 reader"
                                          : " +2 readers");
                        report(name, impls[k].name, &s[c][k], 0);
                }
        free(key);
        free(tgt);
        free(pick);
}

/* What a space costs before and after its first few mappings: a host with 2048 VFs has 2048. */
static void pattern_small(void) {
        for (size_t k = 0; k < N_IMPLS; k++) {
                size_t before = heap_bytes();
                void *t = impls[k].new();
                struct samples none = {};

                report("bytes of an empty space (total)", impls[k].name, &none,
                       (double) bytes_of(&impls[k], t, before));
                for (unsigned i = 0; i < 10; i++)
                        (void) impls[k].map(t, (UINT64_C(1) << 32) + i * 3 * MiB, PAGE,
                                            i * 16 * PAGE, IOM_SPACE_RW);
                report("bytes of a space of 10 mappings (total)", impls[k].name, &none,
                       (double) bytes_of(&impls[k], t, before));
                impls[k].free(t);
        }
}

static void workload_patterns(const uint64_t *dense, const uint64_t *scattered, size_t n) {
        pattern_small();
        pattern_big_ranges();
        pattern_ring(false);
        pattern_ring(true);
        pattern_pages("10^6 dense, random targets", dense, n);
        pattern_pages("10^6 scattered, random targets", scattered, n);
}

/* Readers translate while one thread churns (core only: the trees need a lock to do this).
 * Each reader's argument has a cache line of its own and is written once, at the end: no line
 * the writer or another reader touches is written while they run. */
struct reader_arg {
        struct iom_space *s;
        const uint64_t *q;
        uint64_t ops;
        const int *stop;
} __attribute__((aligned(64)));

static void *reader(void *p) {
        struct reader_arg *a = p;
        uint64_t sum = 0, target, ops = 0;

        for (size_t i = 0; !__atomic_load_n(a->stop, __ATOMIC_RELAXED); i = (i + 1) % QUERIES) {
                if (iom_space_translate(a->s, a->q[i], IOM_SPACE_READ, &target, NULL, NULL) == 0)
                        sum += target;
                ops++;
        }
        a->ops = ops;
        sink += sum;
        return NULL;
}

static void workload_threads(size_t n) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned counts[] = {0, 1, 2, (unsigned) (cpus > 0 ? cpus : 1)};
        uint64_t *iovas = malloc(n * sizeof(*iovas)), *q, *pick = malloc(QUERIES * sizeof(*pick));
        struct iom_space *s;

        for (size_t i = 0; i < n; i++)
                iovas[i] = dense_iova(i);
        for (size_t i = 0; i < QUERIES; i++)
                pick[i] = rnd() % n;
        q = make_queries(iovas, n, false);
        if (iom_space_new(NULL, &s) < 0)
                abort();
        for (size_t i = 0; i < n; i++)
                (void) iom_space_map(s, iovas[i], PAGE, i * PAGE, IOM_SPACE_RW);
        for (size_t c = 0; c < 4; c++) {
                struct reader_arg args[64];
                pthread_t threads[64];
                struct samples rd = {}, wr = {};
                unsigned nr = MIN(counts[c], 64u);
                uint64_t t0 = now_ns(), cpu0 = cpu_ns(), churn = 0, elapsed, cpu, total = 0;
                /* Read by every reader all along: alone in its line. */
                static int stop __attribute__((aligned(64)));
                char name[64];

                if (c == 3 && counts[3] <= 2)
                        break;
                stop = 0;
                for (unsigned i = 0; i < nr; i++) {
                        args[i] = (struct reader_arg){s, q, 0, &stop};
                        pthread_create(&threads[i], NULL, reader, &args[i]);
                }
                while (now_ns() - t0 < (quick ? 300000000u : 1000000000u)) {
                        uint64_t iova = iovas[pick[churn / 2 % QUERIES]], removed;

                        (void) iom_space_unmap(s, iova, PAGE, &removed);
                        (void) iom_space_map(s, iova, PAGE, iova, IOM_SPACE_RW);
                        churn += 2;
                }
                cpu = cpu_ns() - cpu0;
                __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
                for (unsigned i = 0; i < nr; i++) {
                        pthread_join(threads[i], NULL);
                        total += args[i].ops;
                }
                elapsed = now_ns() - t0;
                rd = (struct samples){.ops = total, .ns = elapsed};
                snprintf(name, sizeof(name), "translate, %u reader%s + 1 churning (all)", nr,
                         nr > 1 ? "s" : "");
                if (nr > 0)
                        report(name, "iom_space", &rd, 0);
                /* Its own CPU time per operation and its rate per CPU-second beside its rate:
                 * on a shared machine the rate also tells how much CPU the readers left it,
                 * the CPU figures what it costs where it runs. */
                sample(&wr, cpu, churn);
                wr.ns = elapsed;
                snprintf(name, sizeof(name), "the churning writer, %u reader%s (CPU ns/op)", nr,
                         nr != 1 ? "s" : "");
                report(name, "iom_space", &wr, 0);
                sample(&wr, cpu, churn);
                snprintf(name, sizeof(name), "the churning writer, %u reader%s (per CPU-s)", nr,
                         nr != 1 ? "s" : "");
                report(name, "iom_space", &wr, 0);
        }
        iom_space_free(s);
        free(iovas);
        free(pick);
        free(q);
}

static char **sections;

/* Whether the command line asked for section @name (no section named: all of them). */
static bool section(const char *name) {
        if (!*sections)
                return true;
        for (char **s = sections; *s; s++)
                if (strcmp(*s, name) == 0)
                        return true;
        return false;
}

int main(int argc, char **argv) {
        size_t million = 1000000;
        uint64_t *dense, *scattered;
        char model[128] = "unknown";
        FILE *f;

        /* The trees' nodes come from malloc: on transparent huge pages too, as the core's
         * arenas and the baselines' arrays are (big_alloc()). */
        if (!getenv("GLIBC_TUNABLES")) {
                setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1);
                execv("/proc/self/exe", argv);
        }
        quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
        sections = argv + 1 + quick;
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
        if (section("patterns"))
                workload_patterns(dense, scattered, million);
        if (section("large"))
                workload_large();
        if (section("pages")) {
                workload_pages("dense", dense, 1, TARGETS_RAM);
                workload_pages("dense", dense, 1000, TARGETS_RAM);
                workload_pages("dense", dense, million, TARGETS_RAM);
                workload_pages("dense, random targets", dense, million, TARGETS_RANDOM);
                workload_pages("scattered", scattered, 1000, TARGETS_RANDOM);
                workload_pages("scattered", scattered, million, TARGETS_RANDOM);
        }
        if (section("churn"))
                workload_churn(million);
        if (section("huge"))
                workload_huge();
        if (section("sg"))
                workload_sg(million);
        if (section("unmap"))
                workload_unmap_gib();
        if (section("dirty")) {
                workload_dirty();
                workload_dirty_translate(million);
        }
        if (section("threads"))
                workload_threads(million);
        printf("\nns per operation: median and p99 over batches of %d translates (16 maps);"
               " per call for translate_sg, get_dirty; B/mapping: the heap's growth (mallinfo2()), "
               "the core's own account of all it allocated\n",
               BATCH);
        free(dense);
        free(scattered);
        return 0;
}
