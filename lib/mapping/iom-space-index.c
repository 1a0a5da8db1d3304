/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The writer's side of the mapping index: radix and compact nodes, their pool, the record
 * slab, and retirement until a grace period. Layout and rules: iom-space.c. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "iom-space-internal.h"
#include "macro.h"

/* A slot's content as pieces: from page start on, up to the next piece or the end of the
 * record, the page belongs to mapping id (0: nobody). */
struct piece {
        uint64_t start;
        uint32_t id;
};

/* Decoding a slot gives at most COMPACT_MAX pieces; one assignment adds at most two. */
#define PIECES_MAX (COMPACT_MAX + 2)

/* A compact is its header and ids, then its entries, each part as large as the other. */
static_assert(sizeof(struct compact) + COMPACT_WIDTH * sizeof(uint32_t) <=
                      COMPACT_WIDTH * sizeof(uint64_t),
              "a compact's header and ids fit before its entries");
static_assert(2 * COMPACT_WIDTH == COMPACT_MAX, "a wide compact holds COMPACT_MAX pieces");
static const size_t pool_size[_POOL_MAX] = {
        [POOL_COMPACT] = 2 * COMPACT_WIDTH * sizeof(uint64_t),
        [POOL_COMPACT_WIDE] = 4 * COMPACT_WIDTH * sizeof(uint64_t),
        [POOL_NODE] = sizeof(struct node),
        [POOL_PACKED] = sizeof(struct packed),
        [POOL_SMALL] = sizeof(struct small),
};

/* One-line compacts kept ready: an assignment rebuilds a slot or two. */
#define COMPACT_USUAL 4

static unsigned compact_width(const struct compact *c) {
        return c->hdr.kind == POOL_COMPACT_WIDE ? 2 * COMPACT_WIDTH : COMPACT_WIDTH;
}

static uint64_t *compact_entries(struct compact *c) {
        return (uint64_t *) c + compact_width(c);
}

/* The object a non-empty slot that is not SLOT_MAP points at. */
static struct obj *slot_obj(uint64_t v) {
        return v & SLOT_COMPACT ? &slot_compact(v)->hdr : (struct obj *) (v & ~SLOT_TAGS);
}

/* A slot that points at a radix or a packed node. */
static bool slot_is_index(uint64_t v) {
        return v && !(v & (SLOT_MAP | SLOT_COMPACT));
}

/* A slot that overflows its compact becomes a packed node when its pieces start in this many
 * children or more (scattered mappings), a radix node when they cluster. */
#define PACKED_SPREAD 4

static struct obj *pool_take(struct iom_space *s, unsigned kind) {
        struct obj *o;

        /* A compact may come from a larger size's pool: space_reserve() filled the largest for
         * the worst case of the operation, the others for the usual one. */
        while (kind < POOL_COMPACT_WIDE && !s->pool[kind])
                kind++;
        o = s->pool[kind];
        assert(o);
        s->pool[kind] = o->next;
        s->n_pool[kind]--;
        memset(o, 0, pool_size[kind]);
        o->kind = kind;
        return o;
}

/* Objects live in arenas: one drained goes back to its pool for the next operation. */
static void pool_put(struct iom_space *s, struct obj *o) {
        unsigned kind = o->kind;

        o->next = s->pool[kind];
        s->pool[kind] = o;
        s->n_pool[kind]++;
}

static int pool_fill(struct iom_space *s, unsigned kind, unsigned want) {
        while (s->n_pool[kind] < want) {
                struct obj *o = space_arena_alloc(s, pool_size[kind]);

                if (!o)
                        return -ENOMEM;
                o->next = s->pool[kind];
                s->pool[kind] = o;
                s->n_pool[kind]++;
        }
        return 0;
}

static int rec_fill(struct iom_space *s, unsigned want) {
        while (s->n_free_ids < want) {
                uint32_t id = s->next_id;
                uint64_t i;
                unsigned c = rec_chunk(id, &i);
                struct rec *r;

                if (id > REC_ID_MAX)
                        return -ENOSPC;
                if (!s->recs[c]) {
                        struct rec *p = space_rec_chunk_alloc(s, c);

                        if (!p)
                                return -ENOMEM;
                        STORE(&s->recs[c], p);
                }
                r = space_rec(s, id);
                r->next_free = s->free_ids;
                s->free_ids = id;
                s->n_free_ids++;
                s->next_id++;
        }
        return 0;
}

