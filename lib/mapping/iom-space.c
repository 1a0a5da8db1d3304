/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mediated mapping core: one I/O address space, mapped and unmapped by one writer at a
 * time, translated lock-free by any number of threads. */
#include <assert.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "iom-log.h"
#include "iom-rcu.h"
#include "iom-space-internal.h"
#include "macro.h"

/*
 * LAYOUT
 *
 * Pages are 4 KiB; "page" below is an IOVA >> 12. A space holds:
 *
 * - The record slab: one 32-byte struct rec per mapping (iova, last byte, target | prot | a
 *   "continues" hint bit, a generation, a free-list link), named by a 32-bit id (0 is none).
 *   The slab is chunks that double in size from 16 records, found through one table in the
 *   space: a small space holds a small slab, and records never move.
 *
 * - The small form (struct small): while a space holds at most SMALL_MAX (16) mappings, its
 *   index is one sorted array of pieces (first and last page, the first page's target | prot,
 *   how far the mappings that continue it reach), copy-on-write. An empty space costs under
 *   3 KiB, and a guest without a vIOMMU (its RAM in two ranges and a few BARs) translates by
 *   a search of one array in four steps that never branch on what they load, answered
 *   without a record. An operation that could take it past SMALL_MAX first grows the tree
 *   (or the hashed form) from it, privately, and unpublishes it in one store; a space never
 *   shrinks back.
 *
 * - The hashed form (struct hash, iom-space-hash.c), for a space whose mappings are all one
 *   page and whose targets do not continue each other (a guest's streaming DMA, buffers at
 *   random IOVAs and random targets): an open-addressing table on page number, slots of page
 *   and target | prot, probed lock-free by readers; a map fills a slot, an unmap makes it a
 *   tombstone, and a copy (published in one store, the old table retired like a node) clears
 *   tombstones and grows it. Its mappings have no records: a slot says all a record would.
 *   A space enters it from the small form and leaves it for the tree,
 *   for good, before a map of more pages, an unmap of more than 64 pages, or once mostly guest
 *   RAM arrives page by page (which linear leaves answer faster). iom-space-hash.c has the
 *   rule.
 *
 * - Once grown, the index: a radix tree over pages, NODE_SLOTS (512) slots per node, as deep as the
 *   aperture needs (4 levels for 48 bits, the x86 page-table shape). A slot at level l spans
 *   2^(9l) pages and holds one of:
 *     0                 no mapping touches the span;
 *     MAP(id)           the whole span lies inside mapping id: a 64 GiB mapping aligned to
 *                       1 GiB is 64 level-2 slots, not 16 million leaf entries;
 *     a compact         (levels 1..3) up to 16 pieces, sorted, in one or two cache lines:
 *                       a page belongs to the last piece starting at or before it, if that
 *                       piece's record reaches it. A piece is 64 bits: its page offset, prot,
 *                       and a whole one-page mapping's target, else its mapping's id. This
 *                       is the form of scattered mappings: an isolated 4 KiB mapping costs a
 *                       64-bit entry, not a 4 KiB leaf, and a translate reads the entry only.
 *                       Readers search the line in three or four steps that never branch on
 *                       what they load;
 *     a radix node      one level down, when the span holds more than 16 pieces. A leaf
 *                       (level 0) whose 512 pages are one line of targets says so in its
 *                       header (struct node's linear), and translate reads only that;
 *     a packed node     one level down, instead of a radix node when the pieces are strewn
 *                       over the children (levels 2..4): its 512 slots are cache lines that
 *                       hold up to 7 pieces themselves (or a slot value), under a sequence
 *                       lock per line. A scattered translate then misses the cache once (the
 *                       line), not twice (the node's slot, then the compact), and since it
 *                       never branches on what it loads, the processor overlaps the misses of
 *                       independent translates.
 *
 * - The arenas (iom-space-arena.c) nodes, compacts and record chunks are carved from: the
 *   large ones on 2 MiB transparent huge pages, so a walk over tens of MiB stays in the TLB.
 *
 * - The dirty bitmap (iom-space-dirty.c), only while tracking is on: it grows with the pages
 *   written, from pools the writer fills after each operation, never with what is mapped.
 *
 * - A per-thread hint: the last record a thread translated through (its range, its pointer
 *   and its generation), checked before walking the index.
 *
 * INVARIANTS
 *
 * - Mappings never overlap; each one outside the hashed form is a record whose range is
 *   covered in the index by exactly its own slots and pieces, and a slot is non-zero iff some
 * mapping touches its span (empty nodes are pruned).
 * - A record's iova, last and target never change while it is live: a split makes new
 *   records. Its generation is even while live and odd once retired, so a hint can tell a
 *   reused record from the one it saw.
 * - In the hashed form every mapping is one page, with exactly one live slot and no record;
 *   a slot goes
 *   empty -> live -> tombstone once per table (its target written before its key), so a
 *   reader that found its page reads that page's target; at least half the slots are empty,
 *   so every probe ends.
 * - Compacts are copy-on-write: readers see the old or the new array, never a mix. Radix
 *   nodes change one 64-bit slot at a time. A packed node's line is rewritten in place, busy
 *   meanwhile; a reader that saw it busy or changed reads it again.
 * - Anything unpublished (nodes, compacts, records) is freed or reused only after a grace
 *   period (iom-rcu.h). It waits in batches (struct batch): one grace period begins per
 *   BATCH_BYTES retired and a later operation frees the batch once the grace period ended, so
 *   a writer beside busy readers never waits for them per operation; it waits only when
 *   BATCH_MAX_BYTES are retired (a reader preempted inside a section for that long). With no
 *   other thread reading, what an operation retires is freed before it returns. A translate
 *   that starts after an unmap returned cannot reach what it removed (the index no longer
 *   leads there); with subscribers, unmap also waits out the translates already running
 *   before it tells them.
 * - Operations are all or nothing: the worst case of nodes, compacts and records an operation
 *   can need is reserved (space_reserve()) before it changes anything, and a backend is asked
 *   before the index changes.
 *
 * COMPLEXITY
 *
 * translate: in the small form, a search of 16 sorted words (4 loads) and one piece's line;
 * in the hashed form a probe, mostly one cache line; else at most top + 1 slot loads (4 for
 * 48 bits, 2 for scattered mappings through a packed node) answered there by a linear leaf or
 * a one-page piece, in a fast path without a call; else the full way: a hint check (one
 * record load) or the walk and one record load. Never allocates, logs, locks or makes a
 * syscall.
 * map: O(top) plus the slots its range covers whole (at most 511 per level), independent of
 * its size in pages, also with dirty tracking on (which costs O(1): refilling its pools); in
 * the hashed form a probe, and now and then a copy of the table (O(slots) once per an eighth
 * of a table of maps at the least).
 * unmap: the same plus O(mappings removed); with subscribers, one grace period.
 * Memory: 8 bytes per page in full radix leaves (dense), about 24-40 bytes per mapping in
 * packed nodes and compacts (scattered), plus 32 bytes of record; 32 to 86 in the hashed
 * form, with no record; arenas are freed with the space only, hash tables when retired.
 * iom_space_next_mapping() in the hashed form: one sort of its pages per change while the lock
 * is free, then a binary search; beside the writer a scan of the table.
 *
 * CONCURRENCY
 *
 * One writer at a time (the space's mutex, taken by every changing call and by get_dirty,
 * get_stats); readers (translate, translate_sg, next_mapping) take no lock: they run inside a
 * read-side section and load slots with acquire semantics, so what they reach was fully
 * written before it was published. Subscribers run under the writer's mutex, after the grace
 * period.
 */

