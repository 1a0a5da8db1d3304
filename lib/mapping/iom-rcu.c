/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The writer's side of the mapping core's grace periods: the reader registry, grace periods
 * begun and polled, and iom_rcu_synchronize(). The scheme is described in iom-rcu.h. */
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "iom-rcu.h"

_Thread_local struct iom_rcu_reader iom_rcu_self __attribute__((tls_model("initial-exec")));
bool iom_rcu_reader_fence;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct iom_rcu_reader *readers;
/* Changed under the lock, read by iom_rcu_alone() without it; have_membarrier goes from false
 * to true once, before the first registration counts itself. */
static unsigned n_readers;
static bool membarrier_checked, have_membarrier;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
/* Grace periods begun and ended, one at a time, under the lock; gp_done is also read without
 * it (a poll that finds its cookie ended takes no lock). */
static uint64_t gp_begun, gp_done;

static void reader_unregister(void *p) {
        struct iom_rcu_reader *r = p;

        pthread_mutex_lock(&registry_lock);
        if (r->prev)
                r->prev->next = r->next;
        else
                readers = r->next;
        if (r->next)
                r->next->prev = r->prev;
        /* Release: a writer that sees the lower count sees this reader's sections ended. */
        __atomic_fetch_sub(&n_readers, 1, __ATOMIC_RELEASE);
        r->registered = false;
        pthread_mutex_unlock(&registry_lock);
}

static void key_init(void) {
        /* Without the key a thread's exit would leave a dangling entry: nothing to fall back
         * to, and pthread_key_create() only fails when PTHREAD_KEYS_MAX keys exist. */
        if (pthread_key_create(&exit_key, reader_unregister) != 0)
                abort();
}

static void full_barrier_everywhere(void) {
#ifndef IOM_RCU_TSAN
        if (have_membarrier &&
            syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
                return;
#endif
        /* Readers fence themselves (no membarrier, or ThreadSanitizer's exchange); ours is a
         * locked read-modify-write, which ThreadSanitizer understands and a fence it does not. */
        static uint64_t dummy;
        (void) __atomic_fetch_add(&dummy, 0, __ATOMIC_SEQ_CST);
}

void iom_rcu_register(void) {
        struct iom_rcu_reader *r = &iom_rcu_self;

        (void) pthread_once(&key_once, key_init);
        pthread_mutex_lock(&registry_lock);
        if (!membarrier_checked) {
                __atomic_store_n(&have_membarrier,
                                 syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                                         0, 0) == 0,
                                 __ATOMIC_RELAXED);
                iom_rcu_reader_fence = !have_membarrier;
                membarrier_checked = true;
        }
        r->prev = NULL;
        r->wait = 0;
        r->next = readers;
        if (readers)
                readers->prev = r;
        readers = r;
        r->registered = true;
        /* A writer that found itself alone frees what it unpublished at once, so this thread
         * must either be counted before that check or read after that unpublish: the
         * read-modify-write here orders it against the writer's (its fallback), the barrier
         * after it against the writer's plain load (iom_rcu_alone()). */
        (void) __atomic_fetch_add(&n_readers, 1, __ATOMIC_SEQ_CST);
        full_barrier_everywhere();
        pthread_mutex_unlock(&registry_lock);
        (void) pthread_setspecific(exit_key, r);
}

/* No other thread has ever read: nobody can hold an old pointer. The caller unpublished
 * before; a thread registering counts itself and then runs full_barrier_everywhere(), so
 * either this load sees it counted, or the barrier came after the load and so after the
 * unpublish, and the thread's reads, after the barrier, cannot find what was unpublished.
 * Without membarrier(2) (or under ThreadSanitizer, which does not model it) a
 * read-modify-write instead: it and the registration's are ordered, and the later one sees
 * the earlier's writes. */
bool iom_rcu_alone(void) {
        unsigned n;

        __atomic_signal_fence(__ATOMIC_SEQ_CST); /* after the caller's unpublish */
#ifndef IOM_RCU_TSAN
        if (__atomic_load_n(&have_membarrier, __ATOMIC_RELAXED))
                n = __atomic_load_n(&n_readers, __ATOMIC_ACQUIRE);
        else
#endif
                n = __atomic_fetch_add(&n_readers, 0, __ATOMIC_SEQ_CST);
        return n == 0 || (n == 1 && iom_rcu_self.registered);
}

/* Ends the grace period in progress if every reader it waits for has left the section it was
 * in. Under the lock. */
static void gp_advance(void) {
        for (struct iom_rcu_reader *r = readers; r; r = r->next) {
                if (r->wait && __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE) == r->wait)
                        return;
                r->wait = 0;
        }
        __atomic_store_n(&gp_done, gp_begun, __ATOMIC_RELEASE);
}

/* Begins the next grace period: the barrier, then which reader is inside a section (odd), and
 * in which one. Under the lock, with none in progress. */
static void gp_begin(void) {
        gp_begun++;
        full_barrier_everywhere();
        for (struct iom_rcu_reader *r = readers; r; r = r->next) {
                /* Acquire also for readers outside: their last section's loads come before. */
                uint64_t s = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE);

                r->wait = r != &iom_rcu_self && s & 1 ? s : 0;
        }
        gp_advance();
}

uint64_t iom_rcu_start(void) {
        uint64_t cookie = 0;

        pthread_mutex_lock(&registry_lock);
        if (!iom_rcu_alone()) {
                if (gp_done != gp_begun)
                        gp_advance();
                /* One in progress began before our unpublish, perhaps: the next one counts, and
                 * a poll begins it when this one ends. */
                if (gp_done != gp_begun)
                        cookie = gp_begun + 1;
                else {
                        gp_begin();
                        cookie = gp_begun;
                }
        }
        pthread_mutex_unlock(&registry_lock);
        return cookie;
}

bool iom_rcu_poll(uint64_t cookie) {
        bool done;

        if (__atomic_load_n(&gp_done, __ATOMIC_ACQUIRE) >= cookie)
                return true;
        pthread_mutex_lock(&registry_lock);
        if (gp_done != gp_begun)
                gp_advance();
        if (gp_done == gp_begun && gp_done < cookie)
                gp_begin();
        done = gp_done >= cookie;
        pthread_mutex_unlock(&registry_lock);
        return done;
}

void iom_rcu_synchronize(void) {
        uint64_t cookie = iom_rcu_start();

        while (!iom_rcu_poll(cookie))
                (void) sched_yield();
}