/* One assignment rebuilds at most two slots (its ends; slots between are covered whole). A
 * rebuild encodes at most PIECES_MAX pieces: with more than COMPACT_MAX a radix node whose
 * children are compacts where a piece starts or a record ends (at most 2 * PIECES_MAX), and
 * only the one child holding every start may need a node again, once per level. */
static int small_grow(struct iom_space *s);

int space_reserve(struct iom_space *s, unsigned assigns, unsigned records) {
        unsigned levels = s->top + 1;
        int r;

        /* One assignment cuts one piece in two and adds one: past SMALL_MAX the space grows
         * its tree first, from what it holds now, so the operation finds it. */
        if (!s->root && s->hash) {
                r = space_hash_reserve(s, assigns);
                return r < 0 ? r : rec_fill(s, records);
        }
        if (!s->root && s->small->hdr.n + 2 * assigns > SMALL_MAX) {
                r = small_grow(s);
                if (r < 0)
                        return r;
        }
        if (!s->root) {
                r = pool_fill(s, POOL_SMALL, assigns);
                return r < 0 ? r : rec_fill(s, records);
        }
        r = pool_fill(s, POOL_NODE, assigns * 2 * levels);
        if (r < 0)
                return r;
        r = pool_fill(s, POOL_COMPACT, COMPACT_USUAL);
        if (r < 0)
                return r;
        r = pool_fill(s, POOL_COMPACT_WIDE, assigns * 2 * (2 * PIECES_MAX + levels));
        if (r < 0)
                return r;
        return rec_fill(s, records);
}

uint32_t space_rec_alloc(struct iom_space *s) {
        uint32_t id = s->free_ids;
        struct rec *r;

        assert(id != 0);
        r = space_rec(s, id);
        s->free_ids = r->next_free;
        s->n_free_ids--;
        /* The next one: a batch freed beside readers hands out records retired long ago,
         * whose lines are gone from the cache; the next operation finds it there. */
        if (s->free_ids)
                __builtin_prefetch(space_rec(s, s->free_ids), 1);
        /* Even: live. A reader's hint holding the previous life saw another number. */
        __atomic_store_n(&r->gen, (r->gen + 1) & ~UINT32_C(1), __ATOMIC_RELEASE);
        return id;
}

void space_rec_retire(struct iom_space *s, uint32_t id) {
        struct rec *r = space_rec(s, id);
        struct batch *b = &s->batch[0];

        __atomic_store_n(&r->gen, r->gen | 1, __ATOMIC_RELEASE);
        r->next_free = 0;
        if (b->recs_tail)
                space_rec(s, b->recs_tail)->next_free = id;
        else
                b->recs = id;
        b->recs_tail = id;
        b->n_recs++;
        b->bytes += sizeof(*r);
}

/* Builds for tests: a reader that still reads record @r gets an answer no test ever mapped. */
static void rec_poison(struct rec *r) {
#ifdef IOM_SPACE_POISON
        __atomic_store_n(&r->tp, SPACE_POISON, __ATOMIC_RELAXED);
        r->iova = 0;
        r->last = UINT64_MAX;
#endif
}

/* Back to the free list, after a grace period (or never published). */
void space_rec_release(struct iom_space *s, uint32_t id) {
        struct rec *r = space_rec(s, id);

        rec_poison(r);
        r->next_free = s->free_ids;
        s->free_ids = id;
        s->n_free_ids++;
}

void space_retire_obj(struct iom_space *s, struct obj *o) {
        o->next = s->batch[0].objs;
        s->batch[0].objs = o;
        s->batch[0].bytes += o->kind == OBJ_HASH ? ((struct hash *) o)->bytes : pool_size[o->kind];
}

static void retire(struct iom_space *s, uint64_t v) {
        if (v && !(v & SLOT_MAP))
                space_retire_obj(s, slot_obj(v));
}

/* The slot value a packed node's line holds, 0 when it holds pieces (or nothing). */
static uint64_t line_slot(const struct packed *pk, unsigned i) {
        return pk->line[i][0] & LINE_SLOT ? pk->line[i][1] : 0;
}

/* Frees a retired object and, for a radix or packed node, the subtree still hanging from
 * it. */
