/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The hashed form of a space's index: its writer side, and when a space enters and leaves it.
 * The table and how readers probe it: iom-space-internal.h (struct hash). */
#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "iom-space-internal.h"
#include "macro.h"

/*
 * THE RULE
 *
 * A space enters the hashed form from the small form, when it is about to hold more than
 * SMALL_MAX pieces, if every piece is one page, fewer than half of them continue the target of
 * the one before (that is guest RAM mapped page by page, which the tree's linear leaves
 * answer in one cache line, faster than any probe), and the operation is a one-page map or
 * an unmap of at most HASH_PROBE_MAX pages. It leaves for the tree, for good, before:
 *   - a map of more than one page (a hashed space holds one-page mappings only);
 *   - an unmap of more than HASH_PROBE_MAX pages (an unmap probes each page of its range, and
 *     the operations that look for mappings in a range in order would scan the whole table);
 *   - the next operation after HASH_CONT_MIN one-page maps more than half of which continued
 *     a neighbour's target (guest RAM arriving in a hashed space).
 * A space never goes back: the small form is left once, the hashed form once.
 *
 * COST
 *
 * A translate probes from the page's hash (Fibonacci hashing on the page number), one cache
 * line mostly; a map writes a slot, an unmap turns one into a tombstone. When used slots
 * (live and tombstones) would pass half the table, the writer copies the live ones into a
 * table at most 3/8 full (so the copy, O(slots), comes once per an eighth of a table of maps
 * at the least) and retires the old one. Memory: 16 bytes a slot, 32 to 86 bytes a mapping and
 * no record, plus a spare table of the same size kept for the next copy. Looking for the next
 * mapping from a page beyond HASH_PROBE_MAX pages (iom_space_next_mapping(), a reserved range
 * added) scans the table.
 *
 * RECORDS
 *
 * A hashed mapping has none: its slot holds its page and target | prot, all that a record
 * says (a mapping here is one page), so a map writes one slot and an unmap one key, as the
 * baseline does, and nothing waits in a batch for a grace period but a copied table. Listing,
 * unmap's subscribers and backend calls, the counts, and freeing the space answer from the
 * slots. Entering,
 * the small form's records are retired; leaving, the tree gets a record for each live slot,
 * O(n) once.
 */
/* The share of one-page maps that continue a neighbour's target is counted in windows of this
 * many maps. */
#define HASH_CONT_MIN 64
/* The smallest table: 64 slots, 1.4 KiB. */
#define HASH_BITS_MIN 6

static struct hash *hash_alloc(struct iom_space *s, unsigned bits) {
        uint64_t slots = UINT64_C(1) << bits;
        size_t bytes = offsetof(struct hash, slot) + slots * sizeof(struct hslot);
        struct hash *h = s->hash_spare;

        /* A streaming ring copies its table at one size, again and again: the spare saves a
         * fresh allocation and its page faults each time. */
        if (h && h->bytes == bytes) {
                s->hash_spare = NULL;
                memset(h, 0, bytes);
        } else {
                h = space_big_alloc(bytes);
                if (!h)
                        return NULL;
                s->memory_bytes += bytes;
        }
        h->hdr.kind = OBJ_HASH;
        h->shift = 64 - bits;
        h->mask = slots - 1;
        h->bytes = bytes;
        return h;
}

void space_hash_free(struct iom_space *s, struct hash *h) {
        s->memory_bytes -= h->bytes;
        space_big_free(h, h->bytes);
}

void space_hash_release(struct iom_space *s, struct hash *h) {
#ifdef IOM_SPACE_POISON
        /* The keys stay: a reader still probing finds its page and a target no test mapped. */
        for (uint64_t i = 0; i <= h->mask; i++)
                __atomic_store_n(&h->slot[i].tp, SPACE_POISON, __ATOMIC_RELAXED);
#endif
        if (!s->hash_spare && s->hash && s->hash->bytes == h->bytes)
                s->hash_spare = h;
        else
                space_hash_free(s, h);
}

/* Puts @page -> @tp in an empty slot of @h, which has one to spare. */
static void hash_put(struct hash *h, uint64_t page, uint64_t tp) {
        uint64_t i = (page * HASH_MUL) >> h->shift;

        while (h->slot[i].key)
                i = (i + 1) & h->mask;
        __atomic_store_n(&h->slot[i].tp, tp, __ATOMIC_RELAXED);
        STORE(&h->slot[i].key, page + 1);
        h->used++;
        h->live++;
}

/* Whether @h maps @page to @tp (target | prot). */
static bool hash_maps_to(const struct hash *h, uint64_t page, uint64_t tp) {
        int64_t i = hash_find(h, page);

        return i >= 0 && h->slot[i].tp == tp;
}