/* Translate looks this many mappings past its own for a target that continues: a longer
 * answer saves a caller a call, a longer look costs every call (translate_sg merges on). */
#define FOLLOW_MAX 2
/* Beside readers, what operations unpublish waits for a grace period in batches of this many
 * bytes (one barrier per batch), and at most BATCH_MAX_BYTES wait at a time: past that the
 * writer waits for the older batch's grace period. A scheduler's time slice (about 4 ms) of a
 * reader preempted inside a section is what the bound covers without a wait, at the rate a
 * writer retires (some 300 MB/s). */
#define BATCH_BYTES (UINT64_C(64) << 10)
#define BATCH_MAX_BYTES (UINT64_C(4) << 20)

static uint64_t space_serial;

static int unmap_locked(struct iom_space *s, uint64_t iova, uint64_t last, uint64_t *ret);
static void hash_free_unmap(struct iom_space *s);

struct hint {
        const struct iom_space *space;
        uint64_t serial;
        uint64_t first, last;
        const struct rec *rec;
        uint32_t gen;
};

static _Thread_local struct hint hint;

_public_ void iom_space_config_init(struct iom_space_config *ret) {
        *ret = (struct iom_space_config){
                .aperture_first = 0,
                .aperture_last = (UINT64_C(1) << 48) - 1,
                .page_sizes = IOM_SPACE_PAGE_SIZE | (UINT64_C(1) << 21) | (UINT64_C(1) << 30),
                .max_mappings = REC_ID_MAX,
                .max_pinned_bytes = UINT64_MAX,
        };
}

static uint64_t space_align(const struct iom_space *s) {
        return s->config.page_sizes & -s->config.page_sizes;
}

/* Checks [iova, iova + size) for alignment to @align, non-zero size and the aperture. */
static int check_range(const struct iom_space *s, uint64_t iova, uint64_t size, uint64_t align) {
        if (size == 0 || (iova | size) & (align - 1))
                return iom_debug_errno(EINVAL,
                                       "range 0x%" PRIx64 "+0x%" PRIx64
                                       " is empty or not aligned to 0x%" PRIx64,
                                       iova, size, align);
        if (iova < s->first || iova + size - 1 < iova || iova + size - 1 > s->last)
                return iom_debug_errno(
                        EINVAL, "range 0x%" PRIx64 "+0x%" PRIx64 " lies outside the aperture", iova,
                        size);
        return 0;
}

/* A map's or an unmap's space and range. */
static int check_call(const struct iom_space *s, uint64_t iova, uint64_t size) {
        return s ? check_range(s, iova, size, space_align(s)) : -EINVAL;
}

static int reserved_insert(struct iom_space *s, uint64_t first, uint64_t last) {
        uint64_t(*r)[2] = realloc(s->reserved, (s->n_reserved + 1) * sizeof(*r));
        size_t i;

        if (!r)
                return -ENOMEM;
        s->reserved = r;
        for (i = s->n_reserved; i > 0 && r[i - 1][0] > first; i--)
                memcpy(r[i], r[i - 1], sizeof(*r));
        r[i][0] = first;
        r[i][1] = last;
        s->n_reserved++;
        return 0;
}

_public_ int iom_space_new(const struct iom_space_config *config, struct iom_space **ret) {
        struct iom_space_config c;
        struct iom_space *s;
        uint64_t last_page;
        unsigned bits;

        if (!ret)
                return -EINVAL;
        if (config)
                c = *config;
        else
                iom_space_config_init(&c);
        if (c.page_sizes & (IOM_SPACE_PAGE_SIZE - 1) || c.page_sizes == 0)
                return iom_debug_errno(EINVAL, "page sizes 0x%" PRIx64 " lack one >= 4 KiB",
                                       c.page_sizes);
        if (c.aperture_first > c.aperture_last || c.aperture_first & (IOM_SPACE_PAGE_SIZE - 1) ||
            (c.aperture_last + 1) & (IOM_SPACE_PAGE_SIZE - 1))
                return iom_debug_errno(
                        EINVAL, "aperture 0x%" PRIx64 "-0x%" PRIx64 " is empty or not page-aligned",
                        c.aperture_first, c.aperture_last);
        if (c.max_mappings == 0 || c.max_pinned_bytes == 0)
                return iom_debug_errno(EINVAL, "a limit of 0 allows no mapping");
        c.max_mappings = MIN(c.max_mappings, (uint64_t) REC_ID_MAX - 2);

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->config = c;
        s->first = c.aperture_first;
        s->last = c.aperture_last;
        s->serial = __atomic_add_fetch(&space_serial, 1, __ATOMIC_RELAXED);
        last_page = s->last >> IOM_SPACE_PAGE_SHIFT;
        bits = last_page ? 64 - __builtin_clzll(last_page) : 1;
        s->top = (bits + NODE_BITS - 1) / NODE_BITS - 1;
        s->next_id = 1;
        s->memory_bytes = sizeof(*s);
        (void) pthread_mutex_init(&s->lock, NULL);
        if (space_index_init(s) < 0) {
                pthread_mutex_destroy(&s->lock);
                free(s);
                return -ENOMEM;
        }
#if defined(__x86_64__) || defined(__i386__)
        if (reserved_insert(s, IOM_SPACE_MSI_FIRST, IOM_SPACE_MSI_LAST) < 0) {
                iom_space_free(s);
                return -ENOMEM;
        }
#endif
        *ret = s;
        return 0;
}

