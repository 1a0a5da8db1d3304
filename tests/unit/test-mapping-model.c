/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The naive reference for the mapping core: every rule of iom-space.h written the obvious way
 * over an unsorted array, and the comparison of one step of both. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test-mapping-model.h"

#define PAGE IOM_SPACE_PAGE_SIZE
#define SG_MAX 64

static void on_unmapped(void *userdata, uint64_t iova, uint64_t size) {
        struct model *m = userdata;

        m->unmapped_bytes += size;
}

int model_new(const struct iom_space_config *config, const uint64_t (*reserved)[2],
              unsigned n_reserved, struct iom_space **ret_space, struct model *ret_model) {
        struct iom_space *s;
        int r;

        r = iom_space_new(config, &s);
        if (r < 0)
                return r;
        *ret_model = (struct model){.config = *config};
#if defined(__x86_64__) || defined(__i386__)
        ret_model->reserved[ret_model->n_reserved][0] = IOM_SPACE_MSI_FIRST;
        ret_model->reserved[ret_model->n_reserved++][1] = IOM_SPACE_MSI_LAST;
#endif
        for (unsigned i = 0; i < n_reserved && ret_model->n_reserved < 8; i++) {
                r = iom_space_add_reserved(s, reserved[i][0], reserved[i][1]);
                if (r < 0) {
                        iom_space_free(s);
                        return r;
                }
                memcpy(ret_model->reserved[ret_model->n_reserved++], reserved[i],
                       sizeof(reserved[i]));
        }
        r = iom_space_subscribe(s, on_unmapped, ret_model);
        if (r < 0) {
                iom_space_free(s);
                return r;
        }
        *ret_space = s;
        return 0;
}

void model_done(struct model *m) {
        free(m->maps);
        free(m->dirty);
        *m = (struct model){};
}

static uint64_t align_of(const struct model *m) {
        return m->config.page_sizes & -m->config.page_sizes;
}

static int check_range(const struct model *m, uint64_t iova, uint64_t size, uint64_t align) {
        if (size == 0 || iova % align || size % align)
                return -EINVAL;
        if (iova < m->config.aperture_first || iova + size - 1 < iova ||
            iova + size - 1 > m->config.aperture_last)
                return -EINVAL;
        return 0;
}

static struct model_mapping *holding(const struct model *m, uint64_t iova) {
        for (size_t i = 0; i < m->n_maps; i++)
                if (m->maps[i].iova <= iova && iova <= m->maps[i].last)
                        return &m->maps[i];
        return NULL;
}

static uint64_t mapped_bytes(const struct model *m) {
        uint64_t sum = 0;

        for (size_t i = 0; i < m->n_maps; i++)
                sum += m->maps[i].last - m->maps[i].iova + 1;
        return sum;
}

static void add(struct model *m, uint64_t iova, uint64_t last, uint64_t target, unsigned prot) {
        m->maps = realloc(m->maps, (m->n_maps + 1) * sizeof(*m->maps));
        if (!m->maps)
                abort();
        m->maps[m->n_maps++] = (struct model_mapping){iova, last, target, prot};
}

static int model_map(struct model *m, const struct model_op *op) {
        uint64_t last = op->iova + op->size - 1;

        if (check_range(m, op->iova, op->size, align_of(m)) < 0 || op->target % align_of(m) ||
            op->target + op->size - 1 < op->target || op->prot == 0 || op->prot > 3)
                return -EINVAL;
        for (unsigned i = 0; i < m->n_reserved; i++)
                if (m->reserved[i][0] <= last && op->iova <= m->reserved[i][1])
                        return -EADDRNOTAVAIL;
        for (size_t i = 0; i < m->n_maps; i++)
                if (m->maps[i].iova <= last && op->iova <= m->maps[i].last)
                        return -EEXIST;
        if (m->n_maps + 1 > m->config.max_mappings)
                return -ENOSPC;
        if (mapped_bytes(m) + op->size > m->config.max_pinned_bytes)
                return -EDQUOT;
        add(m, op->iova, last, op->target, op->prot);
        return 0;
}

