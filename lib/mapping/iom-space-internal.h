/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mapping core's private layout, shared by its files; the rules are in iom-space.c. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "iom-space.h"

#define NODE_BITS 9
#define NODE_SLOTS (1u << NODE_BITS)
/* A compact node lists up to this many pieces; more and it becomes a radix node. */
#define COMPACT_MAX 16
/* Compact offsets are 32-bit pages: slots spanning at most 2^27 pages may be compact. */
#define COMPACT_MAX_LEVEL 3

/* A slot: 0 empty; (id << 2) | SLOT_MAP the whole span lies in mapping id; a struct compact
 * pointer | SLOT_COMPACT; or a struct node pointer (tag 0). Level-0 slots are 0 or SLOT_MAP. */
#define SLOT_MAP UINT64_C(1)
#define SLOT_COMPACT UINT64_C(2)
#define SLOT_TAGS UINT64_C(3)

/* What the writer pools: compacts by capacity, and radix nodes. */
enum {
        POOL_COMPACT2,
        POOL_COMPACT4,
        POOL_COMPACT8,
        POOL_COMPACT16,
        POOL_NODE,
        _POOL_MAX,
};

/* What nodes and compacts start with: the writer links retired and pooled objects here, a
 * field readers never read. */
struct obj {
        struct obj *next;
        uint32_t n;    /* node: slots in use (writer only); compact: entries (readers read it) */
        uint32_t kind; /* POOL_* */
};

struct node {
        struct obj hdr;
        /* Level-0 nodes only: non-zero when all 512 pages are mapped, by mappings that end in
         * the node, with one prot and targets that continue each other (guest RAM mapped page
         * by page): then it is the target of the node's first page | prot, and a translate
         * needs this line only, not the slot's nor the record's. 0 otherwise. */
        uint64_t linear;
        uint64_t slot[NODE_SLOTS];
};

/* A compact's piece, packed in 64 bits: prot (0 for a hole); CE_ONE when the piece is a whole
 * mapping of one page, whose target's page number (below 2^34) follows, so that a scattered
 * translate reads this line and not the record; and the piece's first page relative to the
 * slot's span. The pieces' mapping ids follow the entries (compact_ids()), for the writer and
 * for pieces that are not CE_ONE. */
#define CE_PROT UINT64_C(3)
#define CE_ONE UINT64_C(4)
#define CE_OFF_SHIFT 3
#define CE_OFF_MASK ((UINT64_C(1) << 27) - 1)
#define CE_PFN_SHIFT 30
#define CE_PFN_LIMIT (UINT64_C(1) << (64 - CE_PFN_SHIFT))

struct compact {
        struct obj hdr;
        uint64_t e[]; /* as many as its pool's capacity, then as many uint32_t ids */
};

static inline uint32_t ce_off(uint64_t e) {
        return (uint32_t) ((e >> CE_OFF_SHIFT) & CE_OFF_MASK);
}

static inline unsigned compact_capacity(const struct compact *c) {
        return 2u << c->hdr.kind; /* POOL_COMPACT2 ... POOL_COMPACT16 */
}

static inline const uint32_t *compact_ids(const struct compact *c) {
        return (const uint32_t *) &c->e[compact_capacity(c)];
}

/* A mapping record. iova and last are written before the record is published and stay until
 * it is freed after a grace period; tp and gen are atomics. */
struct rec {
        uint64_t iova;
        uint64_t last;      /* last byte */
        uint64_t tp;        /* target | prot | REC_CONT */
        uint32_t gen;       /* even while live, odd once retired */
        uint32_t next_free; /* writer only: the free list and the retired list */
};

#define REC_PROT UINT64_C(3)
/* Hint: the next page holds a mapping that continues this one's target with the same prot. */
#define REC_CONT UINT64_C(4)
#define REC_TARGET (~(IOM_SPACE_PAGE_SIZE - 1))

/* The record slab: chunks of 2^10 records (32 KiB), found through directories of 2^11 chunk
 * pointers, found through the space's table; nothing ever moves. */
#define REC_CHUNK_SHIFT 10
#define REC_DIR_SHIFT 11
#define REC_ID_BITS 31
#define REC_TABLE (1u << (REC_ID_BITS - REC_CHUNK_SHIFT - REC_DIR_SHIFT))
#define REC_ID_MAX ((UINT32_C(1) << REC_ID_BITS) - 1)

struct iom_dirty;
struct arena;

#define SUBSCRIBERS_MAX 16

struct iom_space {
        /* Read by translate. */
        uint64_t first, last;         /* aperture, bytes, inclusive */
        uint64_t serial;              /* unique per space for the per-thread hint */
        struct node *root;            /* never replaced */
        unsigned top;                 /* level of the root */
        struct iom_dirty *dirty;      /* atomic; NULL while tracking is off */
        struct rec **recs[REC_TABLE]; /* atomic, set once, and so are the directories */