_public_ struct iom_space *iom_space_free(struct iom_space *s) {
        if (!s)
                return NULL;
        uint64_t removed;

        /* Nobody to tell: the records and the index go with the arenas, no unmap needed. A
         * hashed space answers from its slots: becoming a tree takes memory, and out of it
         * the backend would keep every page pinned. */
        pthread_mutex_lock(&s->lock);
        if (s->n_subscribers > 0 || s->backend.unmap) {
                if (s->hash)
                        hash_free_unmap(s);
                else
                        (void) unmap_locked(s, s->first, s->last, &removed);
        }
        pthread_mutex_unlock(&s->lock);
        /* No thread uses the space any more: what waits needs no grace period. Whatever an
         * unmap that failed (out of memory) left goes with the index. */
        space_index_retire(s);
        space_batch_drain(s, &s->batch[1]);
        space_batch_drain(s, &s->batch[0]);
        if (s->hash_spare)
                space_hash_free(s, s->hash_spare);
        space_arena_free_all(s);
        space_dirty_free(s->dirty);
        pthread_mutex_destroy(&s->lock);
        free(s->reserved);
        free(s->order);
        free(s);
        return NULL;
}

static bool reserved_touches(const struct iom_space *s, uint64_t first, uint64_t last) {
        for (size_t i = 0; i < s->n_reserved; i++)
                if (s->reserved[i][0] <= last && first <= s->reserved[i][1])
                        return true;
        return false;
}

/* The next mapping touching [*page, last_page], advancing *page past it; 0 at the end. */
static uint32_t next_in_range(const struct iom_space *s, uint64_t *page, uint64_t last_page) {
        uint32_t id;
        const struct rec *r;

        if (*page > last_page)
                return 0;
        id = space_index_next(s, s->small, *page, last_page);
        if (!id)
                return 0;
        r = space_rec(s, id);
        if (r->iova >> IOM_SPACE_PAGE_SHIFT > last_page)
                return 0;
        *page = rec_last_page(r) + 1;
        return id;
}

/* Whether a mapping touches pages [first_page, last_page]. Under the lock. */
static bool holds(const struct iom_space *s, uint64_t first_page, uint64_t last_page) {
        if (s->hash)
                return space_hash_next(s, s->hash, first_page, last_page, NULL);
        return next_in_range(s, &first_page, last_page) != 0;
}

_public_ int iom_space_add_reserved(struct iom_space *s, uint64_t first, uint64_t last) {
        int r;

        if (!s || first > last || first & (IOM_SPACE_PAGE_SIZE - 1) ||
            (last + 1) & (IOM_SPACE_PAGE_SIZE - 1))
                return -EINVAL;
        pthread_mutex_lock(&s->lock);
        if (holds(s, first >> IOM_SPACE_PAGE_SHIFT, last >> IOM_SPACE_PAGE_SHIFT))
                r = iom_debug_errno(EBUSY,
                                    "reserved range 0x%" PRIx64 "-0x%" PRIx64 " holds a mapping",
                                    first, last);
        else
                r = reserved_insert(s, first, last);
        pthread_mutex_unlock(&s->lock);
        return r;
}

_public_ size_t iom_space_get_reserved(const struct iom_space *s, uint64_t (*ret_ranges)[2],
                                       size_t n) {
        struct iom_space *w = (struct iom_space *) s;
        size_t total;

        pthread_mutex_lock(&w->lock);
        total = s->n_reserved;
        if (ret_ranges)
                memcpy(ret_ranges, s->reserved, MIN(n, total) * sizeof(*ret_ranges));
        pthread_mutex_unlock(&w->lock);
        return total;
}

_public_ void iom_space_get_config(const struct iom_space *s, struct iom_space_config *ret) {
        *ret = s->config;
}

_public_ int iom_space_set_backend(struct iom_space *s, const struct iom_space_backend *backend,
                                   void *userdata) {
        if (!s || !backend)
                return -EINVAL;
        pthread_mutex_lock(&s->lock);
        s->backend = *backend;
        s->backend_userdata = userdata;
        pthread_mutex_unlock(&s->lock);
        return 0;
}

_public_ int iom_space_subscribe(struct iom_space *s, iom_space_unmapped_func_t func,
                                 void *userdata) {
        int r = 0;

        if (!s || !func)
                return -EINVAL;
        pthread_mutex_lock(&s->lock);
        if (s->n_subscribers >= SUBSCRIBERS_MAX)
                r = -ENOSPC;
        else
                s->subscribers[s->n_subscribers++] = (typeof(s->subscribers[0])){func, userdata};
        pthread_mutex_unlock(&s->lock);
        return r;
}

