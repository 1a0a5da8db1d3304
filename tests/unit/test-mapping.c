/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the mapping core's rules (lib/mapping/iom-space.h), one rule per test; and of
 * the shapes its index takes, which only speed depends on (iom-space-internal.h). */
#include <time.h>

#include "iom-space-internal.h"
#include "iom-space.h"
#include "tests.h"

#define PAGE IOM_SPACE_PAGE_SIZE
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)

static struct iom_space *space_new(uint64_t max_mappings, uint64_t max_pinned) {
        struct iom_space_config c;
        struct iom_space *s = NULL;

        iom_space_config_init(&c);
        c.max_mappings = max_mappings;
        c.max_pinned_bytes = max_pinned;
        if (iom_space_new(&c, &s) < 0)
                abort();
        return s;
}

static int translate(struct iom_space *s, uint64_t iova, unsigned access, uint64_t *target,
                     uint64_t *contiguous) {
        unsigned prot;

        return iom_space_translate(s, iova, access, target, &prot, contiguous);
}

static void test_config(void) {
        struct iom_space_config c;
        struct iom_space *s;
        uint64_t ranges[4][2];

        ASSERT_EQ(iom_space_new(NULL, &s), 0);
        iom_space_get_config(s, &c);
        ASSERT_EQ(c.aperture_first, 0);
        ASSERT_EQ(c.aperture_last, (UINT64_C(1) << 48) - 1);
        ASSERT_EQ(c.page_sizes, PAGE | 2 * MiB | GiB);
#if defined(__x86_64__) || defined(__i386__)
        ASSERT_EQ(iom_space_get_reserved(s, ranges, 4), 1);
        ASSERT_EQ(ranges[0][0], 0xfee00000);
        ASSERT_EQ(ranges[0][1], 0xfeefffff);
#endif
        iom_space_free(s);

        iom_space_config_init(&c);
        c.aperture_first = 8 * PAGE;
        c.aperture_last = 4 * PAGE - 1;
        ASSERT_EQ(iom_space_new(&c, &s), -EINVAL); /* empty */
        c.aperture_last = 16 * PAGE;
        ASSERT_EQ(iom_space_new(&c, &s), -EINVAL); /* last not a page's last byte */
        c.aperture_last = 16 * PAGE - 1;
        c.page_sizes = 2048;
        ASSERT_EQ(iom_space_new(&c, &s), -EINVAL); /* no page of 4 KiB or more */
        c.page_sizes = PAGE;
        c.max_mappings = 0;
        ASSERT_EQ(iom_space_new(&c, &s), -EINVAL);
        ASSERT_EQ(iom_space_free(NULL) == NULL, 1);
}

static void test_alignment(void) {
        struct iom_space *s = space_new(1000, UINT64_MAX);
        uint64_t n = 1;

        ASSERT_EQ(iom_space_map(s, PAGE + 1, PAGE, 0, IOM_SPACE_RW), -EINVAL);
        ASSERT_EQ(iom_space_map(s, PAGE, PAGE + 512, 0, IOM_SPACE_RW), -EINVAL);
        ASSERT_EQ(iom_space_map(s, PAGE, PAGE, 123, IOM_SPACE_RW), -EINVAL);
        ASSERT_EQ(iom_space_map(s, PAGE, 0, 0, IOM_SPACE_RW), -EINVAL);
        ASSERT_EQ(iom_space_map(s, PAGE, PAGE, 0, 0), -EINVAL);
        ASSERT_EQ(iom_space_map(s, PAGE, PAGE, 0, 4), -EINVAL);
        ASSERT_EQ(iom_space_map(s, PAGE, 2 * PAGE, UINT64_MAX - PAGE + 1, 1), -EINVAL); /* wraps */
        ASSERT_EQ(iom_space_unmap(s, PAGE + 8, PAGE, &n), -EINVAL);
        ASSERT_EQ(iom_space_unmap(s, PAGE, 0, &n), -EINVAL);
        ASSERT_EQ(n, 1); /* untouched on error */
        ASSERT_EQ(iom_space_map(s, PAGE, PAGE, 0, IOM_SPACE_RW), 0);
        ASSERT_EQ(iom_space_unmap(s, 0, 4 * PAGE, &n), 0);
        ASSERT_EQ(n, PAGE);
        iom_space_free(s);
}

static void test_aperture(void) {
        struct iom_space_config c;
        struct iom_space *s;
        uint64_t t, len;

        iom_space_config_init(&c);
        c.aperture_first = 16 * PAGE;
        c.aperture_last = GiB - 1;
        ASSERT_EQ(iom_space_new(&c, &s), 0);
        ASSERT_EQ(iom_space_map(s, 0, PAGE, 0, 1), -EINVAL);              /* below */
        ASSERT_EQ(iom_space_map(s, 15 * PAGE, 2 * PAGE, 0, 1), -EINVAL);  /* straddles start */
        ASSERT_EQ(iom_space_map(s, GiB - PAGE, 2 * PAGE, 0, 1), -EINVAL); /* straddles end */
        ASSERT_EQ(iom_space_map(s, GiB - PAGE, PAGE, 7 * PAGE, 1), 0);    /* last page */
        ASSERT_EQ(translate(s, GiB - 1, 1, &t, &len), 0);
        ASSERT_EQ(t, 8 * PAGE - 1);
        ASSERT_EQ(len, 1);
        ASSERT_EQ(translate(s, GiB, 1, &t, &len), -ERANGE);
        ASSERT_EQ(translate(s, 0, 1, &t, &len), -ERANGE);
        iom_space_free(s);
}

static void test_overlap(void) {
        struct iom_space *s = space_new(1000, UINT64_MAX);
        uint64_t t, len;

        ASSERT_EQ(iom_space_map(s, 16 * PAGE, 8 * PAGE, MiB, IOM_SPACE_RW), 0);
        ASSERT_EQ(iom_space_map(s, 16 * PAGE, 8 * PAGE, 0, IOM_SPACE_RW), -EEXIST); /* same */
        ASSERT_EQ(iom_space_map(s, 12 * PAGE, 5 * PAGE, 0, IOM_SPACE_RW), -EEXIST); /* head */
        ASSERT_EQ(iom_space_map(s, 23 * PAGE, 5 * PAGE, 0, IOM_SPACE_RW), -EEXIST); /* tail */
        ASSERT_EQ(iom_space_map(s, 18 * PAGE, PAGE, 0, IOM_SPACE_RW), -EEXIST);     /* inside */
        ASSERT_EQ(iom_space_map(s, 0, 64 * PAGE, 0, IOM_SPACE_RW), -EEXIST);        /* around */
        ASSERT_EQ(iom_space_map(s, 24 * PAGE, PAGE, 0, IOM_SPACE_RW), 0);           /* beside */
        ASSERT_EQ(translate(s, 16 * PAGE, 3, &t, &len), 0);
        ASSERT_EQ(t, MiB); /* never replaced */
        iom_space_free(s);
}

