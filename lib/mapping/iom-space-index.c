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

#define COMPACT_SIZE(capacity)                                                                     \
        (sizeof(struct compact) + (capacity) * (sizeof(uint64_t) + sizeof(uint32_t)))
static const size_t pool_size[_POOL_MAX] = {
        [POOL_COMPACT2] = COMPACT_SIZE(2), [POOL_COMPACT4] = COMPACT_SIZE(4),
        [POOL_COMPACT8] = COMPACT_SIZE(8), [POOL_COMPACT16] = COMPACT_SIZE(COMPACT_MAX),
        [POOL_NODE] = sizeof(struct node),
};

/* Compacts of each smaller size kept ready: an assignment rebuilds a slot or two. */
#define COMPACT_USUAL 4

/* The smallest compact that holds @n pieces: most spans of scattered mappings hold a few. */
static unsigned compact_kind(size_t n) {
        return n <= 2   ? POOL_COMPACT2
               : n <= 4 ? POOL_COMPACT4
               : n <= 8 ? POOL_COMPACT8
                        : POOL_COMPACT16;
}

static struct obj *pool_take(struct iom_space *s, unsigned kind) {
        struct obj *o;

        /* A compact may come from a larger size's pool: space_reserve() filled the largest for
         * the worst case of the operation, the others for the usual one. */
        while (kind < POOL_COMPACT16 && !s->pool[kind])
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
                struct rec ***dir = &s->recs[id >> (REC_CHUNK_SHIFT + REC_DIR_SHIFT)];
                struct rec **chunk;
                struct rec *r;