        /* The writer's side, under lock. */
        pthread_mutex_t lock;
        struct iom_space_config config;
        uint64_t (*reserved)[2];
        size_t n_reserved;
        uint64_t n_mappings, mapped_bytes, memory_bytes;
        uint32_t next_id;  /* first never used id */
        uint32_t free_ids; /* free list head (0: empty) */
        uint32_t n_free_ids;
        uint32_t retired_ids; /* retired since the last grace period, in unmap order */
        uint32_t retired_tail;
        struct arena *arenas; /* what pools and record chunks are carved from (newest first) */
        struct obj *pool[_POOL_MAX];
        unsigned n_pool[_POOL_MAX];
        struct obj *limbo; /* retired objects waiting for a grace period */
        unsigned n_limbo;
        struct {
                iom_space_unmapped_func_t func;
                void *userdata;
        } subscribers[SUBSCRIBERS_MAX];
        unsigned n_subscribers;
        struct iom_space_backend backend;
        void *backend_userdata;
};

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LOAD_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static inline struct rec *space_rec(const struct iom_space *s, uint32_t id) {
        struct rec **dir = LOAD_RELAXED(&s->recs[id >> (REC_CHUNK_SHIFT + REC_DIR_SHIFT)]);
        struct rec *chunk =
                LOAD_RELAXED(&dir[(id >> REC_CHUNK_SHIFT) & ((1u << REC_DIR_SHIFT) - 1)]);

        return chunk + (id & ((1u << REC_CHUNK_SHIFT) - 1));
}

static inline uint64_t rec_last_page(const struct rec *r) {
        return r->last >> IOM_SPACE_PAGE_SHIFT;
}

/* What a lookup can answer without a record: a linear leaf (struct node) or a compact's
 * piece. @found: it did; then pages first_page..last_page go to (tp & REC_TARGET) onwards with
 * prot tp & REC_PROT, and tp 0 means nothing is mapped at the page. */
struct direct {
        bool found;
        uint64_t tp;
        uint64_t first_page, last_page;
};

/* The id of the mapping that may hold @page (check its record: a compact's piece ends where
 * its record does), or 0. With @ret_direct, a linear leaf or a compact on the way answers
 * instead (0 is returned, ret_direct->found set). Readers call it inside a read-side
 * section. */
static inline uint32_t space_index_lookup(const struct iom_space *s, uint64_t page,
                                          struct direct *ret_direct) {
        const struct node *n = s->root;

        for (unsigned l = s->top;; l--) {
                unsigned shift = NODE_BITS * l;
                uint64_t v, linear;

                if (l == 0 && ret_direct && (linear = LOAD(&n->linear))) {
                        *ret_direct = (struct direct){true, linear, page & ~(NODE_SLOTS - 1),
                                                      page | (NODE_SLOTS - 1)};
                        return 0;
                }
                v = LOAD(&n->slot[(page >> shift) & (NODE_SLOTS - 1)]);
                if (v & SLOT_MAP)
                        return (uint32_t) (v >> 2);
                if (v & SLOT_COMPACT) {
                        const struct compact *c = (const struct compact *) (v & ~SLOT_TAGS);
                        uint64_t sbase = page & ~((UINT64_C(1) << shift) - 1);
                        uint32_t rel = (uint32_t) (page - sbase), i = 0;
                        uint64_t e;

                        while (i < c->hdr.n && ce_off(c->e[i]) <= rel)
                                i++;
                        if (i == 0)
                                return 0;
                        e = c->e[i - 1];
                        if (ret_direct && (e & CE_ONE)) {
                                uint64_t first = sbase + ce_off(e);

                                *ret_direct =
                                        (struct direct){true,
                                                        first == page ? ((e >> CE_PFN_SHIFT)
                                                                         << IOM_SPACE_PAGE_SHIFT) |
                                                                                (e & CE_PROT)
                                                                      : 0,
                                                        first, first};
                                return 0;
                        }
                        return compact_ids(c)[i - 1];
                }
                if (!v)
                        return 0;
                n = (const struct node *) v;
        }
}

/* Memory for the index and the records (iom-space-arena.c): zeroed, 64-byte aligned, never
 * given back before space_arena_free_all(). */
void *space_arena_alloc(struct iom_space *s, size_t size);
void space_arena_free_all(struct iom_space *s);

/* Writer side (iom-space-index.c), under the space's lock. */
int space_index_init(struct iom_space *s);
/* The first mapping whose last page is >= @page and that may start at or before @limit (check
 * its record), or 0. */
uint32_t space_index_next(const struct iom_space *s, uint64_t page, uint64_t limit);
int space_reserve(struct iom_space *s, unsigned assigns, unsigned records);
void space_index_assign(struct iom_space *s, uint64_t first_page, uint64_t last_page, uint32_t id);
uint32_t space_rec_alloc(struct iom_space *s);
void space_rec_retire(struct iom_space *s, uint32_t id);
void space_rec_release(struct iom_space *s, uint32_t id);
void space_drain_objects(struct iom_space *s);
void space_index_free(struct iom_space *s);

/* Dirty tracking (iom-space-dirty.c). */
struct iom_dirty *space_dirty_new(const struct iom_space *s);
struct iom_dirty *space_dirty_free(struct iom_dirty *d);
int space_dirty_populate(struct iom_dirty *d, uint64_t first_page, uint64_t last_page);
uint64_t space_dirty_memory(const struct iom_dirty *d);
void space_dirty_mark(const struct iom_dirty *d, uint64_t first_page, uint64_t last_page);
void space_dirty_collect(struct iom_dirty *d, uint64_t first_page, uint64_t last_page, bool clear,
                         uint8_t *bitmap);
