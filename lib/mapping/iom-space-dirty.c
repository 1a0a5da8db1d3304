/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dirty page tracking for live migration: a sparse radix of 64-bit-word bitmaps that grows with
 * what is written, marked lock-free by translate and read (and cleared) by get_dirty. */
#include <stdlib.h>
#include <string.h>

#include "iom-space-internal.h"
#include "macro.h"

/* LAYOUT
 *
 * A leaf covers 4096 pages (16 MiB of IOVA): 64 words of one bit per page, and a summary word
 * whose bit w says word w may be non-zero. Interior nodes hold NODE_SLOTS slots; the slots of
 * interior level l span 2^(12 + 9l) pages (level 0's slots are leaves). A slot is NULL (nothing
 * marked there), SPAN_DIRTY (every page of its span counts as dirty), or a child.
 *
 * GROWTH. Nothing is allocated for what is mapped: map and set_dirty_tracking cost O(1) here,
 * however large the space or the mapping (a 2^47-byte map used to allocate 4.3 GB of leaves
 * up front and hold the daemon's loop for 16 s). A marker that finds a slot NULL takes a
 * zeroed child from a pool and installs it. Markers may not allocate (translate never calls
 * malloc), so the writer keeps the pools filled: after every operation under the space's lock
 * (map, unmap, get_dirty, set_dirty_tracking) it fills the empty entries.
 *
 * A pool is an array of pointers. A marker owns an entry's object by exchanging the entry with
 * NULL; the writer only fills entries it sees NULL, and nobody else makes one non-NULL. So an
 * object is handed to exactly one marker, whatever the interleaving: there is no index to
 * reset and no ABA. A marker that loses the race to install its child (another marker
 * installed one first) pushes it on the pool's spare list (a push-only Treiber stack, which
 * has no ABA either: the writer takes the whole list with one exchange) and the writer zeroes
 * and reuses it.
 *
 * When the pool is empty, the marker installs SPAN_DIRTY in the slot instead: the page is
 * recorded conservatively, never lost, and get_dirty reports the whole span (16 MiB for a
 * missing leaf, 8 GiB for a missing level-0 node, and so on) as dirty. A page reported dirty
 * that was not written costs the migration a copy; a page written and not reported corrupts the
 * guest. get_dirty with clear over a whole span resets the slot to NULL; over part of it the
 * writer replaces the slot with a child in which everything is dirty (a node of SPAN_DIRTY
 * slots, or a leaf of ones) and clears the part, so the rest keeps its bits. Such overflows are
 * counted (iom_space_stats.dirty_overflows). A pool that ran dry doubles at its next fill, up
 * to POOL_MAX entries: a guest writing to many new places between two reads costs a few coarse
 * reads, which in a migration fall in the first rounds, when all memory is copied anyway.
 *
 * BOUND. Children stay until tracking is turned off or on again (pages unmapped before they
 * were read keep their bits). The writer allocates only while the whole structure stays within
 * IOM_SPACE_DIRTY_MEMORY_MAX bytes; past it the pools run dry and marks become coarse. A leaf
 * (520 bytes) covers 16 MiB, so the bound covers about 2 TiB of IOVA written page-precisely.
 *
 * CONCURRENCY. Marking sets the page's bit (a plain load first, so a page already dirty costs
 * no locked instruction), then the summary bit. Clearing clears the summary bit first, then the
 * word's bits in range, and sets the summary bit again if the word kept other bits: a
 * concurrent marker either finds the summary bit cleared and sets it, or its bit is taken by
 * this read; so "word non-zero => summary bit set" holds whenever nobody is in between. Markers
 * change a slot only from NULL (compare-and-swap); the writer alone changes a non-NULL slot
 * (SPAN_DIRTY to NULL or to a child), so a marker that saw SPAN_DIRTY saw it before the read
 * that reported the span, or sees what replaced it. Children are never freed while tracking
 * is on; the structure is freed after a grace period when tracking is turned off or on. */

#define LEAF_SHIFT 12
#define LEAF_WORDS 64
#define SPAN_DIRTY ((void *) 1)
#define POOL_MAX 1024

enum {
        KIND_LEAF,
        KIND_NODE,
        _KIND_MAX,
};

struct dleaf {
        uint64_t summary;
        uint64_t w[LEAF_WORDS];
};

struct dnode {
        void *slot[NODE_SLOTS];
};

/* Per kind: the pool's first size, its most, the size of an object. Nodes are 4 KiB and a
 * missing one coarsens 8 GiB or more, leaves 520 bytes for 16 MiB. */
