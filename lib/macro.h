/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tiny helpers shared by every room: cleanup attributes, ownership transfer, array sizes. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _public_ __attribute__((visibility("default")))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))
#define _pure_ __attribute__((pure))
#define _always_inline_ inline __attribute__((always_inline))
#define _noreturn_ __attribute__((noreturn))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Moves ownership out of a _cleanup_ variable on one visible line. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _ptr_ = (p);                                                         \
                (p) = NULL;                                                                        \
                _ptr_;                                                                             \
        })
#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _fd_ = (fd);                                                                   \
                (fd) = -EBADF;                                                                     \
                _fd_;                                                                              \
        })

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                    \
        static inline void func##p(type *p) {                                                      \
                if (*p)                                                                            \
                        func(*p);                                                                  \
        }

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);
DEFINE_TRIVIAL_CLEANUP_FUNC(FILE *, fclose);

/* Makes room for @need elements of @size in *@p, growing geometrically: it reallocates only
 * when what malloc gave (malloc_usable_size(), so also an array allocated elsewhere) is too
 * small, and then to twice @need, so appending n elements one at a time costs O(n). Returns 0
 * or -ENOMEM (*@p unchanged). */
static inline int greedy_realloc(void **p, size_t need, size_t size) {
        size_t want;
        void *q;

        if (size == 0 || need > SIZE_MAX / size / 2)
                return -ENOMEM;
        if (*p && malloc_usable_size(*p) >= need * size)
                return 0;
        want = need < 4 ? 4 : 2 * need;
        q = realloc(*p, want * size);
        if (!q)
                return -ENOMEM;
        *p = q;
        return 0;
}
/* Through a void * of its own: the array's pointer is never written as another type. */
#define GREEDY_REALLOC(array, need)                                                                \
        ({                                                                                         \
                void *_grown_ = (array);                                                           \
                int _r_ = greedy_realloc(&_grown_, (need), sizeof(*(array)));                      \
                if (_r_ >= 0)                                                                      \
                        (array) = _grown_;                                                         \
                _r_;                                                                               \
        })

/* Frees and returns NULL, for "p = mfree(p)". */
static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                (void) close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

/* Frees a NULL-terminated array of strings. */
static inline void *strv_free(char **l) {
        if (l) {
                for (char **i = l; *i; i++)
                        free(*i);
                free(l);
        }
        return NULL;
}
static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)

static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

/* CLOCK_MONOTONIC in microseconds, the clock of the daemon's timers, on any thread. */
static inline uint64_t now_usec(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* A comparator of uint64_t for qsort(), bsearch() and sorted_position(). */
static inline int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* The index of the first of the @n elements of @base (each @size bytes, sorted by @compare)
 * that is not below @key: where @key is, or would go. @compare(key, element) as bsearch()'s,
 * so one function serves both. */
static inline size_t sorted_position(const void *base, size_t n, size_t size, const void *key,
                                     int (*compare)(const void *key, const void *element)) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (compare(key, (const char *) base + mid * size) > 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

#define streq(a, b) (strcmp((a), (b)) == 0)
#define strempty(s) ((s) ? (s) : "")

/* Both NULL, or the same string. */
static inline bool streq_ptr(const char *a, const char *b) {
        return a && b ? streq(a, b) : a == b;
}

/* The rest of @s after @prefix, or NULL when @s does not start with it. */
static inline const char *startswith(const char *s, const char *prefix) {
        size_t n = strlen(prefix);
        return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* The to_string/from_string pair of an enum from its table of names, name##_table, indexed by
 * the enum (systemd's DEFINE_STRING_TABLE_LOOKUP): to_string is NULL out of range, from_string
 * the enum's _INVALID (-EINVAL) for NULL or an unknown name. The header declares the pair with
 * DECLARE_STRING_TABLE_LOOKUP. */
#define DECLARE_STRING_TABLE_LOOKUP(name, type)                                                    \
        const char *name##_to_string(type i);                                                      \
        type name##_from_string(const char *s)
#define DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, scope)                                    \
        scope const char *name##_to_string(type i) {                                               \
                return i >= 0 && (size_t) i < ELEMENTSOF(name##_table) ? name##_table[i] : NULL;   \
        }
#define DEFINE_STRING_TABLE_LOOKUP(name, type)                                                     \
        DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, )                                         \
        type name##_from_string(const char *s) {                                                   \
                for (size_t i = 0; s && i < ELEMENTSOF(name##_table); i++)                         \
                        if (name##_table[i] && streq(name##_table[i], s))                          \
                                return (type) i;                                                   \
                return (type) -EINVAL;                                                             \
        }