/* The small form's pieces are all one page and most do not continue each other. */
static bool small_hashable(const struct small *sm) {
        unsigned conts = 0;

        for (unsigned i = 0; i < sm->hdr.n; i++) {
                if (sm->first[i] != sm->last[i])
                        return false;
                conts += sm->reach[i] != sm->last[i];
        }
        return 2 * conts < sm->hdr.n;
}

static int hash_from_small(struct iom_space *s) {
        struct small *sm = s->small;
        struct hash *h = hash_alloc(s, HASH_BITS_MIN);

        if (!h)
                return -ENOMEM;
        static_assert(4 * SMALL_MAX <= UINT64_C(1) << HASH_BITS_MIN, "the first table is roomy");
        for (unsigned i = 0; i < sm->hdr.n; i++)
                hash_put(h, sm->first[i], sm->tp[i]);
        /* A reader that sees no small form sees the table (iom-space-internal.h). */
        STORE(&s->hash, h);
        STORE(&s->small, NULL);
        space_retire_obj(s, &sm->hdr);
        /* The slots say what the records said. */
        for (unsigned i = 0; i < sm->hdr.n; i++)
                space_rec_retire(s, sm->ids[i]);
        return 0;
}

/* The hashed form becomes the tree, as the small form does (space_tree_begin()), each live slot
 * with a record of its own. What the assignments replace in the tree no reader has seen: it
 * goes back to the pools at once, so the tree of a large table is built from the same few
 * objects, not from new arenas. Out of memory, the records made go back too. */
static int hash_to_tree(struct iom_space *s) {
        struct hash *h = s->hash;
        struct batch waiting = s->batch[0];
        _cleanup_free_ uint32_t *ids = NULL;
        size_t n = 0;
        int r;

        ids = malloc(MAX(h->live, 1) * sizeof(*ids));
        if (!ids)
                return -ENOMEM;
        r = space_tree_begin(s);
        if (r < 0)
                return r;
        s->batch[0] = (struct batch){};
        for (uint64_t i = 0; i <= h->mask; i++) {
                uint64_t k = h->slot[i].key, tp = h->slot[i].tp;
                struct rec *rec;

                if (k == 0 || k == HASH_TOMB)
                        continue;
                r = space_reserve(s, 1, 1);
                if (r < 0)
                        break;
                ids[n] = space_rec_alloc(s);
                rec = space_rec(s, ids[n]);
                rec->iova = (k - 1) << IOM_SPACE_PAGE_SHIFT;
                rec->last = rec->iova + IOM_SPACE_PAGE_SIZE - 1;
                __atomic_store_n(&rec->tp, tp, __ATOMIC_RELAXED);
                /* With the hint the hashed form did not keep (writer_lookup_to()). */
                rec_set_cont(rec, hash_maps_to(h, k, tp + IOM_SPACE_PAGE_SIZE));
                space_index_assign(s, k - 1, k - 1, ids[n++]);
                space_batch_drain(s, &s->batch[0]);
        }
        s->batch[0] = waiting;
        if (r < 0) {
                space_tree_abort(s);
                while (n > 0)
                        space_rec_release(s, ids[--n]);
                return r;
        }
        STORE(&s->hash, NULL);
        space_retire_obj(s, &h->hdr);
        return 0;
}

int space_hash_reserve(struct iom_space *s, unsigned inserts) {
        struct hash *h = s->hash, *n;
        unsigned bits = HASH_BITS_MIN;

        if (2 * (h->used + inserts) <= h->mask + 1)
                return 0;
        /* A copy of the live slots, at most 3/8 full: an eighth of the table at least is
         * mapped before the next copy (which the doubling tables of a growing space never
         * need again: the next one comes at half full). */
        while (UINT64_C(8) * (h->live + inserts) > UINT64_C(3) << bits)
                bits++;
        n = hash_alloc(s, bits);
        if (!n)
                return -ENOMEM;
        for (uint64_t i = 0; i <= h->mask; i++) {
                uint64_t k = h->slot[i].key;

                if (k != 0 && k != HASH_TOMB)
                        hash_put(n, k - 1, h->slot[i].tp);
        }
        n->inserts = h->inserts;
        n->conts = h->conts;
        n->last_page = h->last_page;
        n->last_tp = h->last_tp;
        STORE(&s->hash, n);
        space_retire_obj(s, &h->hdr);
        return 0;
}

void space_hash_put(struct iom_space *s, uint64_t page, uint64_t tp) {
        struct hash *h = s->hash;

        s->hash_changes++;
        /* Guest RAM is mapped upwards, page after page: each map continues the one before
         * (told apart without a probe). */
        h->inserts++;
        h->conts += page == h->last_page + 1 && tp == h->last_tp + IOM_SPACE_PAGE_SIZE;
        h->last_page = page;
        h->last_tp = tp;
        hash_put(h, page, tp);
}

