/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The writer's side of the mapping core's grace periods: the reader registry and
 * iom_rcu_synchronize(). The scheme is described in iom-rcu.h. */
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "iom-rcu.h"

_Thread_local struct iom_rcu_reader iom_rcu_self;
bool iom_rcu_reader_fence;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct iom_rcu_reader *readers;
static unsigned n_readers;
static bool membarrier_checked, have_membarrier;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

static void reader_unregister(void *p) {
        struct iom_rcu_reader *r = p;

        pthread_mutex_lock(&registry_lock);
        if (r->prev)
                r->prev->next = r->next;
        else
                readers = r->next;
        if (r->next)
                r->next->prev = r->prev;
        n_readers--;
        r->registered = false;
        pthread_mutex_unlock(&registry_lock);
}

static void key_init(void) {
        /* Without the key a thread's exit would leave a dangling entry: nothing to fall back
         * to, and pthread_key_create() only fails when PTHREAD_KEYS_MAX keys exist. */
        if (pthread_key_create(&exit_key, reader_unregister) != 0)
                abort();
}

void iom_rcu_register(void) {
        struct iom_rcu_reader *r = &iom_rcu_self;

        (void) pthread_once(&key_once, key_init);
        pthread_mutex_lock(&registry_lock);
        if (!membarrier_checked) {
                have_membarrier = syscall(__NR_membarrier,
                                          MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
                iom_rcu_reader_fence = !have_membarrier;
                membarrier_checked = true;
        }
        r->prev = NULL;
        r->next = readers;
        if (readers)
                readers->prev = r;
        readers = r;
        n_readers++;
        r->registered = true;
        pthread_mutex_unlock(&registry_lock);
        (void) pthread_setspecific(exit_key, r);
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

void iom_rcu_synchronize(void) {
        struct iom_rcu_reader *self = &iom_rcu_self;

        pthread_mutex_lock(&registry_lock);
        /* No other thread has ever read: nobody can hold an old pointer. A thread registering
         * later takes the lock after us and so sees everything we unpublished. */
        if (n_readers == 0 || (n_readers == 1 && self->registered)) {
                pthread_mutex_unlock(&registry_lock);
                return;
        }
        full_barrier_everywhere();
        for (struct iom_rcu_reader *r = readers; r; r = r->next) {
                uint64_t s;

                if (r == self)
                        continue;
                s = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE);
                if (!(s & 1))
                        continue;
                while (__atomic_load_n(&r->seq, __ATOMIC_ACQUIRE) == s)
                        (void) sched_yield();
        }
        pthread_mutex_unlock(&registry_lock);
}
