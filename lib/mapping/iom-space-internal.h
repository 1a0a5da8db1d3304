/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mapping core's private layout, shared by its files; the rules are in iom-space.c. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "iom-space.h"
#include "macro.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LOAD_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* What a lookup can answer without a record: a linear leaf (struct node) or a compact's
 * piece. @found: it did; then pages first_page..last_page go to (tp & REC_TARGET) onwards with
 * prot tp & REC_PROT, and tp 0 means nothing is mapped at the page. */
struct direct {
        bool found;
        uint64_t tp;
        uint64_t first_page, last_page;
};

#define NODE_BITS 9
#define NODE_SLOTS (1u << NODE_BITS)
/* A compact lists up to this many pieces; more and it becomes a radix node. */
#define COMPACT_MAX 16
/* Compact offsets are 27 bits: slots spanning at most 2^27 pages may be compact. */
#define COMPACT_MAX_LEVEL 3

/* A slot: 0 empty; SLOT_MAP the whole span lies in one mapping, whose id is in bits 2..32 and
 * the low bits of the span's first target page number above (so the writer can tell a
 * neighbour does not continue a mapping without loading its record); a compact's entries |
 * SLOT_COMPACT, with SLOT_WIDE when they fill two cache lines; a struct packed pointer |
 * SLOT_PACKED; or a struct node pointer (tag 0). Level-0 slots are 0 or SLOT_MAP. */
#define SLOT_MAP UINT64_C(1)
#define SLOT_COMPACT UINT64_C(2)
/* Bit 2 means one thing on a compact and another on a pointer: read it after the tag. */
#define SLOT_WIDE UINT64_C(4)   /* with SLOT_COMPACT: the entries fill two cache lines */
#define SLOT_PACKED UINT64_C(4) /* without a tag bit: the pointer is a struct packed */
_Static_assert(SLOT_WIDE == SLOT_PACKED && !(SLOT_WIDE & (SLOT_MAP | SLOT_COMPACT)),
               "bit 2 is shared by two kinds of slot that the low tags tell apart");
#define SLOT_TAGS UINT64_C(7)
#define SLOT_TLOW_SHIFT 33
#define SLOT_TLOW_MASK ((UINT64_C(1) << (64 - SLOT_TLOW_SHIFT)) - 1)

static inline uint64_t slot_tlow(uint64_t v) {
        return v >> SLOT_TLOW_SHIFT;
}

static inline uint32_t slot_id(uint64_t v) {
        return (uint32_t) ((v >> 2) & ((UINT64_C(1) << (SLOT_TLOW_SHIFT - 2)) - 1));
}

static inline uint64_t slot_map(uint32_t id, uint64_t target_page) {
        return (target_page & SLOT_TLOW_MASK) << SLOT_TLOW_SHIFT | (uint64_t) id << 2 | SLOT_MAP;
}

/* What the writer pools: compacts of one and of two lines, and radix nodes. */
enum {
        POOL_COMPACT,
        POOL_COMPACT_WIDE,
        POOL_NODE,
        POOL_PACKED,
        POOL_SMALL,
        _POOL_MAX,
};

/* What nodes and compacts start with: the writer links retired and pooled objects here, a
 * field readers never read. */
struct obj {
        struct obj *next;
        uint32_t n;    /* node, packed: slots in use; compact: pieces */
        uint32_t kind; /* POOL_* */
};

struct node {
        struct obj hdr;
        /* Level-0 nodes only: non-zero when all 512 pages are mapped, by mappings that end in
         * the node, with one prot and targets that continue each other (guest RAM mapped page
         * by page): then it is the target of the node's first page | prot, and a translate
         * needs this line only, not the slot's nor the record's. 0 otherwise. */
        uint64_t linear;
        /* The writer's, level 0: the summary the leaf had before its slot @hole alone was
         * assigned since (0: unknown), so that a page unmapped and mapped again in line makes
         * the leaf linear again without a check of its 512 records. */
        uint64_t line;
        uint64_t hole;
        uint64_t slot[NODE_SLOTS];
};

