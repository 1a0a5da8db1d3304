/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Differential test of the mapping core: long random sequences of map, unmap, translate,
 * translate_sg and get_dirty, every answer checked against the naive model at every step
 * (dirty bitmaps exactly, or at least the pages written once a write overflowed).
 * Usage: test-mapping-diff [TEST...], TAP on stdout; IOM_MAPPING_SEED=N and
 * IOM_MAPPING_STEPS=N (6000) set the run. The seed is printed first and each test draws from
 * its own stream of it, so a failure replays alone. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "test-mapping-model.h"
#include "tests.h"

#define PAGE IOM_SPACE_PAGE_SIZE

static uint64_t seed, rng_state;
static size_t steps = 6000;

/* splitmix64: small, fast, and the same sequence everywhere for a seed. */
static uint64_t rnd(void) {
        uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static uint64_t below(uint64_t n) {
        return n ? rnd() % n : 0;
}

/* Where the "strewn" run maps: 4 TiB from 1 TiB on, where thousands of one-page mappings make
 * packed nodes whose lines hold a few pieces each, and some overflow. */
#define STREWN_BASE (UINT64_C(1) << 40)
#define STREWN_PAGES (UINT64_C(1) << 30)
#define STREWN_POPULATION 3000

/* Addresses cluster around a few places where the index changes shape: 0, a 1 GiB and a
 * 512 GiB boundary, the MSI window, the aperture's ends; or, @strewn, anywhere in the strewn
 * range. Often at a mapping there already. */
static uint64_t some_iova(const struct model *m, bool strewn) {
        const struct iom_space_config *c = &m->config;
        uint64_t bases[] = {
                c->aperture_first,
                UINT64_C(1) << 30,
                UINT64_C(1) << 39,
                IOM_SPACE_MSI_FIRST,
                c->aperture_last - (UINT64_C(1) << 26) + 1,
        };
        uint64_t base = bases[below(5)], iova;

        if (m->n_maps > 0 && below(3) == 0)
                return m->maps[below(m->n_maps)].iova;
        if (strewn)
                return STREWN_BASE + below(STREWN_PAGES) * PAGE;
        iova = base + below(UINT64_C(1) << 14) * PAGE - (UINT64_C(1) << 25);
        if (iova < c->aperture_first || iova > c->aperture_last)
                iova = c->aperture_first + below(UINT64_C(1) << 12) * PAGE;
        /* Mostly aligned to the smallest page size, which may be larger than 4 KiB. */
        if (below(4))
                iova &= ~((c->page_sizes & -c->page_sizes) - 1);
        return iova;
}

static uint64_t some_size(void) {
        switch (below(16)) {
        case 0:
                return (1 + below(4)) << 30; /* whole 1 GiB slots */
        case 1:
                return (1 + below(8)) << 21;
        case 2:
                return below(2048) * PAGE; /* 0 sometimes: invalid */
        case 3:
                return below(3) ? PAGE : PAGE / 2; /* misaligned now and then */
        default:
                return (1 + below(8)) * PAGE;
        }
}

/* @burst: translates only (writes mostly), so that no writer call refills the pools the dirty
 * bitmaps grow from and writes to new places overflow them. @pages: the patterns of the hashed
 * form, maps of one page with random targets, short unmaps; now and then a run of guest RAM
 * (the page after the last map, its target after the last one), a long unmap or a map of
 * more pages, each of which sends the space from the hashed form to the tree. */
static void some_op(const struct model *m, bool strewn, bool burst, bool pages,
                    uint64_t *next_target, struct model_op *op) {
        unsigned k = burst ? 55 + (unsigned) below(35) : (unsigned) below(100);
        static uint64_t after, ram_left;
        bool ram = false;

        op->iova = some_iova(m, strewn);
        op->size = some_size();
        if (pages) {
                op->size = below(300) == 0 ? some_size() : k < 40 ? PAGE : (1 + below(48)) * PAGE;
                if (k < 40 && ram_left == 0 && below(400) == 0)
                        ram_left = 64 + below(128);
                if (k < 40 && ram_left > 0) {
                        ram_left--;
                        ram = true;
                        op->iova = after;
                }
                after = op->iova + op->size;
        }
        op->prot = (unsigned) below(4);
        op->target = 0;
        if (k < 40) {
                op->kind = MODEL_MAP;
                /* Half the time the target continues the previous one: translate's
                 * contiguous length may then run over several mappings. */
                op->target =
                        (pages ? ram : below(2)) ? *next_target : below(UINT64_C(1) << 30) * PAGE;
                if (below(4))
                        op->target &= ~((m->config.page_sizes & -m->config.page_sizes) - 1);
                if (below(50) == 0)
                        op->target |= PAGE / 2;
                if (op->prot == 0 && below(4))
                        op->prot = 3;
                *next_target = op->target + op->size;
        } else if (k < 55) {
                op->kind = MODEL_UNMAP;
        } else if (k < 80) {
                op->kind = MODEL_TRANSLATE;
                op->iova += below(PAGE);
                op->prot |= below(20) ? 1 : 0;
                op->prot |= burst ? 2 : 0;
        } else if (k < 90) {
                op->kind = MODEL_TRANSLATE_SG;
                op->iova += below(PAGE);
                op->size = 1 + below(64 * PAGE);
        } else if (k < 98) {
                op->kind = MODEL_GET_DIRTY;
                op->size = below(4) ? (1 + below(512)) * PAGE : op->size;
                /* Half the time around a page written: a lost bit shows. */
                if (m->n_dirty > 0 && below(2))
                        op->iova = (m->dirty[below(m->n_dirty)] - below(64)) * PAGE;
        } else {
                op->kind = MODEL_SET_TRACKING;
                op->prot = below(4) != 0;
        }
}

/* @strewn: first STREWN_POPULATION one-page mappings strewn over the strewn range (with
 * @pages, a few dozen to a few hundred: past the small form), then every operation there.
 * @bursts: every other 64 steps a burst of translates (some_op()), with tracking on. @pages:
 * the hashed form's patterns (some_op()). */
static int run(const char *name, const struct iom_space_config *config, bool strewn, bool bursts,
               bool pages, size_t n_steps) {
        static const uint64_t reserved[][2] = {
                {(UINT64_C(1) << 30) + (UINT64_C(1) << 20),
                 (UINT64_C(1) << 30) + (UINT64_C(1) << 20) + 16 * PAGE - 1},
        };
        struct iom_space *s;
        struct model m;
        uint64_t next_target = 0;
        int r;

        r = model_new(config, reserved, 1, &s, &m);
        if (r < 0) {
                fprintf(stderr, "%s: cannot create the space: %d\n", name, r);
                return -1;
        }
        size_t population = pages ? 20 + below(300) : STREWN_POPULATION;

        for (size_t i = 0; strewn && i < population && r == 0; i++) {
                struct model_op op = {MODEL_MAP, STREWN_BASE + below(STREWN_PAGES) * PAGE, PAGE,
                                      below(UINT64_C(1) << 30) * PAGE, 1 + (unsigned) below(3)};

                r = model_step(s, &m, &op, i);
        }
        if (bursts && r == 0)
                r = model_step(s, &m, &(struct model_op){.kind = MODEL_SET_TRACKING, .prot = 1}, 0);
        /* Each run its own stream: FNV-1a of its name mixed into the seed. */
        rng_state = seed;
        for (const char *c = name; *c; c++)
                rng_state = (rng_state ^ (uint8_t) *c) * UINT64_C(0x100000001b3);
        for (size_t i = 0; i < n_steps && r == 0; i++) {
                struct model_op op;

                some_op(&m, strewn, bursts && i / 64 % 2, pages, &next_target, &op);
                r = model_step(s, &m, &op, i);
        }
        printf("# %s: %zu mappings at the end, %zu get_dirty after an overflow\n", name, m.n_maps,
               m.dirty_overflows);
        if (r != 0)
                fprintf(stderr,
                        "%s: replay with IOM_MAPPING_SEED=%" PRIu64 " test-mapping-diff %s\n", name,
                        seed, name);
        iom_space_free(s);
        model_done(&m);
        return r;
}

/* The configurations: the default; small limits (aperture, mappings, pinned bytes); a space
 * that never holds more than its small form does; a 64-bit
 * aperture, with root levels above the compact form's reach; 2 MiB the smallest page, so
 * 4 KiB-aligned requests are refused. */
static struct iom_space_config config_default(void) {
        struct iom_space_config c;

        iom_space_config_init(&c);
        return c;
}

static void test_default(void) {
        struct iom_space_config c = config_default();

        ASSERT_EQ(run("test_default", &c, false, false, false, steps), 0);
}

static void test_limits(void) {
        struct iom_space_config c = config_default();

        c.aperture_last = (UINT64_C(1) << 32) - 1;
        c.max_mappings = 48;
        c.max_pinned_bytes = 3 * (UINT64_C(1) << 30);
        ASSERT_EQ(run("test_limits", &c, false, false, false, steps), 0);
}

/* At most 8 mappings: the space stays in its small form (struct small) all along. */
static void test_small(void) {
        struct iom_space_config c = config_default();

        c.max_mappings = 8;
        ASSERT_EQ(run("test_small", &c, false, false, false, steps), 0);
}

static void test_wide(void) {
        struct iom_space_config c = config_default();

        c.aperture_first = UINT64_C(1) << 20;
        c.aperture_last = UINT64_MAX;
        ASSERT_EQ(run("test_wide", &c, false, false, false, steps), 0);
}

static void test_huge_pages(void) {
        struct iom_space_config c = config_default();

        c.page_sizes = (UINT64_C(1) << 21) | (UINT64_C(1) << 30);
        ASSERT_EQ(run("test_huge_pages", &c, false, false, false, steps / 4), 0);
}

static void test_strewn(void) {
        struct iom_space_config c = config_default();

        ASSERT_EQ(run("test_strewn", &c, true, false, false, steps / 2), 0);
}

static void test_strewn_bursts(void) {
        struct iom_space_config c = config_default();

        ASSERT_EQ(run("test_strewn_bursts", &c, true, true, false, steps / 2), 0);
}

/* Spaces in the hashed form, each a short run from a few dozen one-page mappings: most leave
 * it for the tree at some point (a run of guest RAM, a long unmap, a map of more pages), some
 * with dirty tracking on. */
static void test_hashed(void) {
        struct iom_space_config c = config_default();

        for (unsigned i = 0; i < 12; i++) {
                char name[32];

                snprintf(name, sizeof(name), "test_hashed_%u", i);
                ASSERT_EQ(run(name, &c, true, i % 3 == 2, true, steps / 6), 0);
        }
}

int main(int argc, char **argv) {
        static const struct iom_test tests[] = {
                IOM_TEST(test_default),       IOM_TEST(test_limits),     IOM_TEST(test_small),
                IOM_TEST(test_wide),          IOM_TEST(test_huge_pages), IOM_TEST(test_strewn),
                IOM_TEST(test_strewn_bursts), IOM_TEST(test_hashed),
        };
        const char *env_seed = getenv("IOM_MAPPING_SEED"), *env_steps = getenv("IOM_MAPPING_STEPS");

        seed = env_seed ? strtoull(env_seed, NULL, 0)
                        : (uint64_t) time(NULL) ^ ((uint64_t) clock() << 32);
        if (env_steps)
                steps = strtoull(env_steps, NULL, 0);
        printf("# seed %" PRIu64 ", %zu steps (replay: IOM_MAPPING_SEED=%" PRIu64
               " %s [TEST...])\n",
               seed, steps, seed, argv[0]);
        return iom_test_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
