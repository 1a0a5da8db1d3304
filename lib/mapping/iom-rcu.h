/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Grace periods for the mapping core: readers mark themselves without a lock or a fence,
 * writers wait until every reader that might hold an old pointer has left. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* How it works (the scheme of liburcu's "memb" flavour, with a per-thread sequence instead of
 * a global phase):
 *
 * Each reading thread owns a struct iom_rcu_reader in thread-local storage, registered once in
 * a process-wide list. Entering a read-side section stores an odd sequence number into it,
 * leaving stores the next even one. Readers use no atomic read-modify-write and no fence: only
 * a compiler barrier. The writer, after unpublishing a pointer, runs membarrier(2)
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED, which executes a full memory barrier on every CPU running
 * one of our threads. Either a reader's odd store happened before that barrier, and the writer
 * then sees it and spins until the sequence changes; or it happened after, and then the
 * reader's loads also come after the unpublish and cannot find the old pointer.
 *
 * Where membarrier(2) is not available the readers fall back to a full fence. Under
 * ThreadSanitizer (which does not model membarrier) the reader's store is a sequentially
 * consistent exchange, so the tool sees the same happens-before edges the barrier gives.
 *
 * A writer need not wait: iom_rcu_start() runs the barrier and notes, for each reader inside a
 * section, which one (its odd sequence number); iom_rcu_poll() looks again, later, and the
 * grace period has ended once each of them has moved on. The mapping core retires what it
 * unpublishes into batches, begins one grace period per batch and frees the batch when a
 * later operation's poll says it ended (iom-space.c), so a writer beside busy readers pays one
 * barrier per batch and never waits for a reader, unless the memory held for reclamation
 * reaches its bound.
 *
 * Why not liburcu (Debian's liburcu-dev), whose memb flavour this follows: its read lock
 * copies a process-wide grace-period counter into the reader's slot, so every translate loads
 * a cache line that each grace period's writer dirties: the first translate after an unmap
 * takes a coherence miss on every reading CPU, a cost the size of the whole lookup here
 * (translate is about 150 instructions and one or two DRAM misses). The per-thread sequence
 * above reads nothing shared. Our writer also skips the membarrier while it is the only
 * registered reader (a single-threaded emulator pays no system call per unmap), and the
 * ThreadSanitizer build models the barrier, which liburcu's does not. liburcu's deferred
 * reclamation (call_rcu()) needs a helper thread; the polled grace periods above give the
 * same to a writer that comes back often, as the mapping core's does. */

/* Two cache lines: the first its thread writes on every section (and the writer reads once a
 * grace period), the second only the writer writes, so a writer marking what it waits for
 * never takes the line a reader is writing. */
struct iom_rcu_reader {
        uint64_t seq; /* odd while inside a read-side section; written by its thread only */
        bool registered;
        /* The writer's, under the registry's lock: */
        uint64_t wait __attribute__((aligned(64))); /* seq to move from (0: none waited for) */
        struct iom_rcu_reader *next, *prev;
} __attribute__((aligned(64)));

/* Initial-exec: a translate reaches it at a fixed offset from the thread pointer, with no
 * call to __tls_get_addr() (which the library's position-independent code would make twice a
 * translate, and which makes the fast path save and restore registers around it). */
extern _Thread_local struct iom_rcu_reader iom_rcu_self __attribute__((tls_model("initial-exec")));
extern bool iom_rcu_reader_fence;

void iom_rcu_register(void);

#if defined(__SANITIZE_THREAD__)
#define IOM_RCU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IOM_RCU_TSAN 1
#endif
#endif

static inline bool iom_rcu_registered(void) {
        return iom_rcu_self.registered;
}

/* Read-side sections do not nest. This one, for a thread that iom_rcu_registered(), makes no
 * call. */
static inline void iom_rcu_read_lock_registered(void) {
        struct iom_rcu_reader *r = &iom_rcu_self;
        uint64_t s = r->seq + 1;

#ifdef IOM_RCU_TSAN
        (void) __atomic_exchange_n(&r->seq, s, __ATOMIC_SEQ_CST);
#else
        __atomic_store_n(&r->seq, s, __ATOMIC_RELAXED);
        if (iom_rcu_reader_fence)
                __atomic_thread_fence(__ATOMIC_SEQ_CST);
        else
                __atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}

static inline void iom_rcu_read_lock(void) {
        if (__builtin_expect(!iom_rcu_registered(), 0))
                iom_rcu_register();
        iom_rcu_read_lock_registered();
}

static inline void iom_rcu_read_unlock(void) {
        __atomic_store_n(&iom_rcu_self.seq, iom_rcu_self.seq + 1, __ATOMIC_RELEASE);
}

/* Returns once every read-side section that began before the call has ended. Never from
 * inside one. */
void iom_rcu_synchronize(void);

/* Begins a grace period for what the caller unpublished so far and returns its cookie (0: none
 * was needed); iom_rcu_poll() is true once every read-side section that began before the call
 * has ended. Neither waits; both take a mutex (a poll that finds its cookie ended does not). */
uint64_t iom_rcu_start(void);
bool iom_rcu_poll(uint64_t cookie);

/* Whether no thread but the caller has ever read: then nothing unpublished needs a grace
 * period. Takes no lock and writes nothing shared. */
bool iom_rcu_alone(void);
