/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manager.Export's text, and the export files: rendered by lib/export, written atomically, and
 * only when their text changed. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "iom-file.h"
#include "iom-sysfs.h"
#include "log.h"
#include "manager.h"
#include "space.h"

/* The files are written at most this often: a lone change at once, the changes of a burst
 * together this long after the previous write; well within the second promised. */
#define EXPORT_INTERVAL_USEC (100 * 1000)

/* A file found at start is read back up to this size, to be left alone if it says the same;
 * a larger one is replaced. */
#define EXPORT_SIZE_MAX (4 * 1024 * 1024)

/* The groups kept on vfio-pci after a failed reset or quarantine_after: the journal's records,
 * as the inventory shows them. */
static unsigned quarantined_groups(const struct iom_inventory *inv) {
        unsigned n = 0;

        for (size_t i = 0; inv && i < inv->n_groups; i++)
                n += !!inv->groups[i]->quarantine;
        return n;
}

/* Renders @format from @l, with the daemon's counters and spaces beside it. */
static int render(struct manager *m, const struct iom_export_listing *l,
                  enum iom_export_format format, char **ret) {
        _cleanup_free_ struct iom_export_space *spaces = NULL;
        struct iom_export_state state = {
                .binder_failures = m->binder_failures,
                .policy_reloads = m->policy_reloads,
                .policy_reload_errors = m->policy_reload_errors,
                .quarantined_groups = quarantined_groups(m->inventory),
                .n_spaces = m->n_spaces,
        };

        spaces = calloc(m->n_spaces + 1, sizeof(*spaces));
        if (!spaces)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_spaces; i++) {
                struct iom_space_stats stats;

                iom_space_get_stats(m->spaces[i]->core, &stats);
                spaces[i] = (struct iom_export_space){
                        .id = m->spaces[i]->id,
                        .guest = m->spaces[i]->guest,
                        .mappings = stats.mappings,
                        .mapped_bytes = stats.mapped_bytes,
                };
        }
        state.spaces = spaces;
        return iom_export_listing_render(l, format, &state, ret);
}

int manager_export(struct manager *m, enum iom_export_format format, char **ret) {
        _cleanup_(iom_export_listing_freep) struct iom_export_listing *l = NULL;
        int r;

        r = iom_export_listing_new(m->inventory, m->policy, &l);
        if (r < 0)
                return r;
        return render(m, l, format, ret);
}

/* Writes @format to @path unless *@last (what was written before) says the same. */
static void write_file(struct manager *m, const struct iom_export_listing *l, const char *path,
                       enum iom_export_format format, char **last) {
        _cleanup_free_ char *text = NULL;
        int r;

        if (!path)
                return;
        r = render(m, l, format, &text);
        if (r < 0) {
                log_warning_errno(r, "Failed to render %s for %s, ignoring: %m",
                                  iom_export_format_to_string(format), path);
                return;
        }
        if (*last && streq(*last, text))
                return;
        r = iom_file_replace(path, text, 0644, false);
        if (r < 0) {
                log_warning_errno(r, "Failed to write %s, ignoring: %m", path);
                return;
        }
        log_debug("Wrote %s.", path);
        free(*last);
        *last = TAKE_PTR(text);
}

/* One pass per change: the groups are judged once, for both files. */
static void write_files(struct manager *m) {
        _cleanup_(iom_export_listing_freep) struct iom_export_listing *l = NULL;
        uint64_t begin = now_usec();
        int r;

        r = iom_export_listing_new(m->inventory, m->policy, &l);
        if (r < 0) {
                log_warning_errno(r, "Failed to list the assignable groups for the export files, "
                                     "ignoring: %m");
                return;
        }
        write_file(m, l, m->nfd_file, IOM_EXPORT_NFD, &m->nfd_written);
        write_file(m, l, m->metrics_file, IOM_EXPORT_PROMETHEUS, &m->metrics_written);
        log_debug("Export files done in %" PRIu64 " us.", now_usec() - begin);
}

static int on_exports_due(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;

        m->export_source = sd_event_source_unref(m->export_source);
        m->export_last_usec = usec;
        write_files(m);
        return 0;
}

void manager_exports_changed(struct manager *m) {
        uint64_t now, when;
        int r;

        if ((!m->nfd_file && !m->metrics_file) || !m->inventory || m->export_source)
                return;
        r = sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (r >= 0) {
                /* A time already past fires at the next iteration, after what is being
                 * dispatched now: what changes together is written together. */
                when = MAX(now, m->export_last_usec + EXPORT_INTERVAL_USEC);
                /* Accuracy 1 µs: 0 would let sd-event defer it by its default 250 ms. */
                r = sd_event_add_time(m->event, &m->export_source, CLOCK_MONOTONIC, when, 1,
                                      on_exports_due, m);
        }
        if (r < 0)
                log_warning_errno(r, "Failed to schedule writing the export files, ignoring: %m");
}

/* What a previous daemon left in @path, as if this one had written it: a restart rewrites
 * only a file whose bytes change. NULL when there is none, or it holds a NUL (no text of
 * ours), or it is no regular file: a FIFO or a device there is replaced by the file, as it
 * would be on the next change anyway, and never read (a FIFO would stop the start). */
static char *read_written(const char *path) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        r = iom_read_file(path, EXPORT_SIZE_MAX, &text, &size);
        if (r == -EBADFD)
                log_notice("%s is not a regular file, replacing it.", path);
        if (r < 0 || strlen(text) != size)
                return NULL;
        return TAKE_PTR(text);
}

void manager_exports_start(struct manager *m) {
        if (m->nfd_file) {
                iom_file_remove_stale_temporaries(m->nfd_file);
                m->nfd_written = read_written(m->nfd_file);
        }
        if (m->metrics_file) {
                iom_file_remove_stale_temporaries(m->metrics_file);
                m->metrics_written = read_written(m->metrics_file);
        }
        write_files(m);
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &m->export_last_usec);
}