static int model_unmap(struct model *m, const struct model_op *op, uint64_t *ret) {
        uint64_t a = op->iova, b = op->iova + op->size - 1, removed = 0;
        size_t hit = 0, splits = 0;

        if (check_range(m, op->iova, op->size, align_of(m)) < 0)
                return -EINVAL;
        for (size_t i = 0; i < m->n_maps; i++) {
                struct model_mapping *x = &m->maps[i];

                if (x->last < a || x->iova > b)
                        continue;
                hit++;
                splits += (x->iova < a) + (x->last > b);
                removed += (x->last < b ? x->last : b) - (x->iova > a ? x->iova : a) + 1;
        }
        *ret = removed;
        if (hit == 0)
                return 0;
        if (m->n_maps - hit + splits > m->config.max_mappings)
                return -ENOSPC;
        for (size_t i = 0; i < m->n_maps;) {
                struct model_mapping x = m->maps[i];

                if (x.last < a || x.iova > b) {
                        i++;
                        continue;
                }
                m->maps[i] = m->maps[--m->n_maps];
                if (x.iova < a)
                        add(m, x.iova, a - 1, x.target, x.prot);
                if (x.last > b)
                        add(m, b + 1, x.last, x.target + (b + 1 - x.iova), x.prot);
        }
        return 0;
}

static void mark(struct model *m, uint64_t first, uint64_t last) {
        if (!m->tracking)
                return;
        for (uint64_t p = first / PAGE; p <= last / PAGE; p++) {
                size_t i;

                for (i = 0; i < m->n_dirty && m->dirty[i] != p; i++)
                        ;
                if (i < m->n_dirty)
                        continue;
                m->dirty = realloc(m->dirty, (m->n_dirty + 1) * sizeof(*m->dirty));
                if (!m->dirty)
                        abort();
                m->dirty[m->n_dirty++] = p;
        }
}

/* Translate: the contiguous length must lie in [*ret_min, *ret_max]. */
static int model_translate(const struct model *m, uint64_t iova, unsigned access,
                           uint64_t *ret_target, unsigned *ret_prot, uint64_t *ret_min,
                           uint64_t *ret_max) {
        const struct model_mapping *x, *y;
        uint64_t end;

        if (access == 0 || access > 3)
                return -EINVAL;
        if (iova < m->config.aperture_first || iova > m->config.aperture_last)
                return -ERANGE;
        x = holding(m, iova);
        if (!x)
                return -ENOENT;
        if (access & ~x->prot)
                return -EACCES;
        *ret_target = x->target + (iova - x->iova);
        *ret_prot = x->prot;
        *ret_min = x->last - iova + 1;
        end = x->last;
        for (y = x; end != UINT64_MAX;) {
                const struct model_mapping *z = holding(m, end + 1);

                if (!z || z->iova != end + 1 || z->prot != y->prot ||
                    z->target != y->target + (y->last - y->iova + 1))
                        break;
                end = z->last;
                y = z;
        }
        *ret_max = end - iova + 1;
        return 0;
}

static int fail(size_t step, const struct model_op *op, const char *what, long long got,
                long long want) {
        char buf[160];

        fprintf(stderr, "step %zu, %s: %s is %lld (0x%llx), the model says %lld (0x%llx)\n", step,
                model_op_to_string(op, buf, sizeof(buf)), what, got, (unsigned long long) got, want,
                (unsigned long long) want);
        return -1;
}

#define CHECK(what, got, want)                                                                     \
        do {                                                                                       \
                long long _g_ = (long long) (got), _w_ = (long long) (want);                       \
                if (_g_ != _w_)                                                                    \
                        return fail(step, op, what, _g_, _w_);                                     \
        } while (0)

