/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dirty page tracking for live migration: a sparse radix of 64-bit-word bitmaps with a summary
 * word per leaf, marked lock-free by translate and read (and cleared) by get_dirty. */
#include <stdlib.h>
#include <string.h>

#include "iom-space-internal.h"
#include "macro.h"

/* Layout. A leaf covers 4096 pages (16 MiB of IOVA): 64 words of one bit per page, and a
 * summary word whose bit w says word w may be non-zero. Interior nodes hold NODE_SLOTS
 * pointers; interior level l indexes page bits 12 + 9l and up. Leaves exist for every page
 * mapped since tracking was turned on, allocated by the writer before the mapping is
 * published, so marking never allocates, and they stay (with their bits) until tracking is
 * turned off or on again: pages unmapped before they were read keep their bits.
 *
 * Marking sets the page's bit (a plain load first, so a page already dirty costs no locked
 * instruction), then the summary bit. Clearing clears the summary bit first, then the word's
 * bits in range, and sets the summary bit again if the word kept other bits: a concurrent
 * marker either finds the summary bit cleared and sets it, or its bit is taken by this read;
 * so "word non-zero => summary bit set" holds whenever nobody is in between. */

#define LEAF_SHIFT 12
#define LEAF_WORDS 64

struct dleaf {
        uint64_t summary;
        uint64_t w[LEAF_WORDS];
};

struct dnode {
        void *slot[NODE_SLOTS];
};

struct iom_dirty {
        unsigned levels; /* interior levels, >= 1 */
        uint64_t memory;
        struct dnode root;
};

static unsigned node_shift(unsigned l) {
        return LEAF_SHIFT + NODE_BITS * l;
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
        return d;
}

static void dnode_free(struct dnode *n, unsigned l) {
        for (unsigned i = 0; i < NODE_SLOTS; i++) {
                if (!n->slot[i])
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
        free(d);
        return NULL;
}

int space_dirty_populate(struct iom_dirty *d, uint64_t first_page, uint64_t last_page) {
        for (uint64_t leaf = first_page >> LEAF_SHIFT; leaf <= last_page >> LEAF_SHIFT; leaf++) {
                uint64_t page = leaf << LEAF_SHIFT;
                struct dnode *n = &d->root;

                for (unsigned l = d->levels - 1;; l--) {
                        void **slot = &n->slot[(page >> node_shift(l)) & (NODE_SLOTS - 1)];
                        size_t size = l > 0 ? sizeof(struct dnode) : sizeof(struct dleaf);

                        if (!*slot) {
                                void *p = calloc(1, size);

                                if (!p)
                                        return -ENOMEM;
                                d->memory += size;
                                STORE(slot, p);
                        }
                        if (l == 0)
                                break;
                        n = *slot;
                }
        }
        return 0;
}

static struct dleaf *leaf_of(const struct iom_dirty *d, uint64_t page) {
        const struct dnode *n = &d->root;

        for (unsigned l = d->levels - 1; l > 0; l--) {
                n = LOAD(&n->slot[(page >> node_shift(l)) & (NODE_SLOTS - 1)]);
                if (!n)
                        return NULL;
        }
        return LOAD(&n->slot[(page >> LEAF_SHIFT) & (NODE_SLOTS - 1)]);
}

/* Bits lo..hi (inclusive, 0..63) set. */
static uint64_t bit_range(unsigned lo, unsigned hi) {
        return (hi == 63 ? ~UINT64_C(0) : (UINT64_C(1) << (hi + 1)) - 1) &
               ~((UINT64_C(1) << lo) - 1);
}

void space_dirty_mark(const struct iom_dirty *d, uint64_t first_page, uint64_t last_page) {
        for (uint64_t p = first_page; p <= last_page;) {
                uint64_t e = MIN(p | 63, last_page);
                struct dleaf *leaf = leaf_of(d, p);

                if (leaf) {
                        unsigned w = (p >> 6) & (LEAF_WORDS - 1);
                        uint64_t mask = bit_range(p & 63, e & 63);

                        if ((LOAD_RELAXED(&leaf->w[w]) & mask) != mask) {
                                (void) __atomic_fetch_or(&leaf->w[w], mask, __ATOMIC_RELAXED);
                                if (!(LOAD_RELAXED(&leaf->summary) & (UINT64_C(1) << w)))
                                        (void) __atomic_fetch_or(&leaf->summary, UINT64_C(1) << w,
                                                                 __ATOMIC_RELAXED);
                        }
                }
                if (e == UINT64_MAX)
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

struct collect {
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

static void collect_node(const struct collect *c, struct dnode *n, unsigned l, uint64_t base) {
        unsigned shift = node_shift(l);
        uint64_t i_lo = c->first > base ? (c->first - base) >> shift : 0;
        uint64_t i_hi = MIN((uint64_t) NODE_SLOTS - 1, (c->last - base) >> shift);

        for (uint64_t i = i_lo; i <= i_hi; i++) {
                void *child = LOAD(&n->slot[i]);
                uint64_t cbase = base + (i << shift);

                if (!child)
                        continue;
                if (l == 0)
                        collect_leaf(c, child, cbase);
                else
                        collect_node(c, child, l - 1, cbase);
        }
}

void space_dirty_collect(struct iom_dirty *d, uint64_t first_page, uint64_t last_page, bool clear,
                         uint8_t *bitmap) {
        struct collect c = {
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
