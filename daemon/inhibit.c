/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* logind's sleep inhibitor: a host that suspends under a guest holding a device may never give
 * the device back to it (or to the host), so while any guest owns a group iommud holds an
 * inhibitor lock (org.freedesktop.login1.Manager.Inhibit, "sleep"; see
 * https://systemd.io/INHIBITOR_LOCKS). The lock is a file descriptor: closing it releases it,
 * and so does the daemon's death, so a crash never leaves the host unable to sleep. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "inhibit.h"
#include "iom-policy.h"
#include "log.h"
#include "manager.h"

static bool any_group_owned(const struct manager *m) {
        for (size_t i = 0; m->inventory && i < m->inventory->n_groups; i++)
                if (m->inventory->groups[i]->owner)
                        return true;
        return false;
}

static void emit_changed(struct manager *m) {
        (void) sd_bus_emit_properties_changed(m->bus, IOMMUD_PATH, "org.iommud1.Manager",
                                              "SleepInhibitor", NULL);
}

void inhibit_release(struct manager *m) {
        bool held = m->inhibit_fd >= 0;

        m->inhibit_slot = sd_bus_slot_unref(m->inhibit_slot);
        if (held)
                (void) close(m->inhibit_fd);
        m->inhibit_fd = -EBADF;
        m->inhibit_mode = NULL;
        if (held) {
                log_info("Released logind's sleep inhibitor.");
                emit_changed(m);
        }
}

static int on_inhibit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        struct manager *m = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int fd, r;

        m->inhibit_slot = sd_bus_slot_unref(m->inhibit_slot);
        if (e) {
                /* The mode stays: no new try, and no new warning, until no guest owns a
                 * group and one does again. */
                log_warning("Cannot take logind's sleep inhibitor (%s), ignoring: the host may "
                            "suspend while a guest owns a device.",
                            e->message ? e->message : e->name);
                return 0;
        }
        r = sd_bus_message_read(reply, "h", &fd);
        if (r >= 0) {
                fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                r = fd < 0 ? negative_errno() : 0;
        }
        if (r < 0) {
                log_warning_errno(r, "Cannot read logind's inhibitor lock, ignoring: %m");
                return 0;
        }
        m->inhibit_fd = fd;
        log_info("Holding logind's sleep inhibitor (%s): a guest owns a group.", m->inhibit_mode);
        emit_changed(m);
        return 0;
}

void inhibit_update(struct manager *m) {
        const char *want = NULL;
        int r;

        if (!m->sleep_match)
                return; /* not serving yet: inhibit_start() calls again */
        if (!m->preparing_sleep && m->policy &&
            m->policy->sleep_inhibit != IOM_SLEEP_INHIBIT_NONE && any_group_owned(m))
                want = iom_sleep_inhibit_to_string(m->policy->sleep_inhibit);
        if (want && m->inhibit_mode && streq(want, m->inhibit_mode))
                return;
        if (m->inhibit_mode)
                inhibit_release(m);
        if (!want)
                return;
        r = sd_bus_call_method_async(
                m->bus, &m->inhibit_slot, "org.freedesktop.login1", "/org/freedesktop/login1",
                "org.freedesktop.login1.Manager", "Inhibit", on_inhibit_reply, m, "ssss", "sleep",
                "iommud", "A guest owns PCI devices; they would not survive a suspend", want);
        if (r < 0)
                return (void) log_warning_errno(r, "Cannot ask logind for a sleep inhibitor, "
                                                   "ignoring: %m");
        m->inhibit_mode = want;
}

/* PrepareForSleep(true): the host goes to sleep, which a block lock would have prevented, so
 * this is a delay lock (or another program's decision): say so and let it go, as logind asks
 * of delay locks. PrepareForSleep(false): the host woke up; take it again. */
static int on_prepare_for_sleep(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        struct manager *m = userdata;
        int sleeping, r;

        r = sd_bus_message_read(message, "b", &sleeping);
        if (r < 0)
                return log_warning_errno(r, "Cannot read logind's PrepareForSleep, ignoring: %m");
        m->preparing_sleep = sleeping;
        if (sleeping && any_group_owned(m))
                log_warning("The host is going to sleep while a guest owns a group: its devices "
                            "may not come back to it.");
        inhibit_update(m);
        return 0;
}

int inhibit_start(struct manager *m) {
        int r;

        r = sd_bus_match_signal_async(m->bus, &m->sleep_match, "org.freedesktop.login1",
                                      "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
                                      "PrepareForSleep", on_prepare_for_sleep, NULL, m);
        if (r < 0)
                return log_error_errno(r, "Failed to follow logind's PrepareForSleep: %m");
        inhibit_update(m);
        return 0;
}

void inhibit_stop(struct manager *m) {
        inhibit_release(m);
        m->sleep_match = sd_bus_slot_unref(m->sleep_match);
}