/* A compact: a slot's pieces, sorted, as 8 (one cache line) or 16 (two, SLOT_WIDE) 64-bit
 * entries; the entries past the last piece repeat it. Readers see the entries only and search
 * them in a fixed number of steps that never branch on what they load, so that independent
 * translates overlap their cache misses instead of waiting out each other's. Before the
 * entries, as many bytes again: the writer's header and the pieces' ids.
 *
 * An entry: the piece's first page relative to the slot's span in its top 27 bits, then 35
 * bits, then 2 bits of prot. Prot non-zero: the piece is a whole mapping of one page and the
 * 35 bits are its target's page number, so a scattered translate reads this line and not the
 * record. Prot 0: the 35 bits are the id of the mapping the piece belongs to (0: a hole). */
#define COMPACT_WIDTH 8
#define CE_OFF_SHIFT 37
#define CE_PAYLOAD_SHIFT 2
#define CE_PAYLOAD_MASK ((UINT64_C(1) << 35) - 1)
#define CE_PROT UINT64_C(3)
#define CE_PFN_LIMIT (UINT64_C(1) << 35)

struct compact {
        struct obj hdr;
        uint32_t ids[];
};

static inline uint32_t ce_off(uint64_t e) {
        return (uint32_t) (e >> CE_OFF_SHIFT);
}

static inline uint64_t ce_payload(uint64_t e) {
        return (e >> CE_PAYLOAD_SHIFT) & CE_PAYLOAD_MASK;
}

static inline unsigned slot_width(uint64_t v) {
        return v & SLOT_WIDE ? 2 * COMPACT_WIDTH : COMPACT_WIDTH;
}

static inline const uint64_t *slot_entries(uint64_t v) {
        return (const uint64_t *) (v & ~SLOT_TAGS);
}

static inline struct compact *slot_compact(uint64_t v) {
        return (struct compact *) (slot_entries(v) - slot_width(v));
}

/* The index of the last of @width entries whose piece starts at or before @rel, or -1: a
 * fixed number of steps, none of them a branch on what it loads. */
static _always_inline_ int compact_search(const uint64_t *e, unsigned width, uint32_t rel) {
        uint64_t key = ((uint64_t) rel << CE_OFF_SHIFT) | ((UINT64_C(1) << CE_OFF_SHIFT) - 1);
        unsigned i = 0;

#pragma GCC unroll 4
        for (unsigned step = width / 2; step > 0; step /= 2)
                i += step * (LOAD(&e[i + step - 1]) <= key); /* not "?:", often a branch */
        return (int) (i + (LOAD(&e[i]) <= key)) - 1;
}

/* A packed node: a radix node whose slots are cache lines, so that a slot holding a few pieces
 * holds them itself and a scattered translate misses the cache once, not twice (for the node,
 * then for the compact). It stands for a radix node whose slots are at level 1 or above and
 * mostly hold compacts.
 *
 * A line's first word is its head: LINE_BUSY while the writer rewrites the line, LINE_SLOT when
 * word 1 holds a slot value (a compact, a node) rather than pieces, and above them a sequence
 * number the writer steps on every rewrite. Otherwise words 1..7 are up to LINE_PIECES compact
 * entries (the unused ones repeating the last; all zero when the line is empty). The head stays
 * below 2^CE_OFF_SHIFT, so it sorts before every entry and a line is searched as a compact of 8
 * whose entry 0 means "no piece". Readers check the head again after the search (a sequence
 * lock, its words stored with release and loaded with acquire, so that no fence is needed): a
 * line rewritten meanwhile is read again. The writer's side (count, ids) is apart. */
#define LINE_WORDS 8
#define LINE_PIECES (LINE_WORDS - 1)
#define LINE_BUSY UINT64_C(1)
#define LINE_SLOT UINT64_C(2)
#define LINE_SEQ_MASK ((UINT64_C(1) << CE_OFF_SHIFT) - 1)

struct packed {
        struct obj hdr;
        uint8_t count[NODE_SLOTS];             /* pieces in each line that holds pieces */
        uint32_t ids[NODE_SLOTS][LINE_PIECES]; /* their mappings' ids */
        uint64_t line[NODE_SLOTS][LINE_WORDS] __attribute__((aligned(64)));
};