static const struct {
        unsigned first, max;
        size_t size;
} kinds[_KIND_MAX] = {
        [KIND_LEAF] = {16, POOL_MAX, sizeof(struct dleaf)},
        [KIND_NODE] = {8, 128, sizeof(struct dnode)},
};

/* What an unused child holds in its first word while on a spare list. */
struct spare {
        struct spare *next;
};

struct pool {
        void *obj[POOL_MAX];  /* atomic: markers exchange with NULL, the writer fills NULLs */
        unsigned want;        /* atomic: the writer keeps entries 0..want-1 filled */
        unsigned next;        /* atomic: where markers look first */
        bool starved;         /* atomic: a marker found no object since the last fill */
        struct spare *spares; /* atomic: taken and not installed */
};

struct iom_dirty {
        unsigned levels;    /* interior levels, >= 1 */
        uint64_t memory;    /* the writer's */
        uint64_t overflows; /* atomic */
        struct pool pool[_KIND_MAX];
        struct dnode root;
};

static unsigned node_shift(unsigned l) {
        return LEAF_SHIFT + NODE_BITS * l;
}

static unsigned kind_of(unsigned l) {
        return l > 0 ? KIND_NODE : KIND_LEAF;
}

/* A zeroed object of @kind, counted, unless it would take the structure over its bound. */
static void *dirty_alloc(struct iom_dirty *d, unsigned kind) {
        void *p;

        if (d->memory + kinds[kind].size > IOM_SPACE_DIRTY_MEMORY_MAX)
                return NULL;
        p = calloc(1, kinds[kind].size);
        if (p)
                d->memory += kinds[kind].size;
        return p;
}

struct iom_dirty *space_dirty_new(const struct iom_space *s) {
        uint64_t last_page = s->last >> IOM_SPACE_PAGE_SHIFT;
        unsigned bits = last_page ? 64 - __builtin_clzll(last_page) : 1;
        struct iom_dirty *d = calloc(1, sizeof(*d));

        if (!d)
                return NULL;
        d->levels = 1;
        while (node_shift(d->levels) < bits)
                d->levels++;
        d->memory = sizeof(*d);
        for (unsigned k = 0; k < _KIND_MAX; k++)
                d->pool[k].want = kinds[k].first;
        space_dirty_refill(d);
        return d;
}

static void dnode_free(struct dnode *n, unsigned l) {
        for (unsigned i = 0; i < NODE_SLOTS; i++) {
                if ((uintptr_t) n->slot[i] <= (uintptr_t) SPAN_DIRTY)
                        continue;
                if (l > 0)
                        dnode_free(n->slot[i], l - 1);
                free(n->slot[i]);
        }
}

struct iom_dirty *space_dirty_free(struct iom_dirty *d) {
        if (!d)
                return NULL;
        dnode_free(&d->root, d->levels - 1);
        for (unsigned k = 0; k < _KIND_MAX; k++) {
                for (struct spare *p = d->pool[k].spares, *next; p; p = next) {
                        next = p->next;
                        free(p);
                }
                for (unsigned i = 0; i < POOL_MAX; i++)
                        free(d->pool[k].obj[i]);
        }
        free(d);
        return NULL;
}

void space_dirty_refill(struct iom_dirty *d) {
        if (!d)
                return;
        for (unsigned k = 0; k < _KIND_MAX; k++) {
                struct pool *p = &d->pool[k];
                struct spare *spare = __atomic_exchange_n(&p->spares, NULL, __ATOMIC_ACQUIRE);
                unsigned want = LOAD_RELAXED(&p->want);

                if (__atomic_exchange_n(&p->starved, false, __ATOMIC_RELAXED))
                        __atomic_store_n(&p->want, want = MIN(2 * want, kinds[k].max),
                                         __ATOMIC_RELAXED);
                for (unsigned i = 0; i < want; i++) {
                        void *o;

                        if (LOAD_RELAXED(&p->obj[i]))
                                continue;
                        if (spare) {
                                o = spare;
                                spare = spare->next;
                                memset(o, 0, kinds[k].size);
                        } else {
                                /* Out of memory or over the bound: the pool stays short and
                                 * markers record spans until a later fill. */
                                o = dirty_alloc(d, k);
                                if (!o)
                                        break;
                        }
                        STORE(&p->obj[i], o);
                }
                for (struct spare *next; spare; spare = next) {
                        next = spare->next;
                        free(spare);
                        d->memory -= kinds[k].size;
                }
        }
}