static void drain_one(struct iom_space *s, struct obj *o) {
        bool node = o->kind == POOL_NODE, packed = o->kind == POOL_PACKED;

        if (o->kind == OBJ_HASH) {
                space_hash_release(s, (struct hash *) o);
                return;
        }

        for (unsigned i = 0; i < NODE_SLOTS && o->n > 0 && (node || packed); i++) {
                uint64_t v =
                        node ? ((struct node *) o)->slot[i] : line_slot((struct packed *) o, i);

                if (packed && ((struct packed *) o)->count[i])
                        o->n--;
                if (!v)
                        continue;
                o->n--;
                if (!(v & SLOT_MAP))
                        drain_one(s, slot_obj(v));
        }
#ifdef IOM_SPACE_POISON
        uint32_t kind = o->kind;

        memset(o, SPACE_POISON & 0xff, pool_size[kind]);
        o->kind = kind;
#endif
        pool_put(s, o);
}

void space_batch_drain(struct iom_space *s, struct batch *b) {
        while (b->objs) {
                struct obj *o = b->objs;

                b->objs = o->next;
                drain_one(s, o);
        }
#ifdef IOM_SPACE_POISON
        for (uint32_t id = b->recs; id; id = space_rec(s, id)->next_free)
                rec_poison(space_rec(s, id));
#endif
        /* The batch's records, linked through next_free as the free list is, go on its head
         * in one step: a writer beside readers frees 2048 records a batch, and a walk over
         * them took a cache miss each (records retired long before, their lines gone). */
        if (b->recs) {
                space_rec(s, b->recs_tail)->next_free = s->free_ids;
                s->free_ids = b->recs;
                s->n_free_ids += b->n_recs;
        }
        *b = (struct batch){};
}

int space_index_init(struct iom_space *s) {
        int r = pool_fill(s, POOL_SMALL, 1);

        if (r < 0)
                return r;
        s->small = (struct small *) pool_take(s, POOL_SMALL);
        memset(s->small->last, 0xff, sizeof(s->small->last));
        return 0;
}

void space_index_retire(struct iom_space *s) {
        space_retire_obj(s, s->small ? &s->small->hdr : s->hash ? &s->hash->hdr : &s->root->hdr);
}

/* The first mapping whose last page is >= @page, found in slots that start at or before
 * @limit, or 0. */
static uint32_t next_in(const struct iom_space *s, uint64_t v, unsigned l, uint64_t base,
                        uint64_t page, uint64_t limit);

static uint32_t next_in_node(const struct iom_space *s, const struct node *n, unsigned l,
                             uint64_t base, uint64_t page, uint64_t limit) {
        unsigned shift = NODE_BITS * l;
        unsigned i = page <= base ? 0 : (unsigned) ((page - base) >> shift);

        /* Slots past @limit cannot hold what the caller looks for: an overlap check of a
         * small range stays as small, however much the space holds after it. */
        for (; i < NODE_SLOTS && base + ((uint64_t) i << shift) <= limit; i++) {
                uint32_t id = next_in(s, LOAD(&n->slot[i]), l, base + ((uint64_t) i << shift), page,
                                      limit);
                if (id)
                        return id;
        }
        return 0;
}

/* The same in a packed node whose lines are at level @l. */
static uint32_t next_in_packed(const struct iom_space *s, const struct packed *pk, unsigned l,
                               uint64_t base, uint64_t page, uint64_t limit) {
        unsigned shift = NODE_BITS * l;
        unsigned i = page <= base ? 0 : (unsigned) ((page - base) >> shift);

        for (; i < NODE_SLOTS && base + ((uint64_t) i << shift) <= limit; i++) {
                uint64_t lb = base + ((uint64_t) i << shift);
                uint32_t id = next_in(s, line_slot(pk, i), l, lb, page, limit);

                for (unsigned k = 0; !id && k < pk->count[i]; k++)
                        if (pk->ids[i][k] && rec_last_page(space_rec(s, pk->ids[i][k])) >= page)
                                id = pk->ids[i][k];
                if (id)
                        return id;
        }
        return 0;
}

static uint32_t next_in(const struct iom_space *s, uint64_t v, unsigned l, uint64_t base,
                        uint64_t page, uint64_t limit) {
        if (!v)
                return 0;

        if (v & SLOT_MAP)
                return slot_id(v);
        if (v & SLOT_COMPACT) {
                const struct compact *c = slot_compact(v);

                for (uint32_t i = 0; i < c->hdr.n; i++)
                        if (c->ids[i] && rec_last_page(space_rec(s, c->ids[i])) >= page)
                                return c->ids[i];
                return 0;
        }
        if (v & SLOT_PACKED)
                return next_in_packed(s, slot_packed(v), l - 1, base, page, limit);
        return next_in_node(s, (const struct node *) v, l - 1, base, page, limit);
}