static inline const struct packed *slot_packed(uint64_t v) {
        return (const struct packed *) (v & ~SLOT_TAGS);
}

/* What a piece's entry @e, of a slot spanning from page @sbase, says of @page: the id of the
 * mapping to look up (0: none), or 0 with @ret_direct filled. @id: the piece's id, for a
 * caller without @ret_direct; with @want_pfn, 0 when the piece's target at @page is certainly
 * not that page. */
static _always_inline_ uint32_t piece_answer(uint64_t e, uint64_t sbase, uint64_t page,
                                             const uint32_t *id, struct direct *ret_direct,
                                             const uint64_t *want_pfn) {
        uint64_t first = sbase + ce_off(e);

        if (!(e & CE_PROT))
                return (uint32_t) ce_payload(e);
        if (!ret_direct)
                return !want_pfn || (first == page && ce_payload(e) == *want_pfn) ? *id : 0;
        *ret_direct = (struct direct){
                true, first == page ? (ce_payload(e) << IOM_SPACE_PAGE_SHIFT) | (e & CE_PROT) : 0,
                first, first};
        return 0;
}

/* The small form (iom-space-index.c): while a space holds at most SMALL_MAX pieces (mappings,
 * between operations) its index is this one object instead of a radix tree, copy-on-write: an
 * empty space or one of a few mappings costs a few hundred bytes, not a tree's 4 KiB nodes,
 * and a translate is a search of one array. The pieces are sorted; last[] is padded with
 * UINT64_MAX, so the search takes a fixed number of steps that never branch on what they load.
 * A piece answers without its record: tp is its first page's target | prot, reach the last
 * page of the pieces that continue it (same prot, targets in line). */
#define SMALL_MAX 16

struct small {
        struct obj hdr; /* n: pieces */
        uint32_t ids[SMALL_MAX];
        uint64_t last[SMALL_MAX] __attribute__((aligned(64))); /* last pages */
        uint64_t first[SMALL_MAX];                             /* first pages */
        uint64_t tp[SMALL_MAX];
        uint64_t reach[SMALL_MAX];
};

/* The index of the piece of @sm that holds @page, or -1. */
static _always_inline_ int small_search(const struct small *sm, uint64_t page) {
        unsigned i = 0;

#pragma GCC unroll 4
        for (unsigned step = SMALL_MAX / 2; step > 0; step /= 2)
                i += step * (sm->last[i + step - 1] < page);
        i += sm->last[i] < page;
        return i < sm->hdr.n && sm->first[i] <= page ? (int) i : -1;
}

/* What small form @sm answers of @page (struct direct); false when nothing holds it. */
static _always_inline_ bool small_direct(const struct small *sm, uint64_t page,
                                         struct direct *ret) {
        int i = small_search(sm, page);

        if (i < 0)
                return false;
        *ret = (struct direct){true, sm->tp[i], sm->first[i], sm->reach[i]};
        return true;
}

/* The hashed form (iom-space-hash.c): a space whose mappings are all one page long and whose
 * targets do not continue each other (a guest's streaming DMA, buffers at random IOVAs) keeps
 * them in an open-addressing table on page number, linear probing, instead of a tree: a
 * translate reads one slot (one cache miss), a map or an unmap writes one. A hashed mapping has
 * no record: its slot says all a record would (the page, its target and prot; one page long).
 * Readers probe the table that is published, without a lock. A slot goes from empty to live
 * once (its tp written before its key, with release) and from live to a tombstone once; it is
 * never reused in the same table, so a reader that found a key reads the target that went
 * with it.
 * Tombstones and growth are cleared by a copy: a new table with the live slots, published in
 * one store, the old one retired until a grace period like any node. The table always keeps
 * at least half of its slots empty, so a probe ends. */
struct hslot {
        uint64_t key; /* page + 1; 0: empty; HASH_TOMB: was live */
        uint64_t tp;  /* target | prot */
};

#define HASH_TOMB UINT64_MAX
/* An unmap of at most this many pages probes each one; more and the space leaves for the
 * tree. */