static void test_reserved(void) {
        struct iom_space *s = space_new(1000, UINT64_MAX);
        uint64_t ranges[4][2];
        size_t n;

#if defined(__x86_64__) || defined(__i386__)
        ASSERT_EQ(iom_space_map(s, 0xfee00000, PAGE, 0, 1), -EADDRNOTAVAIL);
        ASSERT_EQ(iom_space_map(s, 0xfeeff000, PAGE, 0, 1), -EADDRNOTAVAIL);
        ASSERT_EQ(iom_space_map(s, 0xfe000000, 16 * MiB, 0, 1), -EADDRNOTAVAIL);
        ASSERT_EQ(iom_space_map(s, 0xfedff000, PAGE, 0, 1), 0);
        ASSERT_EQ(iom_space_map(s, 0xfef00000, PAGE, 0, 1), 0);
#endif
        ASSERT_EQ(iom_space_add_reserved(s, GiB, GiB + 2 * MiB - 1), 0);
        ASSERT_EQ(iom_space_add_reserved(s, 5 * PAGE, 6 * PAGE), -EINVAL); /* misaligned end */
        ASSERT_EQ(iom_space_map(s, GiB + MiB, PAGE, 0, 1), -EADDRNOTAVAIL);
        ASSERT_EQ(iom_space_map(s, GiB - PAGE, 2 * PAGE, 0, 1), -EADDRNOTAVAIL);
        ASSERT_EQ(iom_space_map(s, 4 * PAGE, PAGE, 0, 1), 0);
        ASSERT_EQ(iom_space_add_reserved(s, 0, 8 * PAGE - 1), -EBUSY); /* holds a mapping */
        n = iom_space_get_reserved(s, ranges, 4);
        ASSERT_EQ(n, 2);
#if defined(__x86_64__) || defined(__i386__)
        ASSERT_EQ(ranges[0][0], GiB); /* in address order */
        ASSERT_EQ(ranges[1][0], 0xfee00000);
#endif
        iom_space_free(s);
}

static void test_split(void) {
        struct iom_space *s = space_new(1000, UINT64_MAX);
        struct iom_space_stats st;
        struct iom_mapping m;
        uint64_t t, len, n;

        ASSERT_EQ(iom_space_map(s, 0, 16 * PAGE, MiB, IOM_SPACE_RW), 0);
        ASSERT_EQ(iom_space_unmap(s, 4 * PAGE, 4 * PAGE, &n), 0);
        ASSERT_EQ(n, 4 * PAGE);
        iom_space_get_stats(s, &st);
        ASSERT_EQ(st.mappings, 2); /* a hole makes two */
        ASSERT_EQ(st.mapped_bytes, 12 * PAGE);
        ASSERT_EQ(st.pinned_bytes, 12 * PAGE);
        ASSERT_EQ(translate(s, 3 * PAGE + 5, 1, &t, &len), 0);
        ASSERT_EQ(t, MiB + 3 * PAGE + 5);
        ASSERT_EQ(len, PAGE - 5); /* ends at the hole */
        ASSERT_EQ(translate(s, 4 * PAGE, 1, &t, &len), -ENOENT);
        ASSERT_EQ(translate(s, 8 * PAGE, 1, &t, &len), 0);
        ASSERT_EQ(t, MiB + 8 * PAGE);
        ASSERT_EQ(len, 8 * PAGE);
        ASSERT_EQ(iom_space_next_mapping(s, 0, &m), 0);
        ASSERT_EQ(m.iova, 0);
        ASSERT_EQ(m.size, 4 * PAGE);
        ASSERT_EQ(iom_space_next_mapping(s, m.iova + m.size, &m), 0);
        ASSERT_EQ(m.iova, 8 * PAGE);
        ASSERT_EQ(m.target, MiB + 8 * PAGE);
        ASSERT_EQ(iom_space_next_mapping(s, m.iova + m.size, &m), -ENOENT);

        /* Across both pieces and a hole: only what was mapped counts. */
        ASSERT_EQ(iom_space_unmap(s, 2 * PAGE, 8 * PAGE, &n), 0);
        ASSERT_EQ(n, 4 * PAGE);
        iom_space_get_stats(s, &st);
        ASSERT_EQ(st.mappings, 2);
        ASSERT_EQ(iom_space_unmap(s, 2 * PAGE, 8 * PAGE, &n), 0);
        ASSERT_EQ(n, 0);
        iom_space_free(s);
}

static void test_large(void) {
        struct iom_space *s = space_new(1000, UINT64_MAX);
        struct iom_space_stats st;
        uint64_t t, len, n;

        /* One 64 GiB mapping, not aligned to 1 GiB: one record. */
        ASSERT_EQ(iom_space_map(s, 4 * GiB + 2 * MiB, 64 * GiB, 128 * GiB, IOM_SPACE_RW), 0);
        iom_space_get_stats(s, &st);
        ASSERT_EQ(st.mappings, 1);
        ASSERT_TRUE(st.memory_bytes < 2 * MiB);
        ASSERT_EQ(translate(s, 68 * GiB + 2 * MiB - 1, 2, &t, &len), 0);
        ASSERT_EQ(t, 192 * GiB - 1);
        ASSERT_EQ(len, 1);
        ASSERT_EQ(iom_space_unmap(s, 20 * GiB, PAGE, &n), 0);
        ASSERT_EQ(n, PAGE);
        ASSERT_EQ(translate(s, 20 * GiB - 1, 1, &t, &len), 0);
        ASSERT_EQ(len, 1);
        ASSERT_EQ(translate(s, 20 * GiB + PAGE, 1, &t, &len), 0);
        ASSERT_EQ(t, 128 * GiB + 16 * GiB - 2 * MiB + PAGE);
        iom_space_get_stats(s, &st);
        ASSERT_EQ(st.mappings, 2);
        ASSERT_EQ(st.mapped_bytes, 64 * GiB - PAGE);
        iom_space_free(s);
}

static void test_limits(void) {
        struct iom_space *s = space_new(2, 8 * PAGE);
        struct iom_space_stats st;
        uint64_t n;

        ASSERT_EQ(iom_space_map(s, 0, 4 * PAGE, 0, 1), 0);
        ASSERT_EQ(iom_space_map(s, 8 * PAGE, 5 * PAGE, 0, 1), -EDQUOT); /* 9 pages pinned */
        ASSERT_EQ(iom_space_map(s, 8 * PAGE, 4 * PAGE, 0, 1), 0);
        ASSERT_EQ(iom_space_map(s, 16 * PAGE, PAGE, 0, 1), -ENOSPC); /* third mapping */
        ASSERT_EQ(iom_space_unmap(s, PAGE, PAGE, &n), -ENOSPC);      /* split: a third */
        iom_space_get_stats(s, &st);
        ASSERT_EQ(st.mappings, 2); /* nothing changed */
        ASSERT_EQ(st.pinned_bytes, 8 * PAGE);
        ASSERT_EQ(iom_space_unmap(s, 0, PAGE, &n), 0); /* trims, no split */
        ASSERT_EQ(n, PAGE);
        ASSERT_EQ(iom_space_map(s, 16 * PAGE, PAGE, 0, 1), -ENOSPC);
        ASSERT_EQ(iom_space_unmap(s, 0, 4 * PAGE, &n), 0);
        ASSERT_EQ(iom_space_map(s, 16 * PAGE, 4 * PAGE, 0, 1), 0); /* released on unmap */
        iom_space_free(s);
}

static void test_faults(void) {
        struct iom_space *s = space_new(1000, UINT64_MAX);
        uint64_t t = 77, len = 77;
        unsigned prot;

        ASSERT_EQ(iom_space_map(s, 0, PAGE, 0, IOM_SPACE_READ), 0);
        ASSERT_EQ(iom_space_map(s, PAGE, PAGE, PAGE, IOM_SPACE_WRITE), 0);
        ASSERT_EQ(translate(s, 2 * PAGE, 1, &t, &len), -ENOENT); /* unmapped */
        ASSERT_EQ(translate(s, 10, IOM_SPACE_WRITE, &t, &len), -EACCES);
        ASSERT_EQ(translate(s, 10, IOM_SPACE_RW, &t, &len), -EACCES);
        ASSERT_EQ(translate(s, PAGE, IOM_SPACE_READ, &t, &len), -EACCES);
        ASSERT_EQ(translate(s, PAGE, 0, &t, &len), -EINVAL);
        ASSERT_EQ(translate(s, PAGE, 8, &t, &len), -EINVAL);
        ASSERT_EQ(t, 77); /* outputs untouched on a fault */
        ASSERT_EQ(iom_space_translate(s, PAGE + 1, IOM_SPACE_WRITE, &t, &prot, &len), 0);
        ASSERT_EQ(prot, IOM_SPACE_WRITE);
        ASSERT_EQ(t, PAGE + 1);
        iom_space_free(s);
}