static int step_translate(struct iom_space *s, struct model *m, const struct model_op *op,
                          size_t step) {
        uint64_t target = 0, contiguous = 0, want_target = 0, min = 0, max = 0;
        unsigned prot = 0, want_prot = 0;
        int r = iom_space_translate(s, op->iova, op->prot, &target, &prot, &contiguous);
        int want = model_translate(m, op->iova, op->prot, &want_target, &want_prot, &min, &max);

        CHECK("translate's return", r, want);
        if (r < 0)
                return 0;
        if (op->prot & IOM_SPACE_WRITE)
                mark(m, op->iova, op->iova);
        CHECK("target", target, want_target);
        CHECK("prot", prot, want_prot);
        if (contiguous < min || contiguous > max)
                return fail(step, op, "contiguous (outside the model's bounds)", contiguous,
                            contiguous < min ? min : max);
        return 0;
}

static int step_sg(struct iom_space *s, struct model *m, const struct model_op *op, size_t step) {
        struct iom_sg sg[SG_MAX], want[SG_MAX];
        uint64_t last = op->iova + op->size - 1, pos = op->iova;
        int n = iom_space_translate_sg(s, op->iova, op->size, op->prot, sg, SG_MAX);
        int count = 0;

        if (op->size == 0 || op->prot == 0 || op->prot > 3)
                count = -EINVAL;
        else if (op->iova < m->config.aperture_first || op->iova > m->config.aperture_last ||
                 last < op->iova)
                count = -ERANGE;
        while (count >= 0) {
                const struct model_mapping *x;
                uint64_t chunk, target;

                if (pos > m->config.aperture_last) {
                        count = -ERANGE;
                        break;
                }
                x = holding(m, pos);
                if (!x || op->prot & ~x->prot) {
                        count = x ? -EACCES : -ENOENT;
                        break;
                }
                target = x->target + (pos - x->iova);
                chunk = (x->last < last ? x->last : last) - pos + 1;
                if (count > 0 && want[count - 1].target + want[count - 1].size == target)
                        want[count - 1].size += chunk;
                else if (count == SG_MAX) {
                        count = -ENOBUFS;
                        break;
                } else
                        want[count++] = (struct iom_sg){pos, target, chunk};
                if (op->prot & IOM_SPACE_WRITE)
                        mark(m, pos, pos + chunk - 1);
                if (pos + chunk - 1 == last)
                        break;
                pos += chunk;
        }
        CHECK("translate_sg's return", n, count);
        for (int i = 0; i < n; i++) {
                CHECK("sg iova", sg[i].iova, want[i].iova);
                CHECK("sg target", sg[i].target, want[i].target);
                CHECK("sg size", sg[i].size, want[i].size);
        }
        return 0;
}

/* Exactly the pages the model marked; once a write overflowed (a whole span marked instead
 * of its page) at least those, and never a bit past the range's last page. */
static int step_dirty(struct iom_space *s, struct model *m, const struct model_op *op,
                      size_t step) {
        uint64_t pages = op->size / PAGE;
        size_t bytes = (size_t) ((pages + 7) / 8);
        struct iom_space_stats st;
        uint8_t *got, *want;
        int r, w = 0;

        /* Large ranges are legal but would make the naive bitmap huge: keep it to 1 GiB. */
        if (pages > (UINT64_C(1) << 18))
                return 0;
        got = calloc(bytes + 1, 1);
        want = calloc(bytes + 1, 1);
        if (!got || !want)
                abort();
        iom_space_get_stats(s, &st);
        m->dirty_overflows += st.dirty_overflows > 0;
        r = iom_space_get_dirty(s, op->iova, op->size, op->prot & 1, got, bytes);
        if (check_range(m, op->iova, op->size, PAGE) < 0 || !m->tracking)
                w = -EINVAL;
        for (size_t i = 0; w == 0 && i < m->n_dirty;) {
                uint64_t p = m->dirty[i];

                if (p < op->iova / PAGE || p > (op->iova + op->size - 1) / PAGE) {
                        i++;
                        continue;
                }
                want[(p - op->iova / PAGE) / 8] |= 1u << ((p - op->iova / PAGE) % 8);
                if (op->prot & 1)
                        m->dirty[i] = m->dirty[--m->n_dirty];
                else
                        i++;
        }
        if (r != w) {
                free(got);
                free(want);
                CHECK("get_dirty's return", r, w);
        }
        for (size_t i = 0; r == 0 && i < bytes; i++) {
                uint8_t beyond = i == bytes - 1 && pages % 8 ? (uint8_t) (0xff << pages % 8) : 0;

                if (st.dirty_overflows > 0 && (got[i] & want[i]) == want[i] && !(got[i] & beyond))
                        continue;
                if (got[i] != want[i]) {
                        long long g = got[i], x = want[i];

                        free(got);
                        free(want);
                        return fail(step, op, "a dirty bitmap byte", g, x);
                }
        }
        free(got);
        free(want);
        return 0;
}