/* A zeroed child of @kind from the pool, or NULL when it is empty. */
static void *pool_take(struct iom_dirty *d, unsigned kind) {
        struct pool *p = &d->pool[kind];
        unsigned want = LOAD_RELAXED(&p->want), start = LOAD_RELAXED(&p->next);

        for (unsigned k = 0; k < want; k++) {
                unsigned i = (start + k) % want;
                void *o;

                if (!LOAD_RELAXED(&p->obj[i]))
                        continue;
                o = __atomic_exchange_n(&p->obj[i], NULL, __ATOMIC_ACQUIRE);
                if (o) {
                        __atomic_store_n(&p->next, i + 1, __ATOMIC_RELAXED);
                        return o;
                }
        }
        __atomic_store_n(&p->starved, true, __ATOMIC_RELAXED);
        return NULL;
}

static void spare_push(struct pool *p, void *o) {
        struct spare *s = o, *head = LOAD_RELAXED(&p->spares);

        do
                s->next = head;
        while (!__atomic_compare_exchange_n(&p->spares, &head, s, true, __ATOMIC_RELEASE,
                                            __ATOMIC_RELAXED));
}

/* Fills the NULL @slot of a level-@l node for a marker: with a child from the pool, or with
 * SPAN_DIRTY when it is empty. Returns what the slot then holds (maybe another marker's). */
static __attribute__((noinline)) void *slot_grow(struct iom_dirty *d, void **slot, unsigned l) {
        void *o = pool_take(d, kind_of(l)), *v = NULL;

        if (o) {
                if (__atomic_compare_exchange_n(slot, &v, o, false, __ATOMIC_RELEASE,
                                                __ATOMIC_ACQUIRE))
                        return o;
                spare_push(&d->pool[kind_of(l)], o);
                return v;
        }
        if (__atomic_compare_exchange_n(slot, &v, SPAN_DIRTY, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_ACQUIRE)) {
                (void) __atomic_fetch_add(&d->overflows, 1, __ATOMIC_RELAXED);
                return SPAN_DIRTY;
        }
        return v;
}

/* The leaf holding @page for a marker, grown if need be; NULL when a whole span holding it is
 * dirty, whose last page goes to @ret_span_last. */
static _always_inline_ struct dleaf *leaf_for(struct iom_dirty *d, uint64_t page,
                                              uint64_t *ret_span_last) {
        struct dnode *n = &d->root;

        for (unsigned l = d->levels - 1;; l--) {
                void **slot = &n->slot[(page >> node_shift(l)) & (NODE_SLOTS - 1)];
                void *v = LOAD(slot);

                if (_unlikely_((uintptr_t) v <= (uintptr_t) SPAN_DIRTY)) {
                        if (!v)
                                v = slot_grow(d, slot, l);
                        if (v == SPAN_DIRTY) {
                                *ret_span_last = page | ((UINT64_C(1) << node_shift(l)) - 1);
                                return NULL;
                        }
                }
                if (l == 0)
                        return v;
                n = v;
        }
}

/* Bits lo..hi (inclusive, 0..63) set. */
static uint64_t bit_range(unsigned lo, unsigned hi) {
        return (hi == 63 ? ~UINT64_C(0) : (UINT64_C(1) << (hi + 1)) - 1) &
               ~((UINT64_C(1) << lo) - 1);
}

void space_dirty_mark(struct iom_dirty *d, uint64_t first_page, uint64_t last_page) {
        for (uint64_t p = first_page; p <= last_page;) {
                uint64_t e = last_page;
                struct dleaf *leaf = leaf_for(d, p, &e);

                if (leaf) {
                        unsigned w = (p >> 6) & (LEAF_WORDS - 1);
                        uint64_t mask;

                        e = MIN(p | 63, last_page);
                        mask = bit_range(p & 63, e & 63);
                        if ((LOAD_RELAXED(&leaf->w[w]) & mask) != mask) {
                                (void) __atomic_fetch_or(&leaf->w[w], mask, __ATOMIC_RELAXED);
                                if (!(LOAD_RELAXED(&leaf->summary) & (UINT64_C(1) << w)))
                                        (void) __atomic_fetch_or(&leaf->summary, UINT64_C(1) << w,
                                                                 __ATOMIC_RELAXED);
                        }
                }
                if (e >= last_page)
                        break;
                p = e + 1;
        }
}

/* ORs the 64 bits of @value into @bitmap (of @size bytes) at bit @pos. */
static void bitmap_or(uint8_t *bitmap, size_t size, uint64_t pos, uint64_t value) {
        unsigned __int128 v = (unsigned __int128) value << (pos & 7);

        for (size_t i = pos >> 3; v && i < size; i++, v >>= 8)
                bitmap[i] |= (uint8_t) v;
}

