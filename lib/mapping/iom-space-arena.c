/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where a space's index and records live: arenas carved in order and freed only with the
 * space, the large ones 2 MiB-aligned and advised onto transparent huge pages.
 *
 * Why: a translate over a large space is a chain of dependent loads into tens of MiB of
 * nodes, compacts and records. Under nested paging (a VM) each TLB miss on that chain costs a
 * two-dimensional page walk, as much again as the cache miss; on 2 MiB pages the whole index
 * fits the TLB. Small spaces start with small arenas and pay no huge page. Objects are never
 * returned to the arena: the writer's pools (iom-space-index.c) keep and reuse them. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "iom-space-internal.h"
#include "macro.h"

#define ARENA_FIRST (UINT64_C(2) << 10)
#define ARENA_HUGE (UINT64_C(2) << 20)
#define ARENA_ALIGN 64
#define ALIGN_TO(x, a) (((x) + (a) -1) & ~((size_t) (a) -1))

struct arena {
        struct arena *next;
        size_t size, used;
};

/* @size bytes from the kernel, aligned to ARENA_HUGE: map one huge page more and trim. */
static void *map_huge(size_t size) {
        uint8_t *p = mmap(NULL, size + ARENA_HUGE, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        size_t head;

        if (p == MAP_FAILED)
                return NULL;
        head = ALIGN_TO((uintptr_t) p, ARENA_HUGE) - (uintptr_t) p;
        if (head > 0)
                (void) munmap(p, head);
        (void) munmap(p + head + size, ARENA_HUGE - head);
        (void) madvise(p + head, size, MADV_HUGEPAGE);
        return p + head;
}

static struct arena *arena_new(size_t size) {
        struct arena *a = size >= ARENA_HUGE ? map_huge(size) : aligned_alloc(ARENA_ALIGN, size);

        if (!a)
                return NULL;
        a->size = size;
        a->used = ALIGN_TO(sizeof(*a), ARENA_ALIGN);
        return a;
}

void *space_arena_alloc(struct iom_space *s, size_t size) {
        struct arena *a = s->arenas;
        void *p;

        size = ALIGN_TO(size, ARENA_ALIGN);
        if (!a || a->size - a->used < size) {
                size_t want = a ? MIN(a->size * 2, ARENA_HUGE) : ARENA_FIRST;

                while (want - ALIGN_TO(sizeof(*a), ARENA_ALIGN) < size)
                        want *= 2;
                a = arena_new(want);
                if (!a)
                        return NULL;
                a->next = s->arenas;
                s->arenas = a;
                s->memory_bytes += want;
        }
        p = (uint8_t *) a + a->used;
        a->used += size;
        return memset(p, 0, size);
}

void *space_big_alloc(size_t size) {
        void *p;

        if (size >= ARENA_HUGE)
                return map_huge(ALIGN_TO(size, IOM_SPACE_PAGE_SIZE));
        p = aligned_alloc(ARENA_ALIGN, ALIGN_TO(size, ARENA_ALIGN));
        return p ? memset(p, 0, size) : NULL;
}

void space_big_free(void *p, size_t size) {
        if (size >= ARENA_HUGE)
                (void) munmap(p, ALIGN_TO(size, IOM_SPACE_PAGE_SIZE));
        else
                free(p);
}

/* The record chunks of ARENA_HUGE and more are mapped on their own, exactly: carved from an
 * arena, each would leave the tail of the arena before it unused, and its own. */
static bool rec_chunk_huge(unsigned c) {
        return sizeof(struct rec) << (c + REC_FIRST_SHIFT) >= ARENA_HUGE;
}

struct rec *space_rec_chunk_alloc(struct iom_space *s, unsigned c) {
        size_t size = sizeof(struct rec) << (c + REC_FIRST_SHIFT);
        void *p = rec_chunk_huge(c) ? map_huge(size) : space_arena_alloc(s, size);

        if (p && rec_chunk_huge(c))
                s->memory_bytes += size;
        return p;
}

void space_arena_free_all(struct iom_space *s) {
        for (unsigned c = 0; c < REC_CHUNKS; c++)
                if (s->recs[c] && rec_chunk_huge(c))
                        (void) munmap(s->recs[c], sizeof(struct rec) << (c + REC_FIRST_SHIFT));
        while (s->arenas) {
                struct arena *a = s->arenas;

                s->arenas = a->next;
                if (a->size >= ARENA_HUGE)
                        (void) munmap(a, a->size);
                else
                        free(a);
        }
}