static int by_iova(const void *a, const void *b) {
        const struct model_mapping *x = a, *y = b;

        return x->iova < y->iova ? -1 : x->iova > y->iova;
}

int model_step(struct iom_space *s, struct model *m, const struct model_op *op, size_t step) {
        struct iom_space_stats st;
        struct iom_mapping x;
        uint64_t removed = 0, want_removed = 0, told = m->unmapped_bytes, iova = 0;
        size_t n = 0;
        int r;

        switch (op->kind) {
        case MODEL_MAP:
                r = iom_space_map(s, op->iova, op->size, op->target, op->prot);
                CHECK("map's return", r, model_map(m, op));
                break;
        case MODEL_UNMAP:
                r = iom_space_unmap(s, op->iova, op->size, &removed);
                CHECK("unmap's return", r, model_unmap(m, op, &want_removed));
                if (r < 0)
                        break;
                CHECK("bytes unmapped", removed, want_removed);
                CHECK("bytes subscribers were told of", m->unmapped_bytes - told, removed);
                break;
        case MODEL_TRANSLATE:
                if (step_translate(s, m, op, step) < 0)
                        return -1;
                break;
        case MODEL_TRANSLATE_SG:
                if (step_sg(s, m, op, step) < 0)
                        return -1;
                break;
        case MODEL_GET_DIRTY:
                if (step_dirty(s, m, op, step) < 0)
                        return -1;
                break;
        case MODEL_SET_TRACKING:
        default:
                r = iom_space_set_dirty_tracking(s, op->prot & 1);
                CHECK("set_dirty_tracking's return", r, 0);
                m->tracking = op->prot & 1;
                m->n_dirty = 0;
                break;
        }

        /* The whole list, in order, and the counters. */
        if (m->n_maps > 1)
                qsort(m->maps, m->n_maps, sizeof(*m->maps), by_iova);
        while (iom_space_next_mapping(s, iova, &x) == 0) {
                const struct model_mapping *y = n < m->n_maps ? &m->maps[n] : NULL;

                if (!y || y->iova > x.iova)
                        return fail(step, op, "a mapping the model lacks, at", x.iova, 0);
                CHECK("a mapping's start", x.iova, y->iova);
                CHECK("a mapping's size", x.size, y->last - y->iova + 1);
                CHECK("a mapping's target", x.target, y->target);
                CHECK("a mapping's prot", x.prot, y->prot);
                n++;
                if (x.iova + x.size == 0)
                        break;
                iova = x.iova + x.size;
        }
        CHECK("mappings listed", n, m->n_maps);
        iom_space_get_stats(s, &st);
        CHECK("stats.mappings", st.mappings, m->n_maps);
        CHECK("stats.mapped_bytes", st.mapped_bytes, mapped_bytes(m));
        CHECK("stats.pinned_bytes", st.pinned_bytes, mapped_bytes(m));
        return 0;
}

const char *model_op_to_string(const struct model_op *op, char *buf, size_t size) {
        static const char *const names[] = {"map",          "unmap",     "translate",
                                            "translate_sg", "get_dirty", "set_tracking"};

        snprintf(buf, size, "%s iova=0x%" PRIx64 " size=0x%" PRIx64 " target=0x%" PRIx64 " %u",
                 op->kind < _MODEL_OP_MAX ? names[op->kind] : "?", op->iova, op->size, op->target,
                 op->prot);
        return buf;
}
