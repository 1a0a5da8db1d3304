/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A deliberately naive model of an iom_space (a plain list, linear scans) and one step of a
 * differential run that applies an operation to both and compares every answer. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "iom-space.h"

struct model_mapping {
        uint64_t iova, last, target;
        unsigned prot;
};

struct model {
        struct iom_space_config config;
        uint64_t reserved[8][2];
        unsigned n_reserved;
        struct model_mapping *maps;
        size_t n_maps;
        bool tracking;
        uint64_t *dirty; /* dirty page numbers, unsorted, no duplicates */
        size_t n_dirty;
        uint64_t unmapped_bytes; /* what subscribers were told, summed */
        size_t dirty_overflows;  /* get_dirty steps after a write overflowed (then a superset) */
};

enum model_op_kind {
        MODEL_MAP,
        MODEL_UNMAP,
        MODEL_TRANSLATE,
        MODEL_TRANSLATE_SG,
        MODEL_GET_DIRTY,
        MODEL_SET_TRACKING,
        _MODEL_OP_MAX,
};

struct model_op {
        enum model_op_kind kind;
        uint64_t iova, size, target;
        unsigned prot; /* prot for map, access for translate, clear for get_dirty, on/off */
};

/* A space and its model with the same @config and reserved ranges (plus the MSI window);
 * the space's subscriber adds to model->unmapped_bytes. */
int model_new(const struct iom_space_config *config, const uint64_t (*reserved)[2],
              unsigned n_reserved, struct iom_space **ret_space, struct model *ret_model);
void model_done(struct model *m);

/* Applies @op to both and compares answers, then the whole mapping list and counters. On a
 * difference prints what differed (with @step) to stderr and returns -1. */
int model_step(struct iom_space *s, struct model *m, const struct model_op *op, size_t step);

/* Formats @op for a failure message. */
const char *model_op_to_string(const struct model_op *op, char *buf, size_t size);