/* The radix leaf that holds @page's slot when radix nodes lead to it (pages mapped densely),
 * else NULL: the writer's one-page operations go straight there. */
static struct node *leaf_of(const struct iom_space *s, uint64_t page) {
        struct node *n = s->root;

        for (unsigned shift = NODE_BITS * s->top; shift > 0; shift -= NODE_BITS) {
                uint64_t v = n->slot[(page >> shift) & (NODE_SLOTS - 1)];

                if (!v || v & SLOT_TAGS)
                        return NULL;
                n = (struct node *) v;
        }
        return n;
}

uint32_t space_index_next(const struct iom_space *s, const struct small *sm, uint64_t page,
                          uint64_t limit) {
        const struct node *leaf;

        if (sm) {
                unsigned i = 0;

                while (i < sm->hdr.n && sm->last[i] < page)
                        i++;
                return i < sm->hdr.n && sm->first[i] <= limit ? sm->ids[i] : 0;
        }
        leaf = page == limit ? leaf_of(s, page) : NULL;
        if (leaf)
                return slot_id(leaf->slot[page & (NODE_SLOTS - 1)]);
        return next_in_node(s, s->root, s->top, 0, page, limit);
}

static size_t decode(uint64_t v, uint64_t sbase, struct piece *p) {
        const struct compact *c;

        if (!v)
                return 0;
        if (v & SLOT_MAP) {
                p[0] = (struct piece){sbase, slot_id(v)};
                return 1;
        }
        c = slot_compact(v);
        for (uint32_t i = 0; i < c->hdr.n; i++)
                p[i] = (struct piece){sbase + ce_off(slot_entries(v)[i]), c->ids[i]};
        return c->hdr.n;
}

/* The pieces of line @i of a packed node (spanning from page @sbase), whatever form they
 * take. */
static size_t decode_line(const struct packed *pk, unsigned i, uint64_t sbase, struct piece *p) {
        if (pk->line[i][0] & LINE_SLOT)
                return decode(pk->line[i][1], sbase, p);
        for (unsigned k = 0; k < pk->count[i]; k++)
                p[k] = (struct piece){sbase + ce_off(pk->line[i][1 + k]), pk->ids[i][k]};
        return pk->count[i];
}

/* Drops what changes nothing: pieces whose record ended before them, leading holes, a piece
 * continuing the same mapping, holes after a record that ended anyway. */
static size_t canonicalize(const struct iom_space *s, struct piece *p, size_t n) {
        size_t out = 0;

        for (size_t i = 0; i < n; i++) {
                struct piece e = p[i];

                if (e.id && rec_last_page(space_rec(s, e.id)) < e.start)
                        e.id = 0;
                if (out == 0 ? e.id == 0
                             : p[out - 1].id == e.id ||
                                       (e.id == 0 &&
                                        (p[out - 1].id == 0 ||
                                         rec_last_page(space_rec(s, p[out - 1].id)) < e.start)))
                        continue;
                p[out++] = e;
        }
        return out;
}

/* The id in effect at @page, where the pieces say something about it, else 0. */
static uint32_t piece_at(const struct iom_space *s, const struct piece *p, size_t n,
                         uint64_t page) {
        uint32_t id = 0;

        for (size_t i = 0; i < n && p[i].start <= page; i++)
                id = p[i].id;
        return id && rec_last_page(space_rec(s, id)) >= page ? id : 0;
}

static uint64_t encode(struct iom_space *s, const struct piece *p, size_t n, unsigned l,
                       uint64_t sbase);

/* The target of @page through mapping @id. */
static uint64_t target_of(const struct iom_space *s, uint32_t id, uint64_t page) {
        const struct rec *r = space_rec(s, id);

        return (r->tp & REC_TARGET) + (page << IOM_SPACE_PAGE_SHIFT) - r->iova;
}

/* A piece as a compact holds it (CE_* in iom-space-internal.h). */
static uint64_t compact_entry(const struct iom_space *s, const struct piece *p, uint64_t sbase) {
        uint64_t e = (uint64_t) (p->start - sbase) << CE_OFF_SHIFT;
        const struct rec *r;
        uint64_t pfn;

        if (!p->id)
                return e;
        r = space_rec(s, p->id);
        pfn = (r->tp & REC_TARGET) >> IOM_SPACE_PAGE_SHIFT;
        if (r->iova >> IOM_SPACE_PAGE_SHIFT == p->start && rec_last_page(r) == p->start &&
            pfn < CE_PFN_LIMIT)
                return e | pfn << CE_PAYLOAD_SHIFT | (r->tp & REC_PROT);
        return e | (uint64_t) p->id << CE_PAYLOAD_SHIFT;
}

