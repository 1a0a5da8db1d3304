/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libFuzzer entry point each fuzz-<name>.c defines. */
#pragma once

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a NUL-terminated string (parsers take text); NULL on OOM. */
char *fuzz_text(const uint8_t *data, size_t size);