void space_hash_take(struct iom_space *s, int64_t i) {
        struct hash *h = s->hash;

        s->hash_changes++;
        STORE(&h->slot[i].key, HASH_TOMB);
        h->live--;
}

/* The first page of @h at or after @page in the order (built again if the table changed
 * since) in @ret, UINT64_MAX for none; false when out of memory. Under the space's lock. */
static bool order_next(struct iom_space *s, const struct hash *h, uint64_t page, uint64_t *ret) {
        size_t lo;

        if (s->order_changes != s->hash_changes || !s->order) {
                if (s->order_cap < h->live) {
                        uint64_t *o = realloc(s->order, h->live * sizeof(*o));

                        if (!o)
                                return false;
                        s->memory_bytes += (h->live - s->order_cap) * sizeof(*o);
                        s->order = o;
                        s->order_cap = h->live;
                }
                s->n_order = 0;
                for (uint64_t i = 0; i <= h->mask; i++)
                        if (h->slot[i].key != 0 && h->slot[i].key != HASH_TOMB)
                                s->order[s->n_order++] = h->slot[i].key - 1;
                qsort(s->order, s->n_order, sizeof(*s->order), compare_u64);
                s->order_changes = s->hash_changes;
        }
        lo = sorted_position(s->order, s->n_order, sizeof(*s->order), &page, compare_u64);
        *ret = lo < s->n_order ? s->order[lo] : UINT64_MAX;
        return true;
}

bool space_hash_mapping(const struct hash *h, int64_t i, uint64_t page, struct iom_mapping *ret) {
        uint64_t tp;

        if (i < 0)
                return false;
        tp = LOAD_RELAXED(&h->slot[i].tp);
        if (ret)
                *ret = (struct iom_mapping){
                        .iova = page << IOM_SPACE_PAGE_SHIFT,
                        .size = IOM_SPACE_PAGE_SIZE,
                        .target = tp & REC_TARGET,
                        .prot = (unsigned) (tp & REC_PROT),
                };
        return true;
}

bool space_hash_next(const struct iom_space *s, const struct hash *h, uint64_t page, uint64_t limit,
                     struct iom_mapping *ret) {
        struct iom_space *w = (struct iom_space *) s;
        uint64_t best = 0;
        int64_t found = -1;

        if (limit - page < HASH_PROBE_MAX) {
                for (uint64_t p = page;; p++) {
                        int64_t i = hash_find(h, p);

                        if (i >= 0 || p == limit)
                                return space_hash_mapping(h, i, p, ret);
                }
        }
        /* A reader listing the mappings (iom_space_next_mapping()) takes the lock if it is
         * free and keeps the pages in order: a listing of n costs one sort, not n scans of
         * the table. The writer, or a reader beside it, never waits: it scans. The table it
         * was handed is the published one while the lock is held. */
        if (pthread_mutex_trylock(&w->lock) == 0) {
                uint64_t p;
                bool ordered = h == s->hash && order_next(w, h, page, &p), any = false;

                /* Past the last page order_next() gives UINT64_MAX, no page (whose key, 0,
                 * hash_find() would find in an empty slot). */
                if (ordered && p != UINT64_MAX && p <= limit)
                        any = space_hash_mapping(h, hash_find(h, p), p, ret);
                pthread_mutex_unlock(&w->lock);
                if (ordered)
                        return any;
        }
        for (uint64_t i = 0; i <= h->mask; i++) {
                uint64_t k = LOAD(&h->slot[i].key);

                if (k != 0 && k != HASH_TOMB && k - 1 >= page && k - 1 <= limit &&
                    (found < 0 || k < best)) {
                        best = k;
                        found = (int64_t) i;
                }
        }
        return space_hash_mapping(h, found, best - 1, ret);
}

int space_index_prepare(struct iom_space *s, uint64_t first_page, uint64_t last_page, bool map) {
        bool fits = map ? first_page == last_page : last_page - first_page < HASH_PROBE_MAX;
        struct hash *h = s->hash;

        if (s->root)
                return 0;
        if (h) {
                bool ram = false;

                /* Windows of HASH_CONT_MIN one-page maps. */
                if (h->inserts >= HASH_CONT_MIN) {
                        ram = 2 * h->conts > h->inserts;
                        h->inserts = h->conts = 0;
                }
                return !fits || ram ? hash_to_tree(s) : 0;
        }
        /* The small form fills as space_reserve() sees it: a map adds at most two pieces, an
         * unmap four (space_reserve(s, 3, 2)). Otherwise the space grows its tree there. */
        if (fits && s->small->hdr.n + (map ? 2 : 6) > SMALL_MAX && small_hashable(s->small))
                return hash_from_small(s);
        return 0;
}