/* The pieces of the child span [cb, ce] of a slot whose pieces are @p. */
static size_t child_pieces(const struct iom_space *s, const struct piece *p, size_t n, uint64_t cb,
                           uint64_t ce, struct piece *sub) {
        uint32_t carried = piece_at(s, p, n, cb);
        size_t m = 0;

        if (carried)
                sub[m++] = (struct piece){cb, carried};
        for (size_t i = 0; i < n; i++)
                if (p[i].start > cb && p[i].start <= ce)
                        sub[m++] = p[i];
        return canonicalize(s, sub, m);
}

/* Rewrites line @i under the readers' sequence lock (struct packed): busy, the new words (each
 * a release, so a reader that sees one sees busy too), then a new sequence number with
 * @kind. */
static void line_write(struct packed *pk, unsigned i, uint64_t kind, const uint64_t *w) {
        uint64_t *ln = pk->line[i], h = ln[0];

        __atomic_store_n(&ln[0], h | LINE_BUSY, __ATOMIC_RELAXED);
        for (unsigned k = 0; k < LINE_PIECES; k++)
                STORE(&ln[1 + k], w[k]);
        STORE(&ln[0], (((h | LINE_BUSY | LINE_SLOT) + 1) & LINE_SEQ_MASK) | kind);
}

/* Line @i of a packed node, at level @l and spanning from page @sbase, to hold pieces @p: in
 * itself when they fit, else as the slot value that encodes them. */
static void line_store(struct iom_space *s, struct packed *pk, unsigned i, unsigned l,
                       uint64_t sbase, const struct piece *p, size_t n) {
        bool used = pk->count[i] || line_slot(pk, i);
        uint64_t w[LINE_PIECES] = {};

        if (n <= LINE_PIECES && l <= COMPACT_MAX_LEVEL) {
                for (size_t k = 0; k < n; k++) {
                        w[k] = compact_entry(s, &p[k], sbase);
                        pk->ids[i][k] = p[k].id;
                }
                for (size_t k = n; n > 0 && k < LINE_PIECES; k++)
                        w[k] = w[n - 1];
                pk->count[i] = (uint8_t) n;
                line_write(pk, i, 0, w);
        } else {
                w[0] = encode(s, p, n, l, sbase);
                pk->count[i] = 0;
                line_write(pk, i, LINE_SLOT, w);
        }
        pk->hdr.n = pk->hdr.n + (n > 0) - used;
}

/* Whether the pieces of a slot at level @l that overflows its compact make a packed node: the
 * children hold compacts, the pieces are strewn, and memory for one can be had. It is never
 * part of what an operation reserves: without it a radix node (reserved) does. */
static bool packed_wanted(struct iom_space *s, const struct piece *p, size_t n, unsigned l) {
        unsigned cshift = NODE_BITS * (l - 1), spread = 0;

        if (l < 2 || l - 1 > COMPACT_MAX_LEVEL)
                return false;
        for (size_t i = 0; i < n; i++)
                spread += i == 0 || p[i].start >> cshift != p[i - 1].start >> cshift;
        return spread >= PACKED_SPREAD && pool_fill(s, POOL_PACKED, 1) == 0;
}

/* A radix or packed node one level down for the pieces of a slot at level @l. */
static uint64_t encode_node(struct iom_space *s, const struct piece *p, size_t n, unsigned l,
                            uint64_t sbase) {
        bool packed = packed_wanted(s, p, n, l);
        struct obj *o = pool_take(s, packed ? POOL_PACKED : POOL_NODE);
        unsigned cshift = NODE_BITS * (l - 1);

        for (unsigned c = 0; c < NODE_SLOTS; c++) {
                uint64_t cb = sbase + ((uint64_t) c << cshift);
                struct piece sub[PIECES_MAX + 1];
                size_t m = child_pieces(s, p, n, cb, cb + (UINT64_C(1) << cshift) - 1, sub);
                struct node *node = (struct node *) o;

                if (packed) {
                        line_store(s, (struct packed *) o, c, l - 1, cb, sub, m);
                        continue;
                }
                node->slot[c] = encode(s, sub, m, l - 1, cb);
                node->hdr.n += node->slot[c] != 0;
        }
        return (uint64_t) o | (packed ? SLOT_PACKED : 0);
}