static void test_contiguous(void) {
        struct iom_space *s = space_new(1000, UINT64_MAX);
        uint64_t t, len;

        /* Three mappings whose targets continue, then one that does not. */
        ASSERT_EQ(iom_space_map(s, 0, PAGE, 10 * PAGE, 3), 0);
        ASSERT_EQ(iom_space_map(s, 2 * PAGE, 2 * PAGE, 12 * PAGE, 3), 0);
        ASSERT_EQ(iom_space_map(s, PAGE, PAGE, 11 * PAGE, 3), 0); /* fills the gap, later */
        ASSERT_EQ(iom_space_map(s, 4 * PAGE, PAGE, 99 * PAGE, 3), 0);
        ASSERT_EQ(translate(s, 100, 1, &t, &len), 0);
        ASSERT_EQ(t, 10 * PAGE + 100);
        /* At least to the end of its mapping, at most over the ones that continue it. */
        ASSERT_TRUE(len >= PAGE - 100 && len <= 4 * PAGE - 100);
        ASSERT_EQ(translate(s, 2 * PAGE, 1, &t, &len), 0);
        ASSERT_EQ(len, 2 * PAGE);
        /* Same target run but other permissions: stops there. */
        ASSERT_EQ(iom_space_map(s, 5 * PAGE, PAGE, 100 * PAGE, 1), 0);
        ASSERT_EQ(translate(s, 4 * PAGE, 1, &t, &len), 0);
        ASSERT_EQ(len, PAGE);
        /* The middle goes: the first stops at its own end again. */
        ASSERT_EQ(iom_space_unmap(s, PAGE, PAGE, NULL), 0);
        ASSERT_EQ(translate(s, 0, 1, &t, &len), 0);
        ASSERT_EQ(len, PAGE);
        iom_space_free(s);
}

static void test_sg(void) {
        struct iom_space *s = space_new(1000, UINT64_MAX);
        struct iom_sg sg[4];

        ASSERT_EQ(iom_space_map(s, 0, 2 * PAGE, 10 * PAGE, 3), 0);
        ASSERT_EQ(iom_space_map(s, 2 * PAGE, PAGE, 12 * PAGE, 3), 0);
        ASSERT_EQ(iom_space_map(s, 3 * PAGE, PAGE, 50 * PAGE, 1), 0);
        ASSERT_EQ(iom_space_map(s, 4 * PAGE, PAGE, 60 * PAGE, 3), 0);
        ASSERT_EQ(iom_space_translate_sg(s, 100, 4 * PAGE, 1, sg, 4), 3);
        ASSERT_EQ(sg[0].iova, 100);
        ASSERT_EQ(sg[0].target, 10 * PAGE + 100);
        ASSERT_EQ(sg[0].size, 3 * PAGE - 100); /* two mappings, one entry */
        ASSERT_EQ(sg[1].target, 50 * PAGE);
        ASSERT_EQ(sg[1].size, PAGE);
        ASSERT_EQ(sg[2].target, 60 * PAGE);
        ASSERT_EQ(sg[2].size, 100);
        ASSERT_EQ(iom_space_translate_sg(s, 100, 4 * PAGE, 1, sg, 2), -ENOBUFS);
        ASSERT_EQ(iom_space_translate_sg(s, 0, 4 * PAGE, 2, sg, 4), -EACCES); /* page 3 is RO */
        ASSERT_EQ(iom_space_translate_sg(s, 0, 6 * PAGE, 1, sg, 4), -ENOENT); /* hole at 5 */
        ASSERT_EQ(iom_space_translate_sg(s, 0, 0, 1, sg, 4), -EINVAL);
        iom_space_free(s);
}

static void test_dirty(void) {
        struct iom_space *s = space_new(1000, UINT64_MAX);
        struct iom_sg sg[4];
        uint8_t bm[3] = {0xff, 0xff, 0xaa};
        uint64_t t, len;

        ASSERT_EQ(iom_space_map(s, 0, 8 * PAGE, 0, 3), 0);
        ASSERT_EQ(iom_space_map(s, 12 * PAGE, 8 * PAGE, 0, 3), 0);
        ASSERT_EQ(iom_space_get_dirty(s, 0, 20 * PAGE, false, bm, 3), -EINVAL); /* off */
        ASSERT_EQ(iom_space_get_dirty_tracking(s), false);
        ASSERT_EQ(iom_space_set_dirty_tracking(s, true), 0);
        ASSERT_EQ(translate(s, PAGE + 9, IOM_SPACE_WRITE, &t, &len), 0);
        ASSERT_EQ(translate(s, 2 * PAGE, IOM_SPACE_READ, &t, &len), 0); /* reads do not mark */
        ASSERT_EQ(translate(s, 13 * PAGE, IOM_SPACE_RW, &t, &len), 0);
        ASSERT_EQ(iom_space_get_dirty(s, 0, 20 * PAGE, false, bm, 2), -ENOBUFS);
        ASSERT_EQ(iom_space_get_dirty(s, 0, 20 * PAGE, false, bm, 3), 0);
        ASSERT_EQ(bm[0], 0x02);
        ASSERT_EQ(bm[1], 0x20);
        ASSERT_EQ(bm[2], 0x00); /* exactly ceil(20 / 8) bytes, high bits zero */
        /* An unaligned range across the hole. */
        ASSERT_EQ(iom_space_get_dirty(s, PAGE, 13 * PAGE, false, bm, 2), 0);
        ASSERT_EQ(bm[0], 0x01);
        ASSERT_EQ(bm[1], 0x10);
        /* Unmapped before read: kept until read; clear clears. */
        ASSERT_EQ(iom_space_unmap(s, 12 * PAGE, 8 * PAGE, NULL), 0);
        ASSERT_EQ(iom_space_get_dirty(s, 0, 20 * PAGE, true, bm, 3), 0);
        ASSERT_EQ(bm[1], 0x20);
        ASSERT_EQ(iom_space_get_dirty(s, 0, 20 * PAGE, false, bm, 3), 0);
        ASSERT_EQ(bm[0] | bm[1] | bm[2], 0);
        /* translate_sg marks every page of a write. */
        ASSERT_EQ(iom_space_translate_sg(s, PAGE - 1, 3 * PAGE, IOM_SPACE_WRITE, sg, 4), 1);
        ASSERT_EQ(iom_space_get_dirty(s, 0, 8 * PAGE, false, bm, 1), 0);
        ASSERT_EQ(bm[0], 0x0f);
        /* On again: clean again. Off: get_dirty refused. */
        ASSERT_EQ(iom_space_set_dirty_tracking(s, true), 0);
        ASSERT_EQ(iom_space_get_dirty(s, 0, 8 * PAGE, false, bm, 1), 0);
        ASSERT_EQ(bm[0], 0);
        ASSERT_EQ(iom_space_set_dirty_tracking(s, false), 0);
        ASSERT_EQ(translate(s, 0, IOM_SPACE_WRITE, &t, &len), 0);
        ASSERT_EQ(iom_space_get_dirty(s, 0, 8 * PAGE, false, bm, 1), -EINVAL);
        ASSERT_EQ(iom_space_get_dirty(s, 1, 8 * PAGE, false, bm, 1), -EINVAL);
        iom_space_free(s);
}