                if (id > REC_ID_MAX)
                        return -ENOSPC;
                if (!*dir) {
                        struct rec **p = calloc(1u << REC_DIR_SHIFT, sizeof(*p));

                        if (!p)
                                return -ENOMEM;
                        s->memory_bytes += sizeof(*p) << REC_DIR_SHIFT;
                        STORE(dir, p);
                }
                chunk = &(*dir)[(id >> REC_CHUNK_SHIFT) & ((1u << REC_DIR_SHIFT) - 1)];
                if (!*chunk) {
                        struct rec *p = space_arena_alloc(s, sizeof(*p) << REC_CHUNK_SHIFT);

                        if (!p)
                                return -ENOMEM;
                        STORE(chunk, p);
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
int space_reserve(struct iom_space *s, unsigned assigns, unsigned records) {
        unsigned levels = s->top + 1;
        int r;

        r = pool_fill(s, POOL_NODE, assigns * 2 * levels);
        if (r < 0)
                return r;
        for (unsigned kind = POOL_COMPACT2; kind <= POOL_COMPACT16; kind++) {
                r = pool_fill(s, kind,
                              kind == POOL_COMPACT16 ? assigns * 2 * (2 * PIECES_MAX + levels)
                                                     : COMPACT_USUAL);
                if (r < 0)
                        return r;
        }
        return rec_fill(s, records);
}

uint32_t space_rec_alloc(struct iom_space *s) {
        uint32_t id = s->free_ids;
        struct rec *r;

        assert(id != 0);
        r = space_rec(s, id);
        s->free_ids = r->next_free;
        s->n_free_ids--;
        /* Even: live. A reader's hint holding the previous life saw another number. */
        __atomic_store_n(&r->gen, (r->gen + 1) & ~UINT32_C(1), __ATOMIC_RELEASE);
        return id;
}

void space_rec_retire(struct iom_space *s, uint32_t id) {
        struct rec *r = space_rec(s, id);

        __atomic_store_n(&r->gen, r->gen | 1, __ATOMIC_RELEASE);
        r->next_free = 0;
        if (s->retired_tail)
                space_rec(s, s->retired_tail)->next_free = id;
        else
                s->retired_ids = id;
        s->retired_tail = id;
}

/* Back to the free list, after a grace period (or never published). */
void space_rec_release(struct iom_space *s, uint32_t id) {
        struct rec *r = space_rec(s, id);

        r->next_free = s->free_ids;
        s->free_ids = id;
        s->n_free_ids++;
}

static void retire(struct iom_space *s, uint64_t v) {
        struct obj *o = (struct obj *) (v & ~SLOT_TAGS);

        if (!v || (v & SLOT_MAP))
                return;
        o->next = s->limbo;
        s->limbo = o;
        s->n_limbo++;
}

/* Frees a retired object and, for a node, the subtree still hanging from it. */
static void drain_one(struct iom_space *s, struct obj *o) {
        if (o->kind == POOL_NODE) {
                struct node *n = (struct node *) o;

                for (unsigned i = 0; i < NODE_SLOTS && n->hdr.n > 0; i++) {
                        uint64_t v = n->slot[i];

                        if (!v)
                                continue;
                        n->hdr.n--;
                        if (!(v & SLOT_MAP))
                                drain_one(s, (struct obj *) (v & ~SLOT_TAGS));
                }
        }
        pool_put(s, o);
}

void space_drain_objects(struct iom_space *s) {
        while (s->limbo) {
                struct obj *o = s->limbo;

                s->limbo = o->next;
                drain_one(s, o);
        }
        s->n_limbo = 0;
}

int space_index_init(struct iom_space *s) {
        int r = pool_fill(s, POOL_NODE, 1);

        if (r < 0)
                return r;
        s->root = (struct node *) pool_take(s, POOL_NODE);
        return 0;
}

void space_index_free(struct iom_space *s) {
        for (unsigned t = 0; t < REC_TABLE && s->recs[t]; t++)
                free(s->recs[t]);
        space_arena_free_all(s);
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

static uint32_t next_in(const struct iom_space *s, uint64_t v, unsigned l, uint64_t base,
                        uint64_t page, uint64_t limit) {
        if (!v)
                return 0;
        if (v & SLOT_MAP)
                return (uint32_t) (v >> 2);
        if (v & SLOT_COMPACT) {
                const struct compact *c = (const struct compact *) (v & ~SLOT_TAGS);

                const uint32_t *ids = compact_ids(c);

                for (uint32_t i = 0; i < c->hdr.n; i++)
                        if (ids[i] && rec_last_page(space_rec(s, ids[i])) >= page)
                                return ids[i];
                return 0;
        }
        return next_in_node(s, (const struct node *) v, l - 1, base, page, limit);
}

uint32_t space_index_next(const struct iom_space *s, uint64_t page, uint64_t limit) {
        return next_in_node(s, s->root, s->top, 0, page, limit);
}

static size_t decode(uint64_t v, uint64_t sbase, struct piece *p) {
        const struct compact *c;

        if (!v)
                return 0;
        if (v & SLOT_MAP) {
                p[0] = (struct piece){sbase, (uint32_t) (v >> 2)};
                return 1;
        }
        c = (const struct compact *) (v & ~SLOT_TAGS);
        for (uint32_t i = 0; i < c->hdr.n; i++)
                p[i] = (struct piece){sbase + ce_off(c->e[i]), compact_ids(c)[i]};
        return c->hdr.n;
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

/* A piece as a compact holds it (CE_* in iom-space-internal.h). */
static uint64_t compact_entry(const struct iom_space *s, const struct piece *p, uint64_t sbase) {
        uint64_t e = (uint64_t) (p->start - sbase) << CE_OFF_SHIFT;
        const struct rec *r;
        uint64_t pfn;

        if (!p->id)
                return e;
        r = space_rec(s, p->id);
        pfn = (r->tp & REC_TARGET) >> IOM_SPACE_PAGE_SHIFT;
        e |= r->tp & REC_PROT;
        if (r->iova >> IOM_SPACE_PAGE_SHIFT == p->start && rec_last_page(r) == p->start &&
            pfn < CE_PFN_LIMIT)
                e |= CE_ONE | pfn << CE_PFN_SHIFT;
        return e;
}

/* A radix node at level @l - 1 for the pieces of a slot at level @l. */
static uint64_t encode_node(struct iom_space *s, const struct piece *p, size_t n, unsigned l,
                            uint64_t sbase) {
        struct node *node = (struct node *) pool_take(s, POOL_NODE);
        unsigned cshift = NODE_BITS * (l - 1);

        for (unsigned c = 0; c < NODE_SLOTS; c++) {
                uint64_t cb = sbase + ((uint64_t) c << cshift);
                uint64_t ce = cb + (UINT64_C(1) << cshift) - 1;
                struct piece sub[PIECES_MAX + 1];
                size_t m = 0;
                uint32_t carried = piece_at(s, p, n, cb);

                if (carried)
                        sub[m++] = (struct piece){cb, carried};
                for (size_t i = 0; i < n; i++)
                        if (p[i].start > cb && p[i].start <= ce)
                                sub[m++] = p[i];
                m = canonicalize(s, sub, m);
                node->slot[c] = encode(s, sub, m, l - 1, cb);
                node->hdr.n += node->slot[c] != 0;
        }
        return (uint64_t) node;
}

static uint64_t encode(struct iom_space *s, const struct piece *p, size_t n, unsigned l,
                       uint64_t sbase) {
        uint64_t slast = sbase + (UINT64_C(1) << (NODE_BITS * l)) - 1;
        struct compact *c;
        uint32_t *ids;

        if (n == 0)
                return 0;
        if (n == 1 && p[0].id && p[0].start == sbase &&
            rec_last_page(space_rec(s, p[0].id)) >= slast)
                return ((uint64_t) p[0].id << 2) | SLOT_MAP;
        /* A level-0 slot is one page: the first test always answered it. */
        assert(l > 0);
        if (l > COMPACT_MAX_LEVEL || n > COMPACT_MAX)
                return encode_node(s, p, n, l, sbase);
        c = (struct compact *) pool_take(s, compact_kind(n));
        ids = (uint32_t *) &c->e[compact_capacity(c)];
        for (size_t i = 0; i < n; i++) {
                ids[i] = p[i].id;
                c->e[i] = compact_entry(s, &p[i], sbase);
        }
        c->hdr.n = (uint32_t) n;
        return (uint64_t) c | SLOT_COMPACT;
}

/* The slot's pieces with [a, b] given to @id. */
static uint64_t rebuild(struct iom_space *s, uint64_t v, unsigned l, uint64_t sbase, uint64_t a,
                        uint64_t b, uint32_t id) {
        struct piece old[PIECES_MAX] = {}, p[PIECES_MAX + 2];
        size_t n_old = decode(v, sbase, old), n = 0;
        uint32_t after = piece_at(s, old, n_old, b + 1);
        bool after_starts = false;

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
        n = canonicalize(s, p, n);
        return encode(s, p, n, l, sbase);
}

/* The target of @page through mapping @id. */
static uint64_t target_of(const struct iom_space *s, uint32_t id, uint64_t page) {
        const struct rec *r = space_rec(s, id);

        return (r->tp & REC_TARGET) + (page << IOM_SPACE_PAGE_SHIFT) - r->iova;
}

/* A full level-0 node's summary (struct node), or 0 when it is not linear. @hint is a slot
 * just assigned: a mapping that broke the line is found there first, in two record loads,
 * before the 512 of a full check. */
static uint64_t linear_summary(const struct iom_space *s, const struct node *n, uint64_t base,
                               unsigned hint) {
        uint32_t first = (uint32_t) (n->slot[0] >> 2),
                 last = (uint32_t) (n->slot[NODE_SLOTS - 1] >> 2);
        uint64_t t0 = target_of(s, first, base), prot = space_rec(s, first)->tp & REC_PROT;

        if (rec_last_page(space_rec(s, last)) != base + NODE_SLOTS - 1)
                return 0;
        for (unsigned k = 0; k <= NODE_SLOTS; k++) {
                unsigned i = k == 0 ? hint : k - 1;
                uint32_t id = (uint32_t) (n->slot[i] >> 2);

                if ((space_rec(s, id)->tp & REC_PROT) != prot ||
                    target_of(s, id, base + i) != t0 + ((uint64_t) i << IOM_SPACE_PAGE_SHIFT))
                        return 0;
        }
        return t0 | prot;
}

static void assign_node(struct iom_space *s, struct node *n, unsigned l, uint64_t base, uint64_t lo,
                        uint64_t hi, uint32_t id) {
        unsigned shift = NODE_BITS * l;
        unsigned i_last = (unsigned) ((hi - base) >> shift);

        /* A leaf that changes is no longer known to be linear; readers that still see the
         * summary are inside a grace period the change waits out. */
        if (l == 0 && n->linear)
                STORE(&n->linear, 0);

        for (unsigned i = (unsigned) ((lo - base) >> shift); i <= i_last; i++) {
                uint64_t sb = base + ((uint64_t) i << shift);
                uint64_t se = sb + (UINT64_C(1) << shift) - 1;
                uint64_t a = MAX(lo, sb), b = MIN(hi, se);
                uint64_t v = n->slot[i], nv;

                if (a == sb && b == se) {
                        nv = id ? ((uint64_t) id << 2) | SLOT_MAP : 0;
                        retire(s, v);
                } else if (v && !(v & SLOT_TAGS)) {
                        struct node *child = (struct node *) v;

                        assign_node(s, child, l - 1, sb, a, b, id);
                        if (child->hdr.n > 0)
                                continue;
                        retire(s, v);
                        nv = 0;
                } else {
                        nv = rebuild(s, v, l, sb, a, b, id);
                        retire(s, v);
                }
                STORE(&n->slot[i], nv);
                n->hdr.n = n->hdr.n + (nv != 0) - (v != 0);
        }
        if (l == 0 && n->hdr.n == NODE_SLOTS) {
                /* The slots are published: a reader taking the summary finds them agree. */
                uint64_t linear = linear_summary(s, n, base, (unsigned) ((lo - base) >> shift));
                if (linear)
                        STORE(&n->linear, linear);
        }
}

void space_index_assign(struct iom_space *s, uint64_t first_page, uint64_t last_page, uint32_t id) {
        assign_node(s, s->root, s->top, 0, first_page, last_page, id);
}