static uint64_t encode(struct iom_space *s, const struct piece *p, size_t n, unsigned l,
                       uint64_t sbase) {
        uint64_t slast = sbase + (UINT64_C(1) << (NODE_BITS * l)) - 1;
        struct compact *c;
        uint64_t *e;
        unsigned width;

        if (n == 0)
                return 0;
        if (n == 1 && p[0].id && p[0].start == sbase &&
            rec_last_page(space_rec(s, p[0].id)) >= slast)
                return slot_map(p[0].id, target_of(s, p[0].id, sbase) >> IOM_SPACE_PAGE_SHIFT);
        /* A level-0 slot is one page: the first test always answered it. */
        assert(l > 0);
        if (l > COMPACT_MAX_LEVEL || n > COMPACT_MAX)
                return encode_node(s, p, n, l, sbase);
        c = (struct compact *) pool_take(s, n <= COMPACT_WIDTH ? POOL_COMPACT : POOL_COMPACT_WIDE);
        e = compact_entries(c);
        width = compact_width(c);
        for (size_t i = 0; i < width; i++) {
                if (i < n)
                        c->ids[i] = p[i].id;
                e[i] = i < n ? compact_entry(s, &p[i], sbase) : e[n - 1];
        }
        c->hdr.n = (uint32_t) n;
        return (uint64_t) e | SLOT_COMPACT | (width > COMPACT_WIDTH ? SLOT_WIDE : 0);
}

/* Pieces @old of a slot at level @l with [a, b] given to @id, into @p. */
static size_t rebuild(const struct iom_space *s, const struct piece *old, size_t n_old, unsigned l,
                      uint64_t sbase, uint64_t a, uint64_t b, uint32_t id, struct piece *p) {
        uint32_t after = piece_at(s, old, n_old, b + 1);
        bool after_starts = false;
        size_t n = 0;

        for (size_t i = 0; i < n_old; i++)
                if (old[i].start < a)
                        p[n++] = old[i];
        p[n++] = (struct piece){a, id};
        for (size_t i = 0; i < n_old; i++)
                after_starts |= old[i].start == b + 1;
        if (!after_starts && b + 1 <= sbase + (UINT64_C(1) << (NODE_BITS * l)) - 1)
                p[n++] = (struct piece){b + 1, after};
        for (size_t i = 0; i < n_old; i++)
                if (old[i].start > b)
                        p[n++] = old[i];
        return canonicalize(s, p, n);
}

/* Whether slots @i and @j of a level-0 node (from page @base) go to targets that continue
 * each other, with one prot. */
static bool slots_in_line(const struct iom_space *s, const struct node *n, uint64_t base,
                          unsigned i, unsigned j) {
        uint32_t a = slot_id(n->slot[i]), b = slot_id(n->slot[j]);

        return (space_rec(s, a)->tp & REC_PROT) == (space_rec(s, b)->tp & REC_PROT) &&
               target_of(s, b, base + j) - target_of(s, a, base + i) ==
                       (uint64_t) (j - i) << IOM_SPACE_PAGE_SHIFT;
}

/* A full level-0 node's summary (struct node), or 0 when it is not linear. @hint is a slot
 * just assigned: a mapping that broke the line is found there first, against its neighbour
 * (whose record the assignment just read) and against the first slot, before the 512 records
 * of a full check. Against the first slot too: pages remapped one by one to targets of their
 * own continue their remapped neighbours, and a check of the neighbour alone would let a
 * writer churning such a leaf read 512 records a map. */
static uint64_t linear_summary(const struct iom_space *s, const struct node *n, uint64_t base,
                               unsigned hint) {
        uint32_t last = slot_id(n->slot[NODE_SLOTS - 1]);

        if (!slots_in_line(s, n, base, hint > 0 ? hint - 1 : hint, hint > 0 ? hint : hint + 1) ||
            !slots_in_line(s, n, base, 0, hint) ||
            rec_last_page(space_rec(s, last)) != base + NODE_SLOTS - 1)
                return 0;
        for (unsigned i = 1; i < NODE_SLOTS; i++)
                if (!slots_in_line(s, n, base, 0, i))
                        return 0;
        return target_of(s, slot_id(n->slot[0]), base) |
               (space_rec(s, slot_id(n->slot[0]))->tp & REC_PROT);
}

/* The summary of a full leaf whose slots but n->hole are as they were under summary n->line:
 * that one, if the hole's mapping continues the line (and ends in the leaf), else 0. */