static uint64_t now_ms(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Is page @p of [iova, ...) set in @bm? */
static bool bit(const uint8_t *bm, uint64_t iova, uint64_t p) {
        uint64_t i = (p - iova) / PAGE;

        return bm[i / 8] >> (i % 8) & 1;
}

static uint64_t dirty_memory(struct iom_space *s) {
        struct iom_space_stats st;

        iom_space_get_stats(s, &st);
        return st.memory_bytes;
}

static uint64_t overflows(struct iom_space *s) {
        struct iom_space_stats st;

        iom_space_get_stats(s, &st);
        return st.dirty_overflows;
}

/* Dirty bitmaps grow with what is written, not with what is mapped: 2^47 bytes mapped with
 * tracking on cost little and return at once, and writes in them are reported exactly. */
static void test_dirty_huge(void) {
        /* Pages 0, 1, 63 and 64 (two words of a leaf), one 5 GiB on, one half way, the last. */
        static const uint64_t written[] = {0,
                                           1,
                                           63,
                                           64,
                                           5 * GiB / PAGE + 17,
                                           (UINT64_C(1) << 34) + 9,
                                           (UINT64_C(1) << 35) - 1};
        const uint64_t base = UINT64_C(1) << 47;
        struct iom_space *s = space_new(1000, UINT64_MAX);
        uint64_t t0, before = dirty_memory(s), t, len;
        uint8_t bm[16];

        ASSERT_EQ(iom_space_set_dirty_tracking(s, true), 0);
        t0 = now_ms();
        ASSERT_EQ(iom_space_map(s, base, base, 0, IOM_SPACE_RW), 0);
        ASSERT_TRUE(now_ms() - t0 < 200);
        ASSERT_TRUE(dirty_memory(s) - before < MiB);
        /* Turning it on again over what is mapped costs as little. */
        t0 = now_ms();
        ASSERT_EQ(iom_space_set_dirty_tracking(s, true), 0);
        ASSERT_TRUE(now_ms() - t0 < 200);
        ASSERT_TRUE(dirty_memory(s) - before < MiB);

        for (size_t i = 0; i < ELEMENTSOF(written); i++)
                ASSERT_EQ(translate(s, base + written[i] * PAGE + 5, IOM_SPACE_WRITE, &t, &len), 0);
        ASSERT_EQ(translate(s, base + 2 * PAGE, IOM_SPACE_READ, &t, &len), 0);
        ASSERT_EQ(overflows(s), 0);
        ASSERT_TRUE(dirty_memory(s) - before < MiB);
        /* Each written page alone in its window of 128 pages (64 before it, where there are). */
        for (size_t i = 0; i < ELEMENTSOF(written); i++) {
                uint64_t from = base + (written[i] >= 64 ? written[i] - 64 : 0) * PAGE;

                from = MIN(from, 2 * base - 128 * PAGE);
                ASSERT_EQ(iom_space_get_dirty(s, from, 128 * PAGE, false, bm, sizeof(bm)), 0);
                for (uint64_t p = from; p < from + 128 * PAGE; p += PAGE) {
                        bool w = false;

                        for (size_t j = 0; j < ELEMENTSOF(written); j++)
                                w |= p == base + written[j] * PAGE;
                        ASSERT_EQ(bit(bm, from, p), w);
                }
        }
        iom_space_free(s);
}

/* Writes to more new places than the pools hold between two writer calls: each is recorded
 * (a whole span dirty where no bitmap was ready), none is lost; a clear resets what it covers
 * exactly, also inside such a span, and the rest of the span stays dirty. */
static void test_dirty_overflow(void) {
        const uint64_t base = 4 * GiB, size = 64 * GiB, stride = 16 * MiB + 5 * PAGE;
        size_t bytes = size / PAGE / 8, n = 0;
        struct iom_space *s = space_new(1000, UINT64_MAX);
        uint8_t *bm = malloc(bytes), win[2];
        uint64_t t, len, p, o;

        ASSERT_TRUE(bm);
        ASSERT_EQ(iom_space_map(s, base, size, 0, IOM_SPACE_RW), 0);
        ASSERT_EQ(iom_space_set_dirty_tracking(s, true), 0);
        /* Page base + n * stride, until the pools ran dry and well past. */
        for (; n < size / stride && overflows(s) < 8; n++)
                ASSERT_EQ(translate(s, base + n * stride, IOM_SPACE_WRITE, &t, &len), 0);
        ASSERT_TRUE(overflows(s) > 0);
        ASSERT_EQ(iom_space_get_dirty(s, base, size, false, bm, bytes), 0);
        for (size_t i = 0; i < n; i++)
                ASSERT_TRUE(bit(bm, base, base + i * stride));
        /* A superset: the last one's 16 MiB around it is dirty, page 0 of it too. */
        p = base + (n - 1) * stride;
        ASSERT_TRUE(bit(bm, base, p & ~(16 * MiB - 1)));

        /* Clear 16 pages around it: they read clean, the span's other pages still dirty. */
        ASSERT_EQ(iom_space_get_dirty(s, p - 8 * PAGE, 16 * PAGE, true, win, 2), 0);
        ASSERT_EQ(win[0] | win[1] << 8, 0xffff);
        ASSERT_EQ(iom_space_get_dirty(s, p - 8 * PAGE, 16 * PAGE, false, win, 2), 0);
        ASSERT_EQ(win[0] | win[1] << 8, 0);
        ASSERT_EQ(iom_space_get_dirty(s, p + 8 * PAGE, 16 * PAGE, false, win, 2), 0);
        ASSERT_EQ(win[0] | win[1] << 8, 0xffff);
        ASSERT_EQ(translate(s, p, IOM_SPACE_WRITE, &t, &len), 0);
        ASSERT_EQ(iom_space_get_dirty(s, p - 8 * PAGE, 16 * PAGE, false, win, 2), 0);
        ASSERT_EQ(win[0] | win[1] << 8, 0x100);

        /* Clear all: clean everywhere; the pools were refilled (and grew): writing the same
         * places again overflows no more, and reads back exactly. */
        ASSERT_EQ(iom_space_get_dirty(s, base, size, true, bm, bytes), 0);
        ASSERT_EQ(iom_space_get_dirty(s, base, size, false, bm, bytes), 0);
        for (size_t i = 0; i < bytes; i++)
                ASSERT_EQ(bm[i], 0);
        o = overflows(s);
        for (size_t i = 0; i < n; i++)
                ASSERT_EQ(translate(s, base + i * stride, IOM_SPACE_WRITE, &t, &len), 0);
        ASSERT_EQ(overflows(s), o);
        ASSERT_EQ(iom_space_get_dirty(s, base, size, true, bm, bytes), 0);
        for (uint64_t i = 0, k = 0; i < size / PAGE; i++) {
                bool w = k < n && i == k * stride / PAGE;

                ASSERT_EQ(bm[i / 8] >> (i % 8) & 1, w);
                k += w;
        }
        free(bm);
        iom_space_free(s);
}

/* The dirty structure stays within IOM_SPACE_DIRTY_MEMORY_MAX however much is written, and
 * past it writes are still all reported. */
static void test_dirty_bound(void) {
        const uint64_t base = 4 * GiB, size = UINT64_C(4) << 40, leaf = 16 * MiB;
        struct iom_space *s = space_new(1000, UINT64_MAX);
        uint64_t before, t, len, i;
        uint8_t bm[1];

        ASSERT_EQ(iom_space_map(s, base, size, 0, IOM_SPACE_RW), 0);
        before = dirty_memory(s);
        ASSERT_EQ(iom_space_set_dirty_tracking(s, true), 0);
        /* One page in every 16 MiB, the pools refilled every 256 writes. */
        for (i = 0; i < size / leaf; i++) {
                uint64_t iova = base + i * leaf + i % 4096 * PAGE;

                ASSERT_EQ(translate(s, iova, IOM_SPACE_WRITE, &t, &len), 0);
                if (i % 256 == 255)
                        ASSERT_EQ(iom_space_get_dirty(s, base, PAGE, false, bm, 1), 0);
        }
        ASSERT_TRUE(dirty_memory(s) - before <= IOM_SPACE_DIRTY_MEMORY_MAX);
        ASSERT_TRUE(dirty_memory(s) - before > IOM_SPACE_DIRTY_MEMORY_MAX / 2);
        ASSERT_TRUE(overflows(s) > 0);
        for (i = 0; i < size / leaf; i += 97) {
                uint64_t iova = base + i * leaf + i % 4096 * PAGE;

                ASSERT_EQ(iom_space_get_dirty(s, iova, PAGE, false, bm, 1), 0);
                ASSERT_EQ(bm[0], 1);
        }
        iom_space_free(s);
}

struct told {
        uint64_t iova[8], size[8];
        unsigned n;
};

static void on_unmapped(void *userdata, uint64_t iova, uint64_t size) {
        struct told *t = userdata;

        if (t->n < 8) {
                t->iova[t->n] = iova;
                t->size[t->n] = size;
        }
        t->n++;
}

static void test_subscribers(void) {
        struct iom_space *s = space_new(1000, UINT64_MAX);
        struct told t = {};

        ASSERT_EQ(iom_space_subscribe(s, on_unmapped, &t), 0);
        ASSERT_EQ(iom_space_map(s, 0, 2 * PAGE, 0, 3), 0);
        ASSERT_EQ(iom_space_map(s, 2 * PAGE, 2 * PAGE, 40 * PAGE, 3), 0);
        ASSERT_EQ(iom_space_map(s, 6 * PAGE, 2 * PAGE, 0, 3), 0);
        ASSERT_EQ(iom_space_unmap(s, PAGE, 6 * PAGE, NULL), 0);
        /* Told before unmap returned, one range per contiguous removed run. */
        ASSERT_EQ(t.n, 2);
        ASSERT_EQ(t.iova[0], PAGE);
        ASSERT_EQ(t.size[0], 3 * PAGE);
        ASSERT_EQ(t.iova[1], 6 * PAGE);
        ASSERT_EQ(t.size[1], PAGE);
        ASSERT_EQ(iom_space_unsubscribe(s, on_unmapped, &t), 0);
        ASSERT_EQ(iom_space_unsubscribe(s, on_unmapped, &t), -ENOENT);
        ASSERT_EQ(iom_space_unmap(s, 0, PAGE, NULL), 0);
        ASSERT_EQ(t.n, 2);
        /* Freeing a space tells subscribers of what was still mapped. */
        t.n = 0;
        ASSERT_EQ(iom_space_subscribe(s, on_unmapped, &t), 0);
        iom_space_free(s);
        ASSERT_EQ(t.n, 1);
        ASSERT_EQ(t.iova[0], 7 * PAGE);
}

struct fake_backend {
        int fail_map, fail_unmap_at;
        unsigned maps, unmaps;
        /* When set, an unmap while this space is not hashed is counted. */
        const struct iom_space *hashed;
        unsigned unhashed_unmaps;
};

static int backend_map(void *userdata, uint64_t iova, uint64_t size, uint64_t target,
                       unsigned prot) {
        struct fake_backend *b = userdata;

        b->maps++;
        return b->fail_map;
}

static int backend_unmap(void *userdata, uint64_t iova, uint64_t size) {
        struct fake_backend *b = userdata;

        if (b->hashed && !b->hashed->hash)
                b->unhashed_unmaps++;
        return ++b->unmaps == (unsigned) b->fail_unmap_at ? -EIO : 0;
}

static void test_backend(void) {
        struct iom_space *s = space_new(1000, UINT64_MAX);
        struct fake_backend b = {.fail_map = -EFAULT};
        struct iom_space_backend ops = {
                .flags = IOM_SPACE_BACKEND_NO_SPLIT,
                .map = backend_map,
                .unmap = backend_unmap,
        };
        struct iom_space_stats st;
        uint64_t t, len;

        ASSERT_EQ(iom_space_set_backend(s, &ops, &b), 0);
        ASSERT_EQ(iom_space_map(s, 0, PAGE, 0, 3), -EFAULT); /* kernel refused: no change */
        ASSERT_EQ(translate(s, 0, 1, &t, &len), -ENOENT);
        b.fail_map = 0;
        ASSERT_EQ(iom_space_map(s, 0, PAGE, 0, 3), 0);
        ASSERT_EQ(iom_space_map(s, PAGE, 2 * PAGE, 0, 3), 0);
        ASSERT_EQ(iom_space_unmap(s, 0, 2 * PAGE, NULL), -EINVAL); /* would bisect */
        b.fail_unmap_at = 2;
        ASSERT_EQ(iom_space_unmap(s, 0, 3 * PAGE, NULL), -EIO);
        ASSERT_EQ(b.maps, 4); /* the first piece was mapped back */
        iom_space_get_stats(s, &st);
        ASSERT_EQ(st.mappings, 2);
        ASSERT_EQ(translate(s, PAGE, 1, &t, &len), 0);
        b.fail_unmap_at = 0;
        ASSERT_EQ(iom_space_unmap(s, 0, 3 * PAGE, NULL), 0);
        iom_space_get_stats(s, &st);
        ASSERT_EQ(st.mappings, 0);
        iom_space_free(s);
}

/* The hashed form keeps no records: the backend is asked page by page from its slots, and
 * a refusal maps back, with their targets, the pages it had let go. */
static bool wrong_target;

static int backend_remap(void *userdata, uint64_t iova, uint64_t size, uint64_t target,
                         unsigned prot) {
        struct fake_backend *b = userdata;

        /* Page i lives at 2 GiB + 2i pages and goes to 7i pages, read and write. */
        if (iova >= 2 * GiB && target != (iova - 2 * GiB) / 2 * 7)
                wrong_target = true;
        return backend_map(b, iova, size, target, prot);
}

static void test_backend_hashed(void) {
        struct iom_space *s = space_new(1000, UINT64_MAX);
        struct fake_backend b = {};
        struct iom_space_backend ops = {
                .map = backend_remap,
                .unmap = backend_unmap,
        };
        struct iom_space_stats st;
        uint64_t t, len, removed;
        struct told told = {};

        ASSERT_EQ(iom_space_set_backend(s, &ops, &b), 0);
        ASSERT_EQ(iom_space_subscribe(s, on_unmapped, &told), 0);
        for (uint64_t i = 0; i < 2 * SMALL_MAX; i++)
                ASSERT_EQ(
                        iom_space_map(s, 2 * GiB + 2 * i * PAGE, PAGE, 7 * i * PAGE, IOM_SPACE_RW),
                        0);
        ASSERT_TRUE(s->hash && !s->root);
        ASSERT_EQ(b.maps, 2 * SMALL_MAX);
        /* Pages 0 to 9 hold mappings 0 to 4; the third unmap is refused. */
        b.fail_unmap_at = b.unmaps + 3;
        ASSERT_EQ(iom_space_unmap(s, 2 * GiB, 10 * PAGE, &removed), -EIO);
        ASSERT_EQ(b.maps, 2 * SMALL_MAX + 2); /* the first two, mapped back */
        ASSERT_TRUE(!wrong_target);
        iom_space_get_stats(s, &st);
        ASSERT_EQ(st.mappings, 2 * SMALL_MAX);
        ASSERT_EQ(translate(s, 2 * GiB + 2 * PAGE + 1, IOM_SPACE_READ, &t, &len), 0);
        ASSERT_EQ(t, 7 * PAGE + 1);
        b.fail_unmap_at = 0;
        b.unmaps = 0;
        ASSERT_EQ(iom_space_unmap(s, 2 * GiB, 10 * PAGE, &removed), 0);
        ASSERT_EQ(b.unmaps, 5);
        ASSERT_EQ(removed, 5 * PAGE);
        iom_space_get_stats(s, &st);
        ASSERT_EQ(st.mappings, 2 * SMALL_MAX - 5);
        ASSERT_EQ(st.mapped_bytes, (2 * SMALL_MAX - 5) * PAGE);
        ASSERT_EQ(translate(s, 2 * GiB + 2 * PAGE, IOM_SPACE_READ, &t, &len), -ENOENT);
        /* The refused unmap told nobody; the sparse one, each page on its own. */
        ASSERT_EQ(told.n, 5);
        for (unsigned i = 0; i < 5; i++) {
                ASSERT_EQ(told.iova[i], 2 * GiB + 2 * i * PAGE);
                ASSERT_EQ(told.size[i], PAGE);
        }
        /* 64 pages in a row, their targets not continuing each other: an unmap of all 64 is
         * one run through bit 63; of pages 1 to 64 with page 30 not mapped, a run from bit 0
         * and one through bit 63. */
        for (uint64_t i = 0; i < 64; i++)
                ASSERT_EQ(iom_space_map(s, 4 * GiB + i * PAGE, PAGE, 7 * i * PAGE, IOM_SPACE_RW),
                          0);
        ASSERT_TRUE(s->hash && !s->root);
        told.n = 0;
        ASSERT_EQ(iom_space_unmap(s, 4 * GiB, 64 * PAGE, &removed), 0);
        ASSERT_EQ(removed, 64 * PAGE);
        ASSERT_EQ(told.n, 1);
        ASSERT_EQ(told.iova[0], 4 * GiB);
        ASSERT_EQ(told.size[0], 64 * PAGE);
        for (uint64_t i = 1; i < 64; i++)
                ASSERT_EQ(iom_space_map(s, 4 * GiB + i * PAGE, PAGE, 7 * i * PAGE, IOM_SPACE_RW),
                          0);
        ASSERT_EQ(iom_space_unmap(s, 4 * GiB + 30 * PAGE, PAGE, &removed), 0);
        ASSERT_EQ(iom_space_map(s, 4 * GiB + 64 * PAGE, PAGE, 0, IOM_SPACE_RW), 0);
        told.n = 0;
        ASSERT_EQ(iom_space_unmap(s, 4 * GiB + PAGE, 64 * PAGE, &removed), 0);
        ASSERT_EQ(removed, 63 * PAGE);
        ASSERT_EQ(told.n, 2);
        ASSERT_EQ(told.iova[0], 4 * GiB + PAGE);
        ASSERT_EQ(told.size[0], 29 * PAGE);
        ASSERT_EQ(told.iova[1], 4 * GiB + 31 * PAGE);
        ASSERT_EQ(told.size[1], 34 * PAGE);
        ASSERT_TRUE(s->hash && !s->root);
        /* Freeing it unmaps every live page from the slots (no tree built on the way, which
         * takes memory), each page told; a refused page does not stop the others. */
        iom_space_get_stats(s, &st);
        b.unmaps = 0;
        b.fail_unmap_at = 2;
        b.hashed = s;
        told.n = 0;
        iom_space_free(s);
        ASSERT_EQ(b.unmaps, st.mappings);
        ASSERT_EQ(b.unhashed_unmaps, 0);
        ASSERT_EQ(told.n, st.mappings - 1);
}

static void test_scattered(void) {
        struct iom_space *s = space_new(100000, UINT64_MAX);
        struct iom_space_stats st;
        uint64_t x = 88172645463325252ull, t, len;

        /* 2000 pages strewn over 2^47 bytes, then 600 at one place to force the compact
         * form into radix nodes, then everything checked and removed. */
        for (unsigned i = 0; i < 2600; i++) {
                uint64_t iova;

                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                iova = i < 2000 ? (x % (UINT64_C(1) << 35)) * PAGE : (1u << 31) + i * PAGE;
                if (iom_space_map(s, iova, PAGE, iova, 3) == -EADDRNOTAVAIL)
                        continue;
        }
        iom_space_get_stats(s, &st);
        ASSERT_TRUE(st.mappings >= 2590);
        ASSERT_TRUE(st.memory_bytes / st.mappings < 400);
        x = 88172645463325252ull;
        for (unsigned i = 0; i < 2600; i++) {
                uint64_t iova;

                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                iova = i < 2000 ? (x % (UINT64_C(1) << 35)) * PAGE : (1u << 31) + i * PAGE;
                if (iova >= 0xfee00000 && iova <= 0xfeefffff)
                        continue;
                ASSERT_EQ(translate(s, iova + 5, 1, &t, &len), 0);
                ASSERT_EQ(t, iova + 5);
        }
        ASSERT_EQ(iom_space_unmap(s, 0, UINT64_C(1) << 47, NULL), 0);
        iom_space_get_stats(s, &st);
        ASSERT_EQ(st.mappings, 0);
        iom_space_free(s);
}

/* A 2 MiB leaf filled page by page with targets that continue each other is answered from
 * its summary: the same answers as page by page, until a change breaks the line. */
static void test_linear_leaf(void) {
        struct iom_space *s = space_new(100000, UINT64_MAX);
        uint64_t leaf = GiB, t, len;
        unsigned prot;

        for (unsigned p = 0; p < 512; p++)
                ASSERT_EQ(iom_space_map(s, leaf + p * PAGE, PAGE, 7 * GiB + p * PAGE, 3), 0);
        ASSERT_EQ(translate(s, leaf + 100 * PAGE + 5, 2, &t, &len), 0);
        ASSERT_EQ(t, 7 * GiB + 100 * PAGE + 5);
        ASSERT_TRUE(len >= PAGE - 5 && len <= 412 * PAGE - 5);
        /* One at the top of 48 bits too: page numbers there need more than 32 bits. */
        for (unsigned p = 0; p < 512; p++)
                ASSERT_EQ(iom_space_map(s, (UINT64_C(1) << 47) + p * PAGE, PAGE, 7 * GiB + p * PAGE,
                                        3),
                          0);
        ASSERT_EQ(translate(s, (UINT64_C(1) << 47) + 3 * PAGE + 5, 1, &t, &len), 0);
        ASSERT_EQ(t, 7 * GiB + 3 * PAGE + 5);
        ASSERT_EQ(len, 509 * PAGE - 5);
        /* A hole: a fault there, the rest still right. */
        ASSERT_EQ(iom_space_unmap(s, leaf + 300 * PAGE, PAGE, NULL), 0);
        ASSERT_EQ(translate(s, leaf + 300 * PAGE, 1, &t, &len), -ENOENT);
        ASSERT_EQ(translate(s, leaf + 301 * PAGE, 1, &t, &len), 0);
        ASSERT_EQ(t, 7 * GiB + 301 * PAGE);
        /* Filled again with a target off the line, read-only: that page says so. */
        ASSERT_EQ(iom_space_map(s, leaf + 300 * PAGE, PAGE, 3 * GiB, 1), 0);
        ASSERT_EQ(iom_space_translate(s, leaf + 300 * PAGE + 1, 1, &t, &prot, &len), 0);
        ASSERT_EQ(t, 3 * GiB + 1);
        ASSERT_EQ(prot, 1);
        ASSERT_EQ(len, PAGE - 1);
        ASSERT_EQ(translate(s, leaf + 300 * PAGE, 2, &t, &len), -EACCES);
        ASSERT_EQ(translate(s, leaf + 299 * PAGE, 1, &t, &len), 0);
        ASSERT_EQ(len, PAGE);
        /* Back on the line: the summary answers again, and a write is permitted. */
        ASSERT_EQ(iom_space_unmap(s, leaf + 300 * PAGE, PAGE, NULL), 0);
        ASSERT_EQ(iom_space_map(s, leaf + 300 * PAGE, PAGE, 7 * GiB + 300 * PAGE, 3), 0);
        ASSERT_EQ(translate(s, leaf + 300 * PAGE, 2, &t, &len), 0);
        ASSERT_EQ(t, 7 * GiB + 300 * PAGE);
        /* A mapping reaching past the leaf keeps its own end. */
        ASSERT_EQ(iom_space_unmap(s, leaf + 511 * PAGE, PAGE, NULL), 0);
        ASSERT_EQ(iom_space_map(s, leaf + 511 * PAGE, 3 * PAGE, 7 * GiB + 511 * PAGE, 3), 0);
        ASSERT_EQ(translate(s, leaf + 511 * PAGE, 1, &t, &len), 0);
        ASSERT_TRUE(len >= 3 * PAGE);
        iom_space_free(s);
}

/* The index takes the shape speed depends on: pages strewn under one root slot make a packed
 * node whose lines hold their pieces themselves, a line with more than 7 holds a compact and
 * takes them back when they drop to 7; guest RAM mapped page by page makes a linear radix
 * leaf. Correctness does not depend on any of it, so only this test sees it go. */
/* What test_small_form() mapped first, answered in every form the space takes. */
static void small_form_answers(struct iom_space *s) {
        uint64_t t, len;

        ASSERT_EQ(translate(s, GiB + 2 * PAGE + 7, IOM_SPACE_READ, &t, &len), 0);
        ASSERT_EQ(t, 7 * GiB + 2 * PAGE + 7);
        ASSERT_EQ(translate(s, GiB + PAGE, IOM_SPACE_READ, &t, &len), -ENOENT);
        ASSERT_EQ(translate(s, (UINT64_C(9) << 40), IOM_SPACE_WRITE, &t, &len), -EACCES);
        ASSERT_EQ(translate(s, (UINT64_C(9) << 40), IOM_SPACE_READ, &t, &len), 0);
        ASSERT_EQ(t, 7 * PAGE);
}

/* A space of few mappings is one small array (struct small): a few hundred bytes, answers
 * without records, contiguous lengths over the mappings that continue each other; past
 * SMALL_MAX it takes the hashed form (single pages) or grows the tree, and answers the same. */
static void test_small_form(void) {
        struct iom_space *s = space_new(1000, UINT64_MAX);
        struct iom_space_stats st;
        uint64_t t, len;

        iom_space_get_stats(s, &st);
        ASSERT_TRUE(st.memory_bytes <= 4096);
        ASSERT_TRUE(s->small && !s->root);
        /* Two that continue each other, then 8 strewn over 48 bits. */
        ASSERT_EQ(iom_space_map(s, GiB, 2 * PAGE, 7 * GiB, IOM_SPACE_RW), 0);
        ASSERT_EQ(iom_space_map(s, GiB + 2 * PAGE, PAGE, 7 * GiB + 2 * PAGE, IOM_SPACE_RW), 0);
        for (uint64_t i = 0; i < 8; i++)
                ASSERT_EQ(iom_space_map(s, (i + 2) << 40, PAGE, i * PAGE, IOM_SPACE_READ), 0);
        iom_space_get_stats(s, &st);
        ASSERT_EQ(st.mappings, 10);
        ASSERT_TRUE(st.memory_bytes <= 16384);
        ASSERT_TRUE(s->small && !s->root);
        ASSERT_EQ(translate(s, GiB + 5, IOM_SPACE_WRITE, &t, &len), 0);
        ASSERT_EQ(t, 7 * GiB + 5);
        ASSERT_EQ(len, 3 * PAGE - 5);
        ASSERT_EQ(translate(s, (UINT64_C(5) << 40) + 1, IOM_SPACE_WRITE, &t, &len), -EACCES);
        ASSERT_EQ(translate(s, (UINT64_C(5) << 40) + 1, IOM_SPACE_READ, &t, &len), 0);
        ASSERT_EQ(t, 3 * PAGE + 1);
        ASSERT_EQ(translate(s, GiB + 3 * PAGE, IOM_SPACE_READ, &t, &len), -ENOENT);
        /* A hole in the first one: a split, still small. */
        ASSERT_EQ(iom_space_unmap(s, GiB + PAGE, PAGE, NULL), 0);
        ASSERT_EQ(translate(s, GiB, IOM_SPACE_READ, &t, &len), 0);
        ASSERT_EQ(len, PAGE);
        ASSERT_EQ(translate(s, GiB + PAGE, IOM_SPACE_READ, &t, &len), -ENOENT);
        ASSERT_TRUE(s->small && !s->root);

        /* Past SMALL_MAX, all single pages whose targets do not continue each other: the
         * hashed form, with the same answers. */
        for (uint64_t i = 0; i < SMALL_MAX; i++)
                ASSERT_EQ(iom_space_map(s, 2 * GiB + 2 * i * PAGE, PAGE, i * PAGE, IOM_SPACE_RW),
                          0);
        ASSERT_TRUE(!s->small && s->hash && !s->root);
        small_form_answers(s);
        ASSERT_EQ(translate(s, 2 * GiB + 30 * PAGE + 9, IOM_SPACE_READ, &t, &len), 0);
        ASSERT_EQ(t, 15 * PAGE + 9);
        ASSERT_EQ(len, PAGE - 9);
        ASSERT_EQ(translate(s, 2 * GiB + 31 * PAGE, IOM_SPACE_READ, &t, &len), -ENOENT);

        /* A mapping of two pages: the tree, with the same answers. */
        ASSERT_EQ(iom_space_map(s, 3 * GiB, 2 * PAGE, 9 * GiB, IOM_SPACE_RW), 0);
        ASSERT_TRUE(!s->small && !s->hash && s->root);
        small_form_answers(s);
        ASSERT_EQ(translate(s, 3 * GiB + PAGE, IOM_SPACE_READ, &t, &len), 0);
        ASSERT_EQ(t, 9 * GiB + PAGE);
        iom_space_get_stats(s, &st);
        ASSERT_EQ(st.mappings, 11 + SMALL_MAX);
        iom_space_free(s);
}

/* The hashed form: entered from the small form by one-page maps, grown and cleaned of
 * tombstones by copies, listed in order; it leaves for the tree before an unmap of a long
 * range, and when guest RAM arrives page by page (targets that continue each other). */
static void test_hashed_form(void) {
        struct iom_space *s = space_new(100000, UINT64_MAX);
        struct iom_mapping m;
        uint64_t t, len, iova, n = 0;
        int r;
        const struct hash *h;

        /* 3000 pages at random 48-bit IOVAs, the streaming ring's pattern. */
        for (uint64_t i = 0; i < 3000; i++)
                ASSERT_EQ(iom_space_map(s,
                                        (i * 0x9e3779b97f4a7c15 % (UINT64_C(1) << 35) + 1)
                                                << IOM_SPACE_PAGE_SHIFT,
                                        PAGE, (i + 1) * 2 * PAGE, IOM_SPACE_RW),
                          0);
        h = s->hash;
        ASSERT_TRUE(!s->small && h && !s->root);
        ASSERT_EQ(h->live, 3000);
        ASSERT_TRUE(2 * h->used <= h->mask + 1);
        /* The ring turns ten times: tombstones cleared by copies, the table stays its size. */
        for (uint64_t i = 3000; i < 33000; i++) {
                ASSERT_EQ(iom_space_unmap(s,
                                          ((i - 3000) * 0x9e3779b97f4a7c15 % (UINT64_C(1) << 35) +
                                           1) << IOM_SPACE_PAGE_SHIFT,
                                          PAGE, &len),
                          0);
                ASSERT_EQ(len, PAGE);
                ASSERT_EQ(iom_space_map(s,
                                        (i * 0x9e3779b97f4a7c15 % (UINT64_C(1) << 35) + 1)
                                                << IOM_SPACE_PAGE_SHIFT,
                                        PAGE, (i + 1) * 2 * PAGE, IOM_SPACE_RW),
                          0);
        }
        ASSERT_TRUE(s->hash && !s->root);
        ASSERT_EQ(s->hash->live, 3000);
        ASSERT_TRUE(s->hash->mask + 1 <= 16384);
        for (uint64_t i = 30000; i < 33000; i++) {
                iova = (i * 0x9e3779b97f4a7c15 % (UINT64_C(1) << 35) + 1) << IOM_SPACE_PAGE_SHIFT;
                ASSERT_EQ(translate(s, iova + 5, IOM_SPACE_WRITE, &t, &len), 0);
                ASSERT_EQ(t, (i + 1) * 2 * PAGE + 5);
                ASSERT_EQ(len, PAGE - 5);
        }
        /* Listed in order, each once; past the last, nothing. */
        for (iova = 0; (r = iom_space_next_mapping(s, iova, &m)) == 0; iova = m.iova + m.size) {
                ASSERT_EQ(m.size, PAGE);
                ASSERT_TRUE(m.iova >= iova);
                n++;
        }
        ASSERT_EQ(r, -ENOENT);
        ASSERT_EQ(n, 3000);

        /* Guest RAM page by page: the tree, whose linear leaves answer it in one line. */
        for (uint64_t p = 0; p < 512; p++)
                ASSERT_EQ(iom_space_map(s, (UINT64_C(1) << 47) + p * PAGE, PAGE, GiB + p * PAGE,
                                        IOM_SPACE_RW),
                          0);
        ASSERT_TRUE(!s->hash && s->root);
        ASSERT_EQ(translate(s, (UINT64_C(1) << 47) + 3 * PAGE, IOM_SPACE_READ, &t, &len), 0);
        ASSERT_EQ(t, GiB + 3 * PAGE);
        ASSERT_EQ(len, 509 * PAGE);
        iova = (32999 * 0x9e3779b97f4a7c15 % (UINT64_C(1) << 35) + 1) << IOM_SPACE_PAGE_SHIFT;
        ASSERT_EQ(translate(s, iova, IOM_SPACE_READ, &t, &len), 0);
        ASSERT_EQ(t, 33000 * 2 * PAGE);
        iom_space_free(s);

        /* 20 pages, hashed; an unmap of 64 pages probes them, one of 65 leaves for the tree
         * first. */
        s = space_new(100, UINT64_MAX);
        for (uint64_t i = 0; i < 20; i++)
                ASSERT_EQ(iom_space_map(s, GiB + 2 * i * PAGE, PAGE, 3 * i * PAGE, IOM_SPACE_READ),
                          0);
        ASSERT_TRUE(s->hash && !s->root);
        ASSERT_EQ(iom_space_unmap(s, GiB, 64 * PAGE, &len), 0);
        ASSERT_EQ(len, 20 * PAGE);
        ASSERT_TRUE(s->hash && !s->root);
        for (uint64_t i = 0; i < 20; i++)
                ASSERT_EQ(iom_space_map(s, GiB + 2 * i * PAGE, PAGE, 3 * i * PAGE, IOM_SPACE_READ),
                          0);
        ASSERT_EQ(iom_space_unmap(s, GiB + PAGE, 65 * PAGE, &len), 0);
        ASSERT_EQ(len, 19 * PAGE);
        ASSERT_TRUE(!s->hash && s->root);
        ASSERT_EQ(translate(s, GiB + 1, IOM_SPACE_READ, &t, &len), 0);
        ASSERT_EQ(t, 1);
        ASSERT_EQ(iom_space_unmap(s, GiB, PAGE, &len), 0);
        ASSERT_EQ(iom_space_next_mapping(s, 0, &m), -ENOENT);
        iom_space_free(s);
}

static void test_index_forms(void) {
        struct iom_space *s = space_new(100000, UINT64_MAX);
        uint64_t base = UINT64_C(1) << 40, x = 88172645463325252ull, page, v, t, len;
        const struct packed *pk;
        const struct node *n;

        /* 3000 pages strewn over the 512 GiB of root slot 2 (lines of 1 GiB), after a mapping
         * of two pages (or the space would take the hashed form). */
        ASSERT_EQ(iom_space_map(s, 0, 2 * PAGE, 0, 3), 0);
        for (unsigned i = 0; i < 3000; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                page = (base >> IOM_SPACE_PAGE_SHIFT) + x % (UINT64_C(1) << 27);
                (void) iom_space_map(s, page << IOM_SPACE_PAGE_SHIFT, PAGE, x % GiB * PAGE, 3);
        }
        v = s->root->slot[(base >> IOM_SPACE_PAGE_SHIFT) >> (NODE_BITS * s->top) & 511];
        ASSERT_EQ(v & SLOT_TAGS, SLOT_PACKED);
        pk = slot_packed(v);
        ASSERT_TRUE(pk->hdr.n > 400);

        /* Line 100 of it: emptied, then 9 pages (a compact), then 7 (in the line). */
        ASSERT_EQ(iom_space_unmap(s, base + 100 * GiB, GiB, NULL), 0);
        ASSERT_EQ(pk->line[100][0] & LINE_SLOT, 0);
        ASSERT_EQ(pk->count[100], 0);
        for (unsigned i = 0; i < 9; i++)
                ASSERT_EQ(iom_space_map(s, base + 100 * GiB + i * 64 * MiB, PAGE, i * PAGE, 3), 0);
        ASSERT_EQ(pk->line[100][0] & LINE_SLOT, LINE_SLOT);
        ASSERT_EQ(pk->line[100][1] & SLOT_COMPACT, SLOT_COMPACT);
        ASSERT_EQ(iom_space_unmap(s, base + 100 * GiB, PAGE, NULL), 0);
        ASSERT_EQ(iom_space_unmap(s, base + 100 * GiB + 64 * MiB, PAGE, NULL), 0);
        ASSERT_EQ(pk->line[100][0] & LINE_SLOT, 0);
        ASSERT_EQ(pk->count[100], 7);
        for (unsigned i = 2; i < 9; i++) {
                ASSERT_EQ(translate(s, base + 100 * GiB + i * 64 * MiB + 9, 3, &t, &len), 0);
                ASSERT_EQ(t, i * PAGE + 9);
                ASSERT_EQ(len, PAGE - 9);
        }

        /* 2 MiB of guest RAM, page by page, from 8 GiB: a linear leaf under radix nodes. */
        for (unsigned p = 0; p < 512; p++)
                ASSERT_EQ(iom_space_map(s, 8 * GiB + p * PAGE, PAGE, 5 * GiB + p * PAGE, 3), 0);
        n = s->root;
        page = 8 * GiB >> IOM_SPACE_PAGE_SHIFT;
        for (unsigned shift = NODE_BITS * s->top; shift > 0; shift -= NODE_BITS) {
                v = n->slot[(page >> shift) & 511];
                ASSERT_EQ(v & SLOT_TAGS, 0);
                n = (const struct node *) v;
        }
        ASSERT_EQ(n->linear, 5 * GiB | 3);
        ASSERT_EQ(translate(s, 8 * GiB + 7 * PAGE, 1, &t, &len), 0);
        ASSERT_EQ(t, 5 * GiB + 7 * PAGE);
        ASSERT_EQ(len, 505 * PAGE);
        iom_space_free(s);
}

IOM_TEST_MAIN(IOM_TEST(test_config), IOM_TEST(test_alignment), IOM_TEST(test_aperture),
              IOM_TEST(test_overlap), IOM_TEST(test_reserved), IOM_TEST(test_split),
              IOM_TEST(test_large), IOM_TEST(test_limits), IOM_TEST(test_faults),
              IOM_TEST(test_contiguous), IOM_TEST(test_sg), IOM_TEST(test_dirty),
              IOM_TEST(test_dirty_huge), IOM_TEST(test_dirty_overflow), IOM_TEST(test_dirty_bound),
              IOM_TEST(test_subscribers), IOM_TEST(test_backend), IOM_TEST(test_backend_hashed),
              IOM_TEST(test_scattered), IOM_TEST(test_linear_leaf), IOM_TEST(test_small_form),
              IOM_TEST(test_hashed_form), IOM_TEST(test_index_forms))
