/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the mapping core: the input is a program of map, unmap, translate, translate_sg,
 * get_dirty and tracking switches, each step checked against the naive model
 * (tests/unit/test-mapping-model.c); any difference aborts. */
#include <stdlib.h>

#include "fuzz.h"
#include "test-mapping-model.h"

#define PAGE IOM_SPACE_PAGE_SIZE
#define OP_BYTES 8
#define OPS_MAX 4096

/* One operation is 8 bytes:
 *   0     kind (low 3 bits, modulo the kinds), prot/access/flag (bits 3-4), size scale (5-6),
 *         "target continues the previous map" (7)
 *   1     which neighbourhood: 0, the 1 GiB line, the MSI window, the 512 GiB line (low 2
 *         bits); an unaligned offset in bytes for translate (the rest)
 *   2-3   page within 16 MiB before or after it
 *   4-5   size in units of the scale (1 page, 8 pages, 2 MiB, 1 GiB; byte 4 alone for the
 *         last two)
 *   6-7   target page */
static void decode(const uint8_t *b, uint64_t *next_target, struct model_op *op) {
        static const uint64_t bases[] = {0, UINT64_C(1) << 30, IOM_SPACE_MSI_FIRST,
                                         UINT64_C(1) << 39};
        static const uint64_t scales[] = {PAGE, 8 * PAGE, UINT64_C(1) << 21, UINT64_C(1) << 30};
        uint64_t base = bases[b[1] & 3], page = b[2] | (b[3] << 8);

        op->kind = (enum model_op_kind)((b[0] & 7) % _MODEL_OP_MAX);
        op->prot = (b[0] >> 3) & 3;
        op->iova = base + page * PAGE - (base ? UINT64_C(1) << 24 : 0);
        /* Up to 64 MiB in pages, 255 GiB in 1 GiB units: the model marks page by page. */
        op->size = (uint64_t)(b[0] & 0x40 ? b[4] : b[4] | ((b[5] & 0x3f) << 8)) *
                   scales[(b[0] >> 5) & 3];
        op->target = b[0] & 0x80 ? *next_target : (uint64_t)(b[6] | (b[7] << 8)) * PAGE;
        if (op->kind == MODEL_MAP)
                *next_target = op->target + op->size;
        else if (op->kind == MODEL_TRANSLATE || op->kind == MODEL_TRANSLATE_SG)
                op->iova += b[1] >> 2;
        if (op->kind == MODEL_TRANSLATE_SG)
                op->size = (b[4] | (b[5] << 8)) * 16 + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint64_t reserved[][2] = {{(UINT64_C(1) << 30) + 64 * PAGE,
                                                (UINT64_C(1) << 30) + 80 * PAGE - 1}};
        struct iom_space_config config;
        struct iom_space *s;
        struct model m;
        uint64_t next_target = 0;

        if (size < 1)
                return 0;
        iom_space_config_init(&config);
        /* The first byte picks limits, so ENOSPC and EDQUOT are reachable. */
        if (data[0] & 1)
                config.max_mappings = 1 + (data[0] >> 1) % 32;
        if (data[0] & 2)
                config.max_pinned_bytes = (uint64_t)(1 + (data[0] >> 2)) << 21;
        if (model_new(&config, reserved, 1, &s, &m) < 0)
                abort();
        data++, size--;
        for (size_t i = 0; i + OP_BYTES <= size && i / OP_BYTES < OPS_MAX; i += OP_BYTES) {
                struct model_op op;

                decode(data + i, &next_target, &op);
                if (model_step(s, &m, &op, i / OP_BYTES) < 0)
                        abort();
        }
        iom_space_free(s);
        model_done(&m);
        return 0;
}