static uint64_t hole_in_line(const struct iom_space *s, const struct node *n, uint64_t base) {
        uint32_t id = slot_id(n->slot[n->hole]);
        const struct rec *r = space_rec(s, id);

        return (r->tp & REC_PROT) == (n->line & REC_PROT) &&
                               target_of(s, id, base + n->hole) ==
                                       (n->line & REC_TARGET) + (n->hole << IOM_SPACE_PAGE_SHIFT) &&
                               (n->hole < NODE_SLOTS - 1 ||
                                rec_last_page(r) == base + NODE_SLOTS - 1)
                       ? n->line
                       : 0;
}

static void assign_node(struct iom_space *s, struct node *n, unsigned l, uint64_t base, uint64_t lo,
                        uint64_t hi, uint32_t id);
static void assign_packed(struct iom_space *s, struct packed *pk, unsigned l, uint64_t base,
                          uint64_t lo, uint64_t hi, uint32_t id);

/* One slot's (or one packed node's line's, @pk and @i) share of an assignment: [a, b] of its
 * span, at level @l from page @sb, goes to @id. @v: its slot value, 0 for a line holding
 * pieces. Returns how many pieces it holds now, in @p, having retired what they replace; or -1
 * when the index node below took the change and stays. */
static ssize_t assign_slot(struct iom_space *s, uint64_t v, const struct packed *pk, unsigned i,
                           unsigned l, uint64_t sb, uint64_t a, uint64_t b, uint32_t id,
                           struct piece *p) {
        struct piece old[PIECES_MAX];
        size_t n_old;

        if (a == sb && b == sb + (UINT64_C(1) << (NODE_BITS * l)) - 1) {
                retire(s, v);
                p[0] = (struct piece){sb, id};
                return id ? 1 : 0;
        }
        if (slot_is_index(v)) {
                struct obj *child = slot_obj(v);

                if (v & SLOT_PACKED)
                        assign_packed(s, (struct packed *) child, l - 1, sb, a, b, id);
                else
                        assign_node(s, (struct node *) child, l - 1, sb, a, b, id);
                if (child->n > 0)
                        return -1;
                retire(s, v);
                return 0;
        }
        n_old = pk ? decode_line(pk, i, sb, old) : decode(v, sb, old);
        retire(s, v);
        return (ssize_t) rebuild(s, old, n_old, l, sb, a, b, id, p);
}

static void assign_node(struct iom_space *s, struct node *n, unsigned l, uint64_t base, uint64_t lo,
                        uint64_t hi, uint32_t id) {
        unsigned shift = NODE_BITS * l;
        unsigned i_first = (unsigned) ((lo - base) >> shift),
                 i_last = (unsigned) ((hi - base) >> shift);

        /* A leaf that changes is no longer known to be linear; readers that still see the
         * summary are inside a grace period the change waits out. It remembers the summary
         * while one slot alone changes. */
        if (l == 0 && n->linear) {
                n->line = n->linear;
                n->hole = i_first;
                STORE(&n->linear, 0);
        }
        if (l == 0 && (i_first != i_last || i_first != n->hole))
                n->line = 0;

        for (unsigned i = i_first; i <= i_last; i++) {
                uint64_t sb = base + ((uint64_t) i << shift), v = n->slot[i], nv;
                struct piece p[PIECES_MAX + 2];
                ssize_t m = assign_slot(s, v, NULL, 0, l, sb, MAX(lo, sb),
                                        MIN(hi, sb + (UINT64_C(1) << shift) - 1), id, p);

                if (m < 0)
                        continue;
                nv = encode(s, p, (size_t) m, l, sb);
                STORE(&n->slot[i], nv);
                n->hdr.n = n->hdr.n + (nv != 0) - (v != 0);
        }
        if (l == 0 && n->hdr.n == NODE_SLOTS) {
                /* The slots are published: a reader taking the summary finds them agree. */
                uint64_t linear =
                        n->line ? hole_in_line(s, n, base) : linear_summary(s, n, base, i_first);
                if (linear)
                        STORE(&n->linear, linear);
        }
}

/* The same in a packed node whose lines are at level @l. */
static void assign_packed(struct iom_space *s, struct packed *pk, unsigned l, uint64_t base,
                          uint64_t lo, uint64_t hi, uint32_t id) {
        unsigned shift = NODE_BITS * l;
        unsigned i_last = (unsigned) ((hi - base) >> shift);

        for (unsigned i = (unsigned) ((lo - base) >> shift); i <= i_last; i++) {
                uint64_t sb = base + ((uint64_t) i << shift);
                struct piece p[PIECES_MAX + 2];
                ssize_t m = assign_slot(s, line_slot(pk, i), pk, i, l, sb, MAX(lo, sb),
                                        MIN(hi, sb + (UINT64_C(1) << shift) - 1), id, p);

                if (m >= 0)
                        line_store(s, pk, i, l, sb, p, (size_t) m);
        }
}