_public_ int iom_space_unsubscribe(struct iom_space *s, iom_space_unmapped_func_t func,
                                   void *userdata) {
        int r = -ENOENT;

        if (!s)
                return -EINVAL;
        pthread_mutex_lock(&s->lock);
        for (unsigned i = 0; i < s->n_subscribers; i++) {
                if (s->subscribers[i].func != func || s->subscribers[i].userdata != userdata)
                        continue;
                memmove(&s->subscribers[i], &s->subscribers[i + 1],
                        (s->n_subscribers - i - 1) * sizeof(s->subscribers[0]));
                s->n_subscribers--;
                r = 0;
                break;
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

static uint64_t rec_target(const struct rec *r) {
        return LOAD_RELAXED(&r->tp) & REC_TARGET;
}

/* Does @b start where @a ends, in IOVA and target, with the same permissions? */
static bool rec_continues(const struct rec *a, const struct rec *b) {
        uint64_t ta = LOAD_RELAXED(&a->tp), tb = LOAD_RELAXED(&b->tp);

        return a->last + 1 == b->iova && (ta & REC_PROT) == (tb & REC_PROT) &&
               (ta & REC_TARGET) + (a->last - a->iova + 1) == (tb & REC_TARGET);
}

/* The record of the mapping at @iova if its target there may be @target (the index tells most
 * others apart without loading their record), else NULL. */
static struct rec *writer_lookup_to(const struct iom_space *s, uint64_t iova, uint64_t target) {
        uint32_t id;
        struct rec *r;

        /* A hashed space keeps no record's hint (translate answers from the table): the
         * lookups that would keep them are saved, and the tree sets them when it takes over
         * (iom-space-hash.c). */
        if (iova < s->first || iova > s->last || (s->hash && !s->root))
                return NULL;
        id = space_index_lookup_to(s, iova >> IOM_SPACE_PAGE_SHIFT, target >> IOM_SPACE_PAGE_SHIFT);
        if (!id)
                return NULL;
        r = space_rec(s, id);
        return r->iova <= iova && iova <= r->last ? r : NULL;
}

/* Publishes a new record [iova, last] -> tp over pages that hold nothing or only mappings
 * this operation is replacing; space_reserve() was called. */
static uint32_t publish(struct iom_space *s, uint64_t iova, uint64_t last, uint64_t tp) {
        uint32_t id = space_rec_alloc(s);
        struct rec *r = space_rec(s, id);
        struct rec *next = last < s->last ? writer_lookup_to(s, last + 1,
                                                             (tp & REC_TARGET) + (last - iova + 1))
                                          : NULL;

        r->iova = iova;
        r->last = last;
        __atomic_store_n(&r->tp, tp & ~REC_CONT, __ATOMIC_RELAXED);
        rec_set_cont(r, next && rec_continues(r, next));
        space_index_assign(s, iova >> IOM_SPACE_PAGE_SHIFT, last >> IOM_SPACE_PAGE_SHIFT, id);
        return id;
}

/* The hint of the mapping before @iova, now that @r holds @iova (NULL: nothing does) where
 * @target is (or was, for an unmap) the target: only a mapping whose target runs into @target
 * can continue into @r or have continued into what was there, so the others are left alone
 * and mostly unread. */
static void update_prev_cont(struct iom_space *s, uint64_t iova, uint64_t target,
                             const struct rec *r) {
        struct rec *prev = iova > s->first
                                   ? writer_lookup_to(s, iova - 1, target - IOM_SPACE_PAGE_SIZE)
                                   : NULL;

        if (prev)
                rec_set_cont(prev, r && rec_continues(prev, r));
}

/* Frees the waiting batch if its grace period ended; @wait: waits for it. */
static void batch_poll(struct iom_space *s, bool wait) {
        if (!s->batch_waiting)
                return;
        while (!iom_rcu_poll(s->batch_cookie)) {
                if (!wait)
                        return;
                (void) sched_yield();
        }
        space_batch_drain(s, &s->batch[1]);
        s->batch_waiting = false;
}

/* After every change: what it unpublished waits for a grace period in the filling batch, which
 * closes (its grace period begins) once it holds BATCH_BYTES and the batch before is free, or
 * is freed at once when no other thread reads (iom_rcu_alone(): no grace period, no lock).
 * Only when the retired memory reaches BATCH_MAX_BYTES does the writer wait. With nothing
 * retired and nothing waiting (a hashed space's map and unmap), two loads and compares. */
static void reclaim(struct iom_space *s) {
        if (s->batch[0].bytes == 0 && !s->batch_waiting)
                return;
        batch_poll(s, s->batch[0].bytes + s->batch[1].bytes >= BATCH_MAX_BYTES);
        if (s->batch[0].bytes == 0 || s->batch_waiting)
                return;
        if (iom_rcu_alone()) {
                space_batch_drain(s, &s->batch[0]);
                return;
        }
        if (s->batch[0].bytes < BATCH_BYTES)
                return;
        s->batch[1] = s->batch[0];
        s->batch[0] = (struct batch){};
        s->batch_cookie = iom_rcu_start();
        s->batch_waiting = true;
        batch_poll(s, false);
}

static int map_locked(struct iom_space *s, uint64_t iova, uint64_t size, uint64_t target,
                      unsigned prot) {
        uint64_t last = iova + size - 1, page = iova >> IOM_SPACE_PAGE_SHIFT;
        uint32_t id;
        int r;

        r = space_index_prepare(s, page, last >> IOM_SPACE_PAGE_SHIFT, true);
        if (r < 0)
                return r;
        if (reserved_touches(s, iova, last))
                return iom_debug_errno(EADDRNOTAVAIL,
                                       "0x%" PRIx64 "-0x%" PRIx64 " touches a reserved range", iova,
                                       last);
        if (holds(s, page, last >> IOM_SPACE_PAGE_SHIFT))
                return iom_debug_errno(EEXIST, "0x%" PRIx64 "-0x%" PRIx64 " overlaps a mapping",
                                       iova, last);
        if (s->n_mappings + 1 > s->config.max_mappings)
                return iom_debug_errno(ENOSPC, "space holds %" PRIu64 " mappings already",
                                       s->n_mappings);
        if (size > s->config.max_pinned_bytes - MIN(s->mapped_bytes, s->config.max_pinned_bytes))
                return iom_debug_errno(EDQUOT,
                                       "0x%" PRIx64 " more bytes would exceed 0x%" PRIx64 " pinned",
                                       size, s->config.max_pinned_bytes);
        /* A hashed mapping has no record (iom-space-hash.c). */
        r = space_reserve(s, 1, !s->hash);
        if (r < 0)
                return r;
        if (s->backend.map) {
                r = s->backend.map(s->backend_userdata, iova, size, target, prot);
                if (r < 0)
                        return iom_debug_errno(r, "backend refused to map 0x%" PRIx64, iova);
        }
        if (s->hash)
                space_hash_put(s, page, target | prot);
        else {
                id = publish(s, iova, last, target | prot);
                update_prev_cont(s, iova, target, space_rec(s, id));
        }
        s->n_mappings++;
        s->mapped_bytes += size;
        reclaim(s);
        space_dirty_refill(s->dirty);
        return 0;
}

_public_ int iom_space_map(struct iom_space *s, uint64_t iova, uint64_t size, uint64_t target,
                           unsigned prot) {
        int r;

        r = check_call(s, iova, size);
        if (r < 0)
                return r;
        if (target & (space_align(s) - 1) || target + size - 1 < target)
                return iom_debug_errno(EINVAL, "target 0x%" PRIx64 " is not aligned or wraps",
                                       target);
        if (prot == 0 || prot & ~IOM_SPACE_RW)
                return iom_debug_errno(EINVAL, "prot %u is not read, write or both", prot);
        pthread_mutex_lock(&s->lock);
        r = map_locked(s, iova, size, target, prot);
        pthread_mutex_unlock(&s->lock);
        return r;
}

/* The part of mapping @id inside [iova, last]. */
static void clip(const struct iom_space *s, uint32_t id, uint64_t iova, uint64_t last,
                 struct iom_mapping *ret) {
        const struct rec *r = space_rec(s, id);
        uint64_t a = MAX(r->iova, iova), b = MIN(r->last, last);

        *ret = (struct iom_mapping){
                .iova = a,
                .size = b - a + 1,
                .target = rec_target(r) + (a - r->iova),
                .prot = (unsigned) (LOAD_RELAXED(&r->tp) & REC_PROT),
        };
}

/* Asks the backend to unmap each piece; on a refusal maps back what it had accepted. */
static int backend_unmap(struct iom_space *s, uint64_t iova, uint64_t last) {
        uint64_t page = iova >> IOM_SPACE_PAGE_SHIFT, undo = page;
        uint64_t last_page = last >> IOM_SPACE_PAGE_SHIFT;
        uint32_t id;
        int r = 0;

        if (!s->backend.unmap)
                return 0;
        while ((id = next_in_range(s, &page, last_page))) {
                struct iom_mapping m;

                clip(s, id, iova, last, &m);
                r = s->backend.unmap(s->backend_userdata, m.iova, m.size);
                if (r < 0)
                        break;
        }
        if (r >= 0)
                return 0;
        /* Pieces before the refused one (id) go back. */
        for (uint32_t u; (u = next_in_range(s, &undo, last_page)) && u != id;) {
                struct iom_mapping m;

                clip(s, u, iova, last, &m);
                if (s->backend.map)
                        (void) s->backend.map(s->backend_userdata, m.iova, m.size, m.target,
                                              m.prot);
        }
        return iom_debug_errno(r, "backend refused to unmap 0x%" PRIx64, iova);
}

/* Tells subscribers that bytes [first, last] were unmapped. */
static void tell(struct iom_space *s, uint64_t first, uint64_t last) {
        for (unsigned i = 0; i < s->n_subscribers; i++)
                s->subscribers[i].func(s->subscribers[i].userdata, first, last - first + 1);
}

/* After the grace period: tells subscribers each contiguous removed range of [iova, last],
 * from the records retired from @id on. */
static void notify(struct iom_space *s, uint32_t id, uint64_t iova, uint64_t last) {
        uint64_t run_first = 0, run_last = 0;
        bool run = false;

        for (uint32_t next; id; id = next) {
                const struct rec *r = space_rec(s, id);
                uint64_t a = MAX(r->iova, iova), b = MIN(r->last, last);

                next = r->next_free;
                if (run && a != run_last + 1) {
                        tell(s, run_first, run_last);
                        run = false;
                }
                if (!run)
                        run_first = a;
                run_last = b;
                run = true;
        }
        if (run)
                tell(s, run_first, run_last);
}

/* The same for a hashed space: bit i of @pages, page @first_page + i was unmapped. */
static void notify_pages(struct iom_space *s, uint64_t first_page, uint64_t pages) {
        while (pages) {
                unsigned a = (unsigned) __builtin_ctzll(pages);
                uint64_t run = (pages >> a) + 1; /* the bits past the run */
                unsigned n = run ? (unsigned) __builtin_ctzll(run) : 64 - a;

                tell(s, (first_page + a) << IOM_SPACE_PAGE_SHIFT,
                     ((first_page + a + n) << IOM_SPACE_PAGE_SHIFT) - 1);
                pages = n + a >= 64 ? 0 : pages & ~((UINT64_C(1) << (a + n)) - 1);
        }
}

/* Freeing a hashed space: the backend and the subscribers hear of each live page, one at a
 * time in slot order, from a scan of the slots; no allocation, and no grace period (no thread
 * uses the space any more). A page the backend refuses stays its own: the others go all the
 * same, there is no space left to map them back into. */
static void hash_free_unmap(struct iom_space *s) {
        const struct hash *h = s->hash;
        struct iom_mapping m;

        for (uint64_t i = 0; i <= h->mask; i++) {
                uint64_t k = h->slot[i].key;
                int r;

                if (k == 0 || k == HASH_TOMB)
                        continue;
                (void) space_hash_mapping(h, (int64_t) i, k - 1, &m);
                r = s->backend.unmap ? s->backend.unmap(s->backend_userdata, m.iova, m.size) : 0;
                if (r < 0)
                        (void) iom_debug_errno(r, "backend refused to unmap 0x%" PRIx64
                                                  " of a space freed, ignoring", m.iova);
                else
                        tell(s, m.iova, m.iova + m.size - 1);
        }
}

/* A hashed space's unmap of pages [first_page, last_page], at most HASH_PROBE_MAX: a probe a
 * page, its slot kept for the tombstone, and no record. Returns how many were mapped; bit i of
 * *ret_pages: page first_page + i was mapped and is no more. */
static int hash_unmap(struct iom_space *s, uint64_t first_page, uint64_t last_page,
                      uint64_t *ret_pages) {
        unsigned n = (unsigned) (last_page - first_page + 1), done;
        int64_t slot[HASH_PROBE_MAX];
        struct iom_mapping m;
        uint64_t pages = 0;
        int r = 0, count = 0;

        for (unsigned i = 0; i < n; i++) {
                slot[i] = hash_find(s->hash, first_page + i);
                if (slot[i] >= 0) {
                        pages |= UINT64_C(1) << i;
                        count++;
                }
        }
        for (done = 0; s->backend.unmap && done < n; done++)
                if (space_hash_mapping(s->hash, slot[done], first_page + done, &m)) {
                        r = s->backend.unmap(s->backend_userdata, m.iova, m.size);
                        if (r < 0)
                                break;
                }
        if (r < 0) {
                /* Pages before the refused one go back. */
                for (unsigned i = 0; s->backend.map && i < done; i++)
                        if (space_hash_mapping(s->hash, slot[i], first_page + i, &m))
                                (void) s->backend.map(s->backend_userdata, m.iova, m.size,
                                                      m.target, m.prot);
                return iom_debug_errno(r, "backend refused to unmap 0x%" PRIx64,
                                       (first_page + done) << IOM_SPACE_PAGE_SHIFT);
        }
        for (unsigned i = 0; i < n; i++)
                if (slot[i] >= 0)
                        space_hash_take(s, slot[i]);
        *ret_pages = pages;
        return count;
}

/* After an unmap of [iova, last]: subscribers hear what it removed (a hashed space's @pages,
 * notify_pages(); else the records retired after record @before, notify()), else what it
 * retired waits for reclamation. */
static void unmapped(struct iom_space *s, uint64_t iova, uint64_t last, uint64_t pages,
                     uint32_t before) {
        if (s->n_subscribers > 0 && (!s->hash || pages)) {
                /* A subscriber invalidates what readers may have cached: none may still be
                 * handed the range after it. The grace period covers all that waits. */
                iom_rcu_synchronize();
                if (s->hash)
                        notify_pages(s, iova >> IOM_SPACE_PAGE_SHIFT, pages);
                else
                        notify(s, before ? space_rec(s, before)->next_free : s->batch[0].recs, iova,
                               last);
                batch_poll(s, true);
                space_batch_drain(s, &s->batch[0]);
        } else
                reclaim(s);
        space_dirty_refill(s->dirty);
}

static int unmap_locked(struct iom_space *s, uint64_t iova, uint64_t last, uint64_t *ret) {
        uint64_t first_page = iova >> IOM_SPACE_PAGE_SHIFT,
                 last_page = last >> IOM_SPACE_PAGE_SHIFT;
        uint64_t page = first_page, removed = 0, count = 0;
        uint32_t id, head = 0, tail = 0, before;
        const struct rec *h, *t;
        unsigned splits;
        int r;

        r = space_index_prepare(s, first_page, last_page, false);
        if (r < 0)
                return r;
        if (s->hash) {
                uint64_t pages = 0;

                r = hash_unmap(s, first_page, last_page, &pages);
                if (r < 0)
                        return r;
                count = (uint64_t) r;
                *ret = count << IOM_SPACE_PAGE_SHIFT;
                s->n_mappings -= count;
                s->mapped_bytes -= *ret;
                unmapped(s, iova, last, pages, 0);
                return 0;
        }
        while ((id = next_in_range(s, &page, last_page))) {
                struct iom_mapping m;

                clip(s, id, iova, last, &m);
                removed += m.size;
                count++;
                head = head ?: id;
                tail = id;
        }
        *ret = removed;
        if (count == 0)
                return 0;
        h = space_rec(s, head);
        t = space_rec(s, tail);
        splits = (h->iova < iova) + (t->last > last);
        if (splits && s->backend.flags & IOM_SPACE_BACKEND_NO_SPLIT)
                return iom_debug_errno(
                        EINVAL, "the backend cannot split a mapping at 0x%" PRIx64 " or 0x%" PRIx64,
                        iova, last + 1);
        if (s->n_mappings - count + splits > s->config.max_mappings)
                return iom_debug_errno(ENOSPC, "splitting would exceed %" PRIu64 " mappings",
                                       s->config.max_mappings);
        r = space_reserve(s, 3, 2);
        if (r < 0)
                return r;
        r = backend_unmap(s, iova, last);
        if (r < 0)
                return r;

        /* The parts outside the range become records of their own first, so a reader sees
         * the old record or the new one there, both with the same target. */
        if (h->iova < iova)
                (void) publish(s, h->iova, iova - 1, LOAD_RELAXED(&h->tp));
        if (t->last > last)
                (void) publish(s, last + 1, t->last,
                               (rec_target(t) + (last + 1 - t->iova)) |
                                       (LOAD_RELAXED(&t->tp) & REC_PROT));
        page = first_page;
        before = s->batch[0].recs_tail;
        while ((id = next_in_range(s, &page, last_page)))
                space_rec_retire(s, id);
        space_index_assign(s, first_page, last_page, 0);
        if (h->iova <= iova)
                update_prev_cont(s, iova, rec_target(h) + (iova - h->iova), NULL);
        s->n_mappings = s->n_mappings - count + splits;
        s->mapped_bytes -= removed;
        unmapped(s, iova, last, 0, before);
        return 0;
}

_public_ int iom_space_unmap(struct iom_space *s, uint64_t iova, uint64_t size,
                             uint64_t *ret_unmapped) {
        uint64_t removed = 0;
        int r;

        r = check_call(s, iova, size);
        if (r < 0)
                return r;
        pthread_mutex_lock(&s->lock);
        r = unmap_locked(s, iova, iova + size - 1, &removed);
        pthread_mutex_unlock(&s->lock);
        if (r < 0)
                return r;
        if (ret_unmapped)
                *ret_unmapped = removed;
        return 0;
}

/* How far past @last the mappings that continue it (from @target on, with tp's permissions)
 * reach; at most FOLLOW_MAX of them. */
static uint64_t follow(const struct iom_space *s, uint64_t last, uint64_t tp, uint64_t target) {
        uint64_t extra = 0;

        for (unsigned i = 0; i < FOLLOW_MAX && (tp & REC_CONT) && last < s->last; i++) {
                uint32_t id = space_index_lookup(s, (last + 1) >> IOM_SPACE_PAGE_SHIFT, NULL);
                const struct rec *r;
                uint64_t ntp;

                if (!id)
                        break;
                r = space_rec(s, id);
                ntp = LOAD_RELAXED(&r->tp);
                if (r->iova != last + 1 || (ntp & REC_PROT) != (tp & REC_PROT) ||
                    (ntp & REC_TARGET) != target + extra)
                        break;
                extra += r->last - r->iova + 1;
                last = r->last;
                tp = ntp;
        }
        return extra;
}

struct hit {
        uint64_t target;
        uint64_t contiguous;
        unsigned prot;
};

/* What the index answered without a record (struct direct). */
static _always_inline_ int resolve_direct(uint64_t iova, unsigned access, const struct direct *d,
                                          struct hit *ret) {
        uint64_t offset = iova - (d->first_page << IOM_SPACE_PAGE_SHIFT);

        if (!d->tp)
                return -ENOENT;
        if (access & ~d->tp & REC_PROT)
                return -EACCES;
        ret->target = (d->tp & REC_TARGET) + offset;
        ret->prot = (unsigned) (d->tp & REC_PROT);
        ret->contiguous = ((d->last_page + 1) << IOM_SPACE_PAGE_SHIFT) - iova;
        return 0;
}

/* The answer of a record that holds @iova (pages first..last). */
static int resolve_rec(const struct iom_space *s, const struct rec *r, uint64_t first,
                       uint64_t last, uint64_t iova, unsigned access, struct hit *ret) {
        uint64_t tp = LOAD_RELAXED(&r->tp);

        if (access & ~tp & REC_PROT)
                return -EACCES;
        ret->target = (tp & REC_TARGET) + (iova - first);
        ret->prot = (unsigned) (tp & REC_PROT);
        ret->contiguous = last - iova + 1;
        if (tp & REC_CONT)
                ret->contiguous += follow(s, last, tp, (tp & REC_TARGET) + (last - first + 1));
        return 0;
}

/* The answer of mapping @id, which the index found at @iova; the thread's hint remembers it. */
static _always_inline_ int resolve_id(const struct iom_space *s, uint32_t id, uint64_t iova,
                                      unsigned access, struct hit *ret) {
        const struct rec *r = space_rec(s, id);
        uint64_t first = r->iova, last = r->last;
        uint32_t gen;

        if (iova < first || iova > last)
                return -ENOENT;
        gen = LOAD(&r->gen);
        if (!(gen & 1))
                hint = (struct hint){s, s->serial, first, last, r, gen};
        return resolve_rec(s, r, first, last, iova, access, ret);
}

/* Translate's body, inside a read-side section; @iova lies in the aperture: the thread's hint,
 * then the index, then a record. */
static _always_inline_ int resolve(const struct iom_space *s, uint64_t iova, unsigned access,
                                   struct hit *ret) {
        struct direct d = {};
        uint32_t id;

        if (hint.space == s && hint.serial == s->serial &&
            iova - hint.first <= hint.last - hint.first && LOAD_RELAXED(&hint.rec->gen) == hint.gen)
                return resolve_rec(s, hint.rec, hint.first, hint.last, iova, access, ret);
        id = space_index_lookup(s, iova >> IOM_SPACE_PAGE_SHIFT, &d);
        if (d.found)
                return resolve_direct(iova, access, &d, ret);
        if (!id)
                return -ENOENT;
        return resolve_id(s, id, iova, access, ret);
}

static void mark_dirty(const struct iom_space *s, uint64_t first, uint64_t last) {
        struct iom_dirty *d = LOAD(&s->dirty);

        if (d)
                space_dirty_mark(d, first >> IOM_SPACE_PAGE_SHIFT, last >> IOM_SPACE_PAGE_SHIFT);
}

/* A translate's answer where the caller wants it. */
static _always_inline_ void hit_to(const struct hit *h, uint64_t *ret_target, unsigned *ret_prot,
                                   uint64_t *ret_contiguous) {
        if (ret_target)
                *ret_target = h->target;
        if (ret_prot)
                *ret_prot = h->prot;
        if (ret_contiguous)
                *ret_contiguous = h->contiguous;
}

/* Every translate: the thread's hint, the whole index, records, dirty marking, errors. */
static __attribute__((noinline)) int translate_full(const struct iom_space *s, uint64_t iova,
                                                    unsigned access, uint64_t *ret_target,
                                                    unsigned *ret_prot, uint64_t *ret_contiguous) {
        struct hit h;
        int r;

        if (_unlikely_(!s || access == 0 || access & ~IOM_SPACE_RW))
                return -EINVAL;
        if (_unlikely_(iova < s->first || iova > s->last))
                return -ERANGE;
        iom_rcu_read_lock();
        r = resolve(s, iova, access, &h);
        if (r >= 0 && access & IOM_SPACE_WRITE)
                mark_dirty(s, iova, iova);
        iom_rcu_read_unlock();
        if (r < 0)
                return r;
        hit_to(&h, ret_target, ret_prot, ret_contiguous);
        return 0;
}

/* What the index answers of @page alone: the small form's piece (a space of few mappings), or,
 * found through radix and packed nodes only, a linear leaf (guest RAM mapped page by page) or
 * a one-page piece in a packed node's line (pages strewn over the space, a guest's DMA
 * buffers). False: the full way must look. It walks on
 * its own rather than through index_walk(), which also handles mappings, compacts and the
 * writer's filter: that costs 16 more instructions a translate, about a fifth of a scattered
 * translate's time when it was measured (bench-mapping says what it is today). The line
 * itself is read by line_read(), as index_walk() reads it. */
static _always_inline_ bool fast_direct(const struct iom_space *s, const struct small *sm,
                                        uint64_t page, struct direct *ret) {
        const struct node *n;

        if (sm)
                return small_direct(sm, page, ret);
        /* Written before the small and the hashed form were unpublished: read after. */
        n = s->root;
        for (unsigned shift = NODE_BITS * s->top;; shift -= NODE_BITS) {
                uint64_t v, h, e;
                int k;

                if (shift == 0) {
                        uint64_t linear = LOAD(&n->linear);

                        *ret = (struct direct){true, linear, page & ~(uint64_t) (NODE_SLOTS - 1),
                                               page | (NODE_SLOTS - 1)};
                        return linear != 0;
                }
                v = LOAD(&n->slot[(page >> shift) & (NODE_SLOTS - 1)]);
                if (!v || v & (SLOT_MAP | SLOT_COMPACT))
                        return false;
                if (!(v & SLOT_PACKED)) {
                        n = (const struct node *) v;
                        continue;
                }
                shift -= NODE_BITS;
                *ret = (struct direct){true, 0, page, page};
                if (!line_read(slot_packed(v), shift, page, &h, &e, &k) || h & LINE_SLOT ||
                    k == 0 || (page & ((UINT64_C(1) << shift) - 1)) != ce_off(e))
                        return false;
                ret->tp = (ce_payload(e) << IOM_SPACE_PAGE_SHIFT) | (e & CE_PROT);
                return e & CE_PROT;
        }
}

/* What hashed form @h answers of @iova for @access, straight into the caller's pointers: a probe
 * and the slot's target | prot, no bounds (a page the table holds is in the space), no piece
 * to decode. False: the full way must look (nothing there, or not allowed). */
static _always_inline_ bool hash_answer(const struct hash *h, uint64_t iova, unsigned access,
                                        uint64_t *ret_target, unsigned *ret_prot,
                                        uint64_t *ret_contiguous) {
        uint64_t page = iova >> IOM_SPACE_PAGE_SHIFT, offset = iova & (IOM_SPACE_PAGE_SIZE - 1);
        int64_t i = hash_find(h, page);
        uint64_t tp;

        if (i < 0)
                return false;
        tp = LOAD_RELAXED(&h->slot[i].tp);
        if (access & ~tp & REC_PROT)
                return false;
        if (ret_target)
                *ret_target = (tp & REC_TARGET) | offset;
        if (ret_prot)
                *ret_prot = (unsigned) (tp & REC_PROT);
        if (ret_contiguous)
                *ret_contiguous = IOM_SPACE_PAGE_SIZE - offset;
        return true;
}

/* Translate answers what the index answers alone (hash_answer(), fast_direct()) in few
 * instructions and no call, the rest the full way (translate_full()). Independent translates
 * overlap their cache misses only as far ahead as the processor looks, so the fewer
 * instructions each takes, the more of them wait for memory at once. */
_public_ int iom_space_translate(const struct iom_space *s, uint64_t iova, unsigned access,
                                 uint64_t *ret_target, unsigned *ret_prot,
                                 uint64_t *ret_contiguous) {
        if (_likely_(s && access - 1 < IOM_SPACE_RW &&
                     !(access & IOM_SPACE_WRITE && LOAD_RELAXED(&s->dirty)) &&
                     iom_rcu_registered())) {
                const struct small *sm;
                const struct hash *hs;
                struct direct d;
                struct hit h;

                iom_rcu_read_lock_registered();
                sm = LOAD(&s->small);
                /* Published before the small form was unpublished: read after. */
                hs = sm ? NULL : LOAD(&s->hash);
                if (hs) {
                        if (hash_answer(hs, iova, access, ret_target, ret_prot, ret_contiguous)) {
                                iom_rcu_read_unlock();
                                return 0;
                        }
                } else if (iova - s->first <= s->last - s->first &&
                           fast_direct(s, sm, iova >> IOM_SPACE_PAGE_SHIFT, &d) &&
                           resolve_direct(iova, access, &d, &h) == 0) {
                        hit_to(&h, ret_target, ret_prot, ret_contiguous);
                        iom_rcu_read_unlock();
                        return 0;
                }
                iom_rcu_read_unlock();
        }
        return translate_full(s, iova, access, ret_target, ret_prot, ret_contiguous);
}

static int translate_sg_locked(const struct iom_space *s, uint64_t iova, uint64_t last,
                               unsigned access, struct iom_sg *sg, size_t n) {
        size_t count = 0;

        for (uint64_t pos = iova;;) {
                uint64_t chunk;
                struct hit h;
                int r;

                if (pos > s->last)
                        return -ERANGE;
                r = resolve(s, pos, access, &h);
                if (r < 0)
                        return r;
                chunk = MIN(h.contiguous, last - pos + 1);
                if (count > 0 && sg[count - 1].target + sg[count - 1].size == h.target)
                        sg[count - 1].size += chunk;
                else if (count == n)
                        return -ENOBUFS;
                else
                        sg[count++] = (struct iom_sg){pos, h.target, chunk};
                if (access & IOM_SPACE_WRITE)
                        mark_dirty(s, pos, pos + chunk - 1);
                if (chunk == last - pos + 1)
                        return (int) count;
                pos += chunk;
        }
}

_public_ int iom_space_translate_sg(const struct iom_space *s, uint64_t iova, uint64_t length,
                                    unsigned access, struct iom_sg *ret_sg, size_t n) {
        int r;

        if (!s || length == 0 || access == 0 || access & ~IOM_SPACE_RW || (n > 0 && !ret_sg))
                return -EINVAL;
        if (iova < s->first || iova > s->last)
                return -ERANGE;
        if (iova + length - 1 < iova)
                return -ERANGE;
        iom_rcu_read_lock();
        r = translate_sg_locked(s, iova, iova + length - 1, access, ret_sg,
                                MIN(n, (size_t) INT32_MAX));
        iom_rcu_read_unlock();
        return r;
}

_public_ int iom_space_set_dirty_tracking(struct iom_space *s, bool enable) {
        struct iom_dirty *d = NULL, *old;

        if (!s)
                return -EINVAL;
        /* O(1): the bitmaps grow as pages are written (iom-space-dirty.c). */
        if (enable && !(d = space_dirty_new(s)))
                return -ENOMEM;
        pthread_mutex_lock(&s->lock);
        old = s->dirty;
        STORE(&s->dirty, d);
        if (old) {
                iom_rcu_synchronize();
                space_dirty_free(old);
        }
        pthread_mutex_unlock(&s->lock);
        return 0;
}

_public_ bool iom_space_get_dirty_tracking(const struct iom_space *s) {
        return s && LOAD(&s->dirty);
}

_public_ int iom_space_get_dirty(struct iom_space *s, uint64_t iova, uint64_t size, bool clear,
                                 uint8_t *bitmap, size_t bitmap_size) {
        uint64_t pages;
        int r;

        if (!s || !bitmap)
                return -EINVAL;
        r = check_range(s, iova, size, IOM_SPACE_PAGE_SIZE);
        if (r < 0)
                return r;
        pages = size >> IOM_SPACE_PAGE_SHIFT;
        if (bitmap_size < (pages + 7) / 8)
                return -ENOBUFS;
        pthread_mutex_lock(&s->lock);
        if (!s->dirty)
                r = iom_debug_errno(EINVAL, "dirty tracking is off");
        else {
                memset(bitmap, 0, (pages + 7) / 8);
                space_dirty_collect(s->dirty, iova >> IOM_SPACE_PAGE_SHIFT,
                                    (iova + size - 1) >> IOM_SPACE_PAGE_SHIFT, clear, bitmap);
                space_dirty_refill(s->dirty);
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

_public_ int iom_space_next_mapping(const struct iom_space *s, uint64_t iova,
                                    struct iom_mapping *ret) {
        const struct small *sm;
        const struct hash *h;
        uint64_t page;
        uint32_t id;
        int r = -ENOENT;

        if (!s || !ret)
                return -EINVAL;
        if (iova > s->last)
                return -ENOENT;
        page = MAX(iova, s->first) >> IOM_SPACE_PAGE_SHIFT;
        iom_rcu_read_lock();
        sm = LOAD(&s->small);
        /* Published before the small form was unpublished: read after. A form never comes
         * back, so without either it is the tree. */
        h = sm ? NULL : LOAD(&s->hash);
        if (h)
                r = space_hash_next(s, h, page, UINT64_MAX, ret) ? 0 : -ENOENT;
        else if ((id = space_index_next(s, sm, page, UINT64_MAX))) {
                clip(s, id, 0, UINT64_MAX, ret);
                r = 0;
        }
        iom_rcu_read_unlock();
        return r;
}

_public_ void iom_space_get_stats(const struct iom_space *s, struct iom_space_stats *ret) {
        struct iom_space *w = (struct iom_space *) s;

        pthread_mutex_lock(&w->lock);
        *ret = (struct iom_space_stats){
                .mappings = s->n_mappings,
                .mapped_bytes = s->mapped_bytes,
                .pinned_bytes = s->mapped_bytes,
                .memory_bytes = s->memory_bytes + space_dirty_memory(s->dirty) +
                                s->n_reserved * sizeof(s->reserved[0]),
                .dirty_overflows = space_dirty_overflows(s->dirty),
        };
        pthread_mutex_unlock(&w->lock);
}