/* Sets bits @from..@to of @bitmap. */
static void bitmap_fill(uint8_t *bitmap, uint64_t from, uint64_t to) {
        for (; from <= to && from & 7; from++)
                bitmap[from >> 3] |= (uint8_t) (1u << (from & 7));
        if (from <= to && to - from >= 7) {
                memset(bitmap + (from >> 3), 0xff, (to - from + 1) >> 3);
                from += (to - from + 1) & ~UINT64_C(7);
        }
        for (; from <= to; from++)
                bitmap[from >> 3] |= (uint8_t) (1u << (from & 7));
}

struct collect {
        struct iom_dirty *d;
        uint64_t first, last;
        bool clear;
        uint8_t *bitmap;
        size_t size;
};

static void collect_leaf(const struct collect *c, struct dleaf *leaf, uint64_t base) {
        uint64_t lo = MAX(c->first, base),
                 hi = MIN(c->last, base + (UINT64_C(1) << LEAF_SHIFT) - 1);
        uint64_t words = bit_range((lo - base) >> 6, (hi - base) >> 6);
        uint64_t pending = LOAD_RELAXED(&leaf->summary) & words;

        while (pending) {
                unsigned w = __builtin_ctzll(pending);
                uint64_t wbase = base + ((uint64_t) w << 6), bit = UINT64_C(1) << w, bits;
                uint64_t mask = bit_range(MAX(lo, wbase) - wbase, MIN(hi, wbase + 63) - wbase);

                pending &= pending - 1;
                if (c->clear) {
                        uint64_t old;

                        (void) __atomic_fetch_and(&leaf->summary, ~bit, __ATOMIC_SEQ_CST);
                        old = __atomic_fetch_and(&leaf->w[w], ~mask, __ATOMIC_SEQ_CST);
                        if (old & ~mask)
                                (void) __atomic_fetch_or(&leaf->summary, bit, __ATOMIC_SEQ_CST);
                        bits = old & mask;
                } else
                        bits = LOAD_RELAXED(&leaf->w[w]) & mask;
                if (!bits)
                        continue;
                if (wbase >= c->first)
                        bitmap_or(c->bitmap, c->size, wbase - c->first, bits);
                else
                        bitmap_or(c->bitmap, c->size, 0, bits >> (c->first - wbase));
        }
}

/* A child of a level-@l node in which every page is dirty, for a SPAN_DIRTY slot that a clear
 * covers in part; NULL over the bound or out of memory (the span then stays dirty). */
static void *span_split(struct iom_dirty *d, unsigned l) {
        void *o = dirty_alloc(d, kind_of(l));

        if (!o)
                return NULL;
        if (l > 0)
                for (unsigned i = 0; i < NODE_SLOTS; i++)
                        ((struct dnode *) o)->slot[i] = SPAN_DIRTY;
        else
                memset(o, 0xff, kinds[KIND_LEAF].size);
        return o;
}

static void collect_node(const struct collect *c, struct dnode *n, unsigned l, uint64_t base) {
        unsigned shift = node_shift(l);
        uint64_t i_lo = c->first > base ? (c->first - base) >> shift : 0;
        uint64_t i_hi = MIN((uint64_t) NODE_SLOTS - 1, (c->last - base) >> shift);

        for (uint64_t i = i_lo; i <= i_hi; i++) {
                void *child = LOAD(&n->slot[i]);
                uint64_t cbase = base + (i << shift), clast = cbase + (UINT64_C(1) << shift) - 1;
                bool whole = c->first <= cbase && clast <= c->last;

                if (!child)
                        continue;
                if (child == SPAN_DIRTY && c->clear && !whole) {
                        void *o = span_split(c->d, l);

                        if (o) {
                                STORE(&n->slot[i], o);
                                child = o;
                        }
                }
                if (child == SPAN_DIRTY) {
                        bitmap_fill(c->bitmap, MAX(cbase, c->first) - c->first,
                                    MIN(clast, c->last) - c->first);
                        if (c->clear && whole)
                                STORE(&n->slot[i], NULL);
                } else if (l == 0)
                        collect_leaf(c, child, cbase);
                else
                        collect_node(c, child, l - 1, cbase);
        }
}

void space_dirty_collect(struct iom_dirty *d, uint64_t first_page, uint64_t last_page, bool clear,
                         uint8_t *bitmap) {
        struct collect c = {
                .d = d,
                .first = first_page,
                .last = last_page,
                .clear = clear,
                .bitmap = bitmap,
                .size = (last_page - first_page) / 8 + 1,
        };

        collect_node(&c, &d->root, d->levels - 1, 0);
}

uint64_t space_dirty_memory(const struct iom_dirty *d) {
        return d ? d->memory : 0;
}

uint64_t space_dirty_overflows(const struct iom_dirty *d) {
        return d ? LOAD_RELAXED(&d->overflows) : 0;
}