#define HASH_PROBE_MAX 64
#define HASH_MUL UINT64_C(0x9e3779b97f4a7c15)
/* A kind of retired object beside the pools': tables are allocated and freed one by one. */
#define OBJ_HASH _POOL_MAX

struct hash {
        struct obj hdr;
        unsigned shift; /* 64 - log2(slots) */
        uint64_t mask;  /* slots - 1 */
        /* The writer's: slots used (live and tombstones), live, one-page maps in this window
         * and how many of them continued the map before (the rule to leave for the tree,
         * iom-space-hash.c), that map's page and target | prot, bytes allocated. */
        uint64_t used, live, inserts, conts, last_page, last_tp;
        size_t bytes;
        struct hslot slot[] __attribute__((aligned(64)));
};

/* The slot of @h that holds @page, or -1. */
static _always_inline_ int64_t hash_find(const struct hash *h, uint64_t page) {
        uint64_t i = (page * HASH_MUL) >> h->shift;

        for (;; i = (i + 1) & h->mask) {
                uint64_t k = LOAD(&h->slot[i].key);

                if (k == page + 1)
                        return (int64_t) i;
                if (k == 0)
                        return -1;
        }
}

/* What hashed form @h answers of @page (struct direct); false when nothing holds it. */
static _always_inline_ bool hash_direct(const struct hash *h, uint64_t page, struct direct *ret) {
        int64_t i = hash_find(h, page);

        *ret = (struct direct){true, i < 0 ? 0 : LOAD_RELAXED(&h->slot[i].tp), page, page};
        return i >= 0;
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

static inline void rec_set_cont(struct rec *r, bool cont) {
        if (cont)
                (void) __atomic_fetch_or(&r->tp, REC_CONT, __ATOMIC_RELAXED);
        else
                (void) __atomic_fetch_and(&r->tp, ~REC_CONT, __ATOMIC_RELAXED);
}

/* The record slab: chunks that double in size, the first of 2^REC_FIRST_SHIFT records, so that
 * a small space holds a small slab and id i lives in chunk floor(log2(i + 16)) - 4; nothing
 * ever moves. */
#define REC_FIRST_SHIFT 4
#define REC_ID_BITS 31
#define REC_CHUNKS (REC_ID_BITS + 1 - REC_FIRST_SHIFT)
#define REC_ID_MAX ((UINT32_C(1) << REC_ID_BITS) - 1)

struct iom_dirty;
struct arena;

/* Builds for tests define IOM_SPACE_POISON: what a grace period frees is overwritten with
 * this, so a reader that still reads it is handed an answer no test mapped (or crashes). Its
 * bytes leave a packed node's line neither busy nor a slot: a reader never spins on it. */
#define SPACE_POISON UINT64_C(0xa4a4a4a4a4a4a4a4)
_Static_assert(!(SPACE_POISON & (LINE_BUSY | LINE_SLOT)), "poison is not a busy line");

/* What an operation unpublished, waiting for a grace period before it is reused. */
struct batch {
        struct obj *objs;         /* nodes and compacts, linked through hdr.next */
        uint32_t recs, recs_tail; /* records, in unmap order, linked through next_free */
        uint32_t n_recs;
        size_t bytes;
};

#define SUBSCRIBERS_MAX 16

struct iom_space {
        /* Read by translate. */
        uint64_t first, last;         /* aperture, bytes, inclusive */
        uint64_t serial;              /* unique per space for the per-thread hint */
        struct small *small;          /* atomic; the index while in the small form, else NULL */
        struct hash *hash;            /* atomic; the index while in the hashed form, else NULL */
        struct node *root;            /* the tree once grown (small, hash NULL); never replaced */
        unsigned top;                 /* level of the root */
        struct iom_dirty *dirty;      /* atomic; NULL while tracking is off */
        struct rec *recs[REC_CHUNKS]; /* atomic, set once */

        /* The writer's side, under lock. */
        pthread_mutex_t lock;
        struct iom_space_config config;
        uint64_t (*reserved)[2];
        size_t n_reserved;
        uint64_t n_mappings, mapped_bytes, memory_bytes;
        uint32_t next_id;  /* first never used id */
        uint32_t free_ids; /* free list head (0: empty) */
        uint32_t n_free_ids;
        struct arena *arenas; /* what pools and record chunks are carved from (newest first) */
        struct obj *pool[_POOL_MAX];
        unsigned n_pool[_POOL_MAX];
        /* [0] fills; [1], when batch_waiting, waits for the grace period batch_cookie. */
        struct batch batch[2];
        uint64_t batch_cookie;
        bool batch_waiting;
        struct {
                iom_space_unmapped_func_t func;
                void *userdata;
        } subscribers[SUBSCRIBERS_MAX];
        unsigned n_subscribers;
        struct iom_space_backend backend;
        void *backend_userdata;
        /* The hashed form's pages in order, for iom_space_next_mapping() (iom-space-hash.c):
         * valid while order_changes == hash_changes, which every change of the table steps. */
        uint64_t *order;
        size_t n_order, order_cap;
        uint64_t hash_changes, order_changes;
        /* A table retired by a copy, kept for the next copy of its size (iom-space-hash.c). */
        struct hash *hash_spare;
};

/* Record @id's chunk, and its index there. */
static inline unsigned rec_chunk(uint32_t id, uint64_t *ret_index) {
        uint64_t x = (uint64_t) id + (UINT64_C(1) << REC_FIRST_SHIFT);
        unsigned c = 63 - (unsigned) __builtin_clzll(x) - REC_FIRST_SHIFT;

        *ret_index = x - (UINT64_C(1) << (c + REC_FIRST_SHIFT));
        return c;
}

static inline struct rec *space_rec(const struct iom_space *s, uint32_t id) {
        uint64_t i;
        unsigned c = rec_chunk(id, &i);

        return LOAD_RELAXED(&s->recs[c]) + i;
}

static inline uint64_t rec_last_page(const struct rec *r) {
        return r->last >> IOM_SPACE_PAGE_SHIFT;
}

/* One read of the line of packed node @pk that holds @page, its lines spanning 2^@shift pages:
 * its head, and word 1 if it holds a slot, else the entry of the last piece starting at or
 * before @page (with its index, 0 for none). False when the line was busy or changed meanwhile:
 * read it again. */
static _always_inline_ bool line_read(const struct packed *pk, unsigned shift, uint64_t page,
                                      uint64_t *ret_head, uint64_t *ret_word, int *ret_k) {
        const uint64_t *ln = pk->line[(page >> shift) & (NODE_SLOTS - 1)];
        uint64_t h = LOAD(&ln[0]);
        int k = 0;

        /* Acquire loads (plain ones on x86): the head is read again after them. */
        if (!(h & LINE_SLOT))
                k = compact_search(ln, LINE_WORDS,
                                   (uint32_t) (page & ((UINT64_C(1) << shift) - 1)));
        *ret_word = LOAD(&ln[h & LINE_SLOT ? 1 : k]);
        *ret_head = h;
        *ret_k = k;
        return LOAD_RELAXED(&ln[0]) == h && !(h & LINE_BUSY);
}

/* Reads the line of packed node @pk that holds @page, its lines spanning 2^@shift pages,
 * consistently (struct packed): true when its pieces answered for @page (the id, or 0 with
 * ret_direct filled, in @ret_id); false with the slot value it holds in @ret_v. */
static _always_inline_ bool packed_line_lookup(const struct packed *pk, unsigned shift,
                                               uint64_t page, struct direct *ret_direct,
                                               const uint64_t *want_pfn, uint32_t *ret_id,
                                               uint64_t *ret_v) {
        uint64_t h, w;
        int k;

        while (!line_read(pk, shift, page, &h, &w, &k))
                ;
        if (h & LINE_SLOT) {
                *ret_v = w;
                return false;
        }
        *ret_id = k == 0 ? 0
                         : piece_answer(w, page >> shift << shift, page,
                                        &pk->ids[(page >> shift) & (NODE_SLOTS - 1)][k - 1],
                                        ret_direct, want_pfn);
        return true;
}

/* The id of the mapping that may hold @page (check its record: a compact's piece ends where
 * its record does), or 0. With @ret_direct, a linear leaf or a compact on the way answers
 * instead (0 is returned, ret_direct->found set). With @want_pfn (and no @ret_direct), 0 also
 * when the slot or piece shows that the mapping's target at @page is not that page. Readers
 * call it inside a read-side section. */
static _always_inline_ uint32_t index_walk(const struct iom_space *s, uint64_t page,
                                           struct direct *ret_direct, const uint64_t *want_pfn) {
        const struct small *sm = LOAD(&s->small);
        const struct hash *h;
        const struct node *n;
        unsigned shift = NODE_BITS * s->top; /* the span of n's slots: 2^shift pages */

        if (sm) {
                int i = small_search(sm, page);

                if (i < 0)
                        return 0;
                if (ret_direct) {
                        (void) small_direct(sm, page, ret_direct);
                        return 0;
                }
                return !want_pfn || (sm->tp[i] >> IOM_SPACE_PAGE_SHIFT) + (page - sm->first[i]) ==
                                               *want_pfn
                               ? sm->ids[i]
                               : 0;
        }
        /* Published before the small form was unpublished: read after. */
        h = LOAD(&s->hash);
        if (h) {
                /* No records: only a caller with @ret_direct asks a hashed space. */
                if (ret_direct)
                        (void) hash_direct(h, page, ret_direct);
                return 0;
        }
        /* Written before the small or hashed form was unpublished: read after. */
        n = s->root;

        for (;;) {
                uint64_t v, linear;
                uint32_t id;

                if (shift == 0 && ret_direct && (linear = LOAD(&n->linear))) {
                        *ret_direct =
                                (struct direct){true, linear, page & ~(uint64_t) (NODE_SLOTS - 1),
                                                page | (NODE_SLOTS - 1)};
                        return 0;
                }
                v = LOAD(&n->slot[(page >> shift) & (NODE_SLOTS - 1)]);
        slot:
                if (v & SLOT_MAP) {
                        uint64_t sbase = page >> shift << shift;

                        return !want_pfn || !((slot_tlow(v) + (page - sbase) - *want_pfn) &
                                              SLOT_TLOW_MASK)
                                       ? slot_id(v)
                                       : 0;
                }
                if (v & SLOT_COMPACT) {
                        const uint64_t *ce = slot_entries(v);
                        uint64_t sbase = page >> shift << shift;
                        uint32_t rel = (uint32_t) (page - sbase);
                        int i = v & SLOT_WIDE ? compact_search(ce, 2 * COMPACT_WIDTH, rel)
                                              : compact_search(ce, COMPACT_WIDTH, rel);

                        return i < 0 ? 0
                                     : piece_answer(ce[i], sbase, page, &slot_compact(v)->ids[i],
                                                    ret_direct, want_pfn);
                }
                if (!v)
                        return 0;
                shift -= NODE_BITS;
                if (v & SLOT_PACKED) {
                        if (packed_line_lookup(slot_packed(v), shift, page, ret_direct, want_pfn,
                                               &id, &v))
                                return id;
                        goto slot;
                }
                n = (const struct node *) v;
        }
}

static _always_inline_ uint32_t space_index_lookup(const struct iom_space *s, uint64_t page,
                                                   struct direct *ret_direct) {
        return index_walk(s, page, ret_direct, NULL);
}

/* The writer's lookup of the mapping at @page when it matters only if its target there is
 * page @pfn: most others are told apart without their record. */
static inline uint32_t space_index_lookup_to(const struct iom_space *s, uint64_t page,
                                             uint64_t pfn) {
        return index_walk(s, page, NULL, &pfn);
}

/* Memory for the index and the records (iom-space-arena.c): zeroed, 64-byte aligned, never
 * given back before space_arena_free_all(). */
void *space_arena_alloc(struct iom_space *s, size_t size);
void space_arena_free_all(struct iom_space *s);
/* Record chunk @c (REC_FIRST_SHIFT), zeroed, freed by space_arena_free_all(). */
struct rec *space_rec_chunk_alloc(struct iom_space *s, unsigned c);

/* Zeroed memory of @size bytes for one object, on transparent huge pages from ARENA_HUGE on,
 * given back one by one. */
void *space_big_alloc(size_t size);
void space_big_free(void *p, size_t size);

/* Writer side (iom-space-index.c), under the space's lock. */
int space_index_init(struct iom_space *s);
/* Before an operation on pages [first_page, last_page] (@map: a map, else an unmap) looks at
 * the index: the form changes if the operation or what the space holds asks for it (the small
 * form becomes hashed when it fills with pages, the hashed one becomes the tree, see
 * iom-space-hash.c). Out of memory, nothing changed. */
int space_index_prepare(struct iom_space *s, uint64_t first_page, uint64_t last_page, bool map);
/* The tree the writer's paths take from now on, while readers still see the form before:
 * filled by space_reserve() and space_index_assign(), then the form before is unpublished;
 * or dropped by space_tree_abort(). */
int space_tree_begin(struct iom_space *s);
void space_tree_abort(struct iom_space *s);
void space_retire_obj(struct iom_space *s, struct obj *o);
/* The first mapping whose last page is >= @page and that may start at or before @limit (check
 * its record), or 0: in small form @sm (as the caller loaded it), or in the tree when @sm is
 * NULL. Not for a hashed space (space_hash_next()). */
uint32_t space_index_next(const struct iom_space *s, const struct small *sm, uint64_t page,
                          uint64_t limit);
int space_reserve(struct iom_space *s, unsigned assigns, unsigned records);
void space_index_assign(struct iom_space *s, uint64_t first_page, uint64_t last_page, uint32_t id);
uint32_t space_rec_alloc(struct iom_space *s);
void space_rec_retire(struct iom_space *s, uint32_t id);
void space_rec_release(struct iom_space *s, uint32_t id);
/* Puts the whole index (what hangs from the root, or the small form) in the filling batch. */
void space_index_retire(struct iom_space *s);
/* Puts what @b holds back in the pools and the free list, empty after. */
void space_batch_drain(struct iom_space *s, struct batch *b);

/* The hashed form's writer side (iom-space-hash.c), under the space's lock. */
int space_hash_reserve(struct iom_space *s, unsigned inserts);
/* Maps @page (free; space_hash_reserve() was called) to @tp, target | prot. */
void space_hash_put(struct iom_space *s, uint64_t page, uint64_t tp);
/* Unmaps the page of live slot @i (hash_find()). */
void space_hash_take(struct iom_space *s, int64_t i);
/* The mapping of page @page, live in slot @i of @h, in @ret (may be NULL); false when @i is
 * negative (hash_find() found nothing). */
bool space_hash_mapping(const struct hash *h, int64_t i, uint64_t page, struct iom_mapping *ret);
/* The first mapping of table @h at a page in [@page, @limit], in @ret (may be NULL); false
 * when none. Readers inside a read-side section, or the writer. */
bool space_hash_next(const struct iom_space *s, const struct hash *h, uint64_t page, uint64_t limit,
                     struct iom_mapping *ret);
/* A table a grace period let go: kept as the spare, or freed. */
void space_hash_release(struct iom_space *s, struct hash *h);
void space_hash_free(struct iom_space *s, struct hash *h);

/* Dirty tracking (iom-space-dirty.c). */
struct iom_dirty *space_dirty_new(const struct iom_space *s);
struct iom_dirty *space_dirty_free(struct iom_dirty *d);
/* The writer, under the space's lock, after each operation (accepts NULL): fills the pools
 * markers take their bitmaps from; O(what markers took since). */
void space_dirty_refill(struct iom_dirty *d);
uint64_t space_dirty_memory(const struct iom_dirty *d);
uint64_t space_dirty_overflows(const struct iom_dirty *d);
/* Readers, inside a read-side section: never allocates, locks or makes a syscall. */
void space_dirty_mark(struct iom_dirty *d, uint64_t first_page, uint64_t last_page);
void space_dirty_collect(struct iom_dirty *d, uint64_t first_page, uint64_t last_page, bool clear,
                         uint8_t *bitmap);
