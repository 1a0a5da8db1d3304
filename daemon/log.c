/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Daemon logging, and the sink for libiom's debug messages. */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "iom-log.h"
#include "log.h"

static int max_level = LOG_INFO;
static bool to_journal;

/* Our stderr is the journal when $JOURNAL_STREAM names its device and inode (systemd.exec(5)). */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == dev && st.st_ino == ino;
}

static void vlog(int level, int error, const char *file, int line, const char *func,
                 const char *format, va_list ap) {
        char message[2048];

        if (level > max_level)
                return;
        errno = error;
        (void) vsnprintf(message, sizeof(message), format, ap);
        if (to_journal) {
                char code_line[32];
                (void) snprintf(code_line, sizeof(code_line), "CODE_LINE=%d", line);
                (void) sd_journal_send("MESSAGE=%s", message, "PRIORITY=%d", level, "CODE_FILE=%s",
                                       file, code_line, "CODE_FUNC=%s", func,
                                       error ? "ERRNO=%d" : NULL, error, NULL);
                return;
        }
        fprintf(stderr, "iommud: %s\n", message);
}

static void lib_log(int priority, const char *file, int line, const char *func, const char *format,
                    va_list ap) {
        vlog(priority, errno, file, line, func, format, ap);
}

void log_setup(void) {
        to_journal = stderr_is_journal();
        iom_log_set_func(lib_log);
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) {
        va_list ap;

        if (error < 0)
                error = -error;
        va_start(ap, format);
        vlog(level, error, file, line, func, format, ap);
        va_end(ap);
        return -error;
}

void log_refused_internal(const char *file, int line, const char *func, const char *format, ...) {
        static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
        static time_t window_start;
        static unsigned in_window, left_out;
        struct timespec now;
        unsigned told = 0;
        bool pass;
        va_list ap;

        (void) clock_gettime(CLOCK_MONOTONIC, &now);
        (void) pthread_mutex_lock(&lock);
        if (now.tv_sec - window_start >= (time_t) LOG_REFUSED_INTERVAL_SEC) {
                window_start = now.tv_sec;
                in_window = 0;
        }
        pass = in_window < LOG_REFUSED_BURST;
        if (pass) {
                in_window++;
                told = left_out;
                left_out = 0;
        } else
                left_out++;
        (void) pthread_mutex_unlock(&lock);
        if (!pass)
                return;
        if (told > 0)
                log_internal(LOG_NOTICE, 0, file, line, func,
                             "%u more refusals were not logged (at most %u in %u s).", told,
                             LOG_REFUSED_BURST, LOG_REFUSED_INTERVAL_SEC);
        va_start(ap, format);
        vlog(LOG_NOTICE, 0, file, line, func, format, ap);
        va_end(ap);
}