/* The small form's copy with pages [first, last] given to @id (0: nobody), published. */
static void small_assign(struct iom_space *s, uint64_t first, uint64_t last, uint32_t id) {
        struct small *old = s->small, *sm = (struct small *) pool_take(s, POOL_SMALL);
        unsigned n = 0;

#define SMALL_PUT(f, l, i, t)                                                                      \
        do {                                                                                       \
                assert(n < SMALL_MAX);                                                             \
                sm->first[n] = (f), sm->last[n] = (l), sm->ids[n] = (i), sm->tp[n] = (t);          \
                n++;                                                                               \
        } while (0)
        unsigned i = 0;

        /* The pieces before, the part of one crossing first that lies before it, the new one,
         * the part of one crossing last that lies after it, the pieces after. */
        for (; i < old->hdr.n && old->last[i] < first; i++)
                SMALL_PUT(old->first[i], old->last[i], old->ids[i], old->tp[i]);
        if (i < old->hdr.n && old->first[i] < first)
                SMALL_PUT(old->first[i], first - 1, old->ids[i], old->tp[i]);
        if (id)
                SMALL_PUT(first, last, id,
                          target_of(s, id, first) | (space_rec(s, id)->tp & REC_PROT));
        for (; i < old->hdr.n; i++)
                if (old->first[i] > last)
                        SMALL_PUT(old->first[i], old->last[i], old->ids[i], old->tp[i]);
                else if (old->last[i] > last)
                        SMALL_PUT(last + 1, old->last[i], old->ids[i],
                                  old->tp[i] +
                                          ((last + 1 - old->first[i]) << IOM_SPACE_PAGE_SHIFT));
#undef SMALL_PUT
        sm->hdr.n = n;
        for (i = n; i-- > 0;) {
                bool cont = i + 1 < n && sm->first[i + 1] == sm->last[i] + 1 &&
                            sm->tp[i + 1] == sm->tp[i] + ((sm->first[i + 1] - sm->first[i])
                                                          << IOM_SPACE_PAGE_SHIFT);

                sm->reach[i] = cont ? sm->reach[i + 1] : sm->last[i];
        }
        for (i = n; i < SMALL_MAX; i++)
                sm->last[i] = UINT64_MAX;
        STORE(&s->small, sm);
        space_retire_obj(s, &old->hdr);
}

/* The small form becomes the tree: its pieces assigned one by one into a root of their own,
 * each with what one assignment may need reserved, then published in one store. Out of
 * memory, the space stays as it was. */
int space_tree_begin(struct iom_space *s) {
        int r = pool_fill(s, POOL_NODE, 1);

        if (r < 0)
                return r;
        /* The writer's paths take the tree from now on; no reader looks at it before the form
         * before is unpublished. */
        s->root = (struct node *) pool_take(s, POOL_NODE);
        return 0;
}

void space_tree_abort(struct iom_space *s) {
        drain_one(s, &s->root->hdr);
        s->root = NULL;
}

static int small_grow(struct iom_space *s) {
        const struct small *sm = s->small;
        int r;

        r = space_tree_begin(s);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < sm->hdr.n; i++) {
                r = space_reserve(s, 1, 0);
                if (r < 0) {
                        space_tree_abort(s);
                        return r;
                }
                space_index_assign(s, sm->first[i], sm->last[i], sm->ids[i]);
        }
        STORE(&s->small, NULL);
        space_retire_obj(s, (struct obj *) &sm->hdr);
        return 0;
}

void space_index_assign(struct iom_space *s, uint64_t first_page, uint64_t last_page, uint32_t id) {
        struct node *leaf;

        if (!s->root) {
                small_assign(s, first_page, last_page, id);
                return;
        }
        leaf = first_page == last_page ? leaf_of(s, first_page) : NULL;
        /* A leaf that keeps a slot in use needs nothing of the nodes above it. */
        if (leaf && (id || leaf->hdr.n > 1))
                assign_node(s, leaf, 0, first_page & ~(uint64_t) (NODE_SLOTS - 1), first_page,
                            first_page, id);
        else
                assign_node(s, s->root, s->top, 0, first_page, last_page, id);
}
