/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Moving whole IOMMU groups between drivers, journaled and rolled back (DESIGN.md,
 * "Rebinding is a transaction"). Runs on a job's worker thread: every sysfs step has a
 * deadline (lib/iom-bind.c), and the journal is only touched under its lock. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "binder-group.h"
#include "iom-error.h"
#include "binder.h"
#include "iom-bind.h"
#include "iom-inuse.h"
#include "iom-strv.h"
#include "log.h"
#include "manager.h"

/* How long one driver may take to let go of a device or to bind it. */
#define STEP_TIMEOUT_USEC (15ULL * 1000 * 1000)

/* IOMMUD_TEST_CRASH_AT=after-override|after-unbind|before-commit kills the daemon at that
 * step, so the tests can prove that the next start finishes or rolls back what it finds. */
static void crash_point(const char *name) {
        const char *at = getenv("IOMMUD_TEST_CRASH_AT");

        if (at && streq(at, name)) {
                log_warning("IOMMUD_TEST_CRASH_AT=%s: dying here on purpose.", name);
                (void) raise(SIGKILL);
        }
}

enum journal_step {
        JOURNAL_BEGIN,      /* record the intent */
        JOURNAL_COMMIT,     /* drop it, and record the new owner (assign) or none (release) */
        JOURNAL_ABORT,      /* drop it: the group was put back as it was, owner and all */
        JOURNAL_UNDO,       /* a committed group was put back: drop the claim an assign made */
        JOURNAL_RECOVERED,  /* an intent a crash left was put home: drop it and the claim */
        JOURNAL_QUARANTINE, /* a released group stays on vfio-pci: the claim becomes a quarantine */
        JOURNAL_RESETS,     /* only record the resets tried */
};

static int journal_step_apply(struct iom_journal *j, const struct iom_plan *plan, unsigned group,
                              enum journal_step step) {
        bool home = plan->op == IOM_PLAN_RELEASE &&
                    (step == JOURNAL_COMMIT || step == JOURNAL_RECOVERED);
        size_t first;
        int r;

        if (step == JOURNAL_BEGIN)
                return iom_journal_begin(j, plan, group);
        r = iom_journal_record_resets(j, plan, group);
        if (r < 0 || step == JOURNAL_RESETS)
                return r;
        if (step == JOURNAL_QUARANTINE) {
                (void) iom_plan_group_steps(plan, group, &first);
                iom_journal_unclaim(j, group);
                return iom_journal_quarantine(j, plan, group, plan->steps[first].quarantine);
        }
        if (step != JOURNAL_UNDO)
                iom_journal_end(j, group);
        if (step == JOURNAL_COMMIT && plan->op == IOM_PLAN_ASSIGN)
                return iom_journal_claim(j, plan, group);
        if (home)
                iom_journal_unquarantine(j, group);
        if (home || (step == JOURNAL_UNDO && plan->op == IOM_PLAN_ASSIGN) ||
            (step == JOURNAL_RECOVERED && plan->op != IOM_PLAN_REBIND))
                iom_journal_unclaim(j, group);
        return 0;
}

/* Makes @step on a copy of the journal, which replaces it only once saved: after a failed save
 * the journal in memory is still the one on disk, so no later save records what this one
 * could not (the claim of a commit that was then rolled back, say). */
static int journal_update(struct manager *m, const struct iom_plan *plan, unsigned group,
                          enum journal_step step) {
        struct iom_journal *next = NULL;
        int r;

        (void) pthread_mutex_lock(&m->journal_save_lock);
        r = iom_journal_copy(m->journal, &next);
        if (r >= 0)
                r = journal_step_apply(next, plan, group, step);
        if (r >= 0)
                r = manager_save_journal(m, TAKE_PTR(next));
        (void) pthread_mutex_unlock(&m->journal_save_lock);
        iom_journal_free(next);
        return r;
}

/* Puts @a on @target (NULL: no driver), leaving driver_override at @final_override. The
 * override is written first so that the probe after the unbind binds exactly @target
 * (never new_id: it would capture every device with these ids); with no @target, the final
 * override goes first, so that nothing binds the device between the unbind and its write. */
static int move_device(const struct iom_address *a, const char *target, const char *final_override,
                       char **ret_error) {
        _cleanup_free_ char *current = NULL;
        char buf[IOM_ADDRESS_STRING_MAX];
        int r;

        iom_address_format(a, buf);
        r = iom_bind_set_override(a, target ? target : final_override, STEP_TIMEOUT_USEC);
        if (r < 0)
                return iom_error(ret_error, r, "%s: cannot set driver_override: %s", buf,
                                 strerror(-r));
        crash_point("after-override");

        r = iom_bind_get_driver(a, &current);
        if (r < 0)
                return iom_error(ret_error, r, "%s: cannot read its driver: %s", buf, strerror(-r));
        if (current && (!target || !streq(current, target))) {
                _cleanup_free_ char *holders = NULL;
                r = iom_bind_unbind(a, STEP_TIMEOUT_USEC, &holders);
                if (r == -ETIMEDOUT)
                        return iom_error(ret_error, r, "%s: %s did not let go of it in time%s%s",
                                         buf, current, holders ? "; held by " : "",
                                         strempty(holders));
                if (r < 0)
                        return iom_error(ret_error, r, "%s: cannot unbind %s: %s", buf, current,
                                         strerror(-r));
        }
        crash_point("after-unbind");

        if (target) {
                r = iom_bind_probe(a, STEP_TIMEOUT_USEC);
                if (r < 0)
                        return iom_error(ret_error, r, "%s: drivers_probe failed: %s", buf,
                                         strerror(-r));
                /* The driver rejected the device, or took too long: unlike a stuck unbind,
                 * nothing holds the device, so the caller can put it back (-EIO, not
                 * -ETIMEDOUT). */
                r = iom_bind_wait_driver(a, target, STEP_TIMEOUT_USEC);
                if (r == -ETIMEDOUT)
                        return iom_error(ret_error, -EIO,
                                         "%s: %s did not bind it within %llu s (it rejected the "
                                         "device, or was too slow)",
                                         buf, target, STEP_TIMEOUT_USEC / 1000000);
                if (r < 0)
                        return iom_error(ret_error, r, "%s: %s did not bind it: %s", buf, target,
                                         strerror(-r));
        }
        if ((final_override == NULL) != (target == NULL) ||
            (final_override && !streq(final_override, target))) {
                r = iom_bind_set_override(a, final_override, STEP_TIMEOUT_USEC);
                if (r < 0)
                        return iom_error(ret_error, r, "%s: cannot set driver_override: %s", buf,
                                         strerror(-r));
        }
        return 0;
}

const char *binder_step_final_override(const struct iom_plan *plan, const struct iom_plan_step *s) {
        if (s->quarantine)
                return s->to; /* it stays where it is, on vfio-pci */
        if (plan->op == IOM_PLAN_RELEASE)
                return NULL;
        /* Documentation/ABI/testing/sysfs-bus-pci, driver_override: a name such as "none"
         * opts the device out of driver binding. */
        if (plan->op == IOM_PLAN_REBIND && !s->to)
                return IOM_NO_DRIVER;
        return s->to;
}

static bool step_is_noop(const struct iom_plan *plan, const struct iom_plan_step *s) {
        const char *want = binder_step_final_override(plan, s);
        bool same_driver =
                (s->from == NULL) == (s->to == NULL) && (!s->to || streq(s->from, s->to));
        bool same_override = (want == NULL) == (s->from_override == NULL) &&
                             (!want || streq(want, s->from_override));
        return same_driver && same_override;
}

/* The driver sysfs shows on the device of @s when it is one other than vfio-pci, else NULL.
 * Read from sysfs: the inventory may not have seen libvirt's move yet. */
static char *host_driver_now(const struct iom_plan_step *s) {
        _cleanup_free_ char *current = NULL;

        if (iom_bind_get_driver(&s->address, &current) < 0 || !current ||
            iom_driver_is_vfio(current))
                return NULL;
        return TAKE_PTR(current);
}

/* Sets each step's driver to the one sysfs shows as the job starts. The plan was made from the
 * inventory, which follows the kernel's uevents some time behind (udev forwards them once its
 * rules ran, and daemon/hotplug.c reads them in batches), while others move devices too:
 * libvirt detaches and reattaches managed='yes' hostdevs itself. What the journal records as a
 * device's way home, what a rollback puts back and what the reply says start from here. Only
 * the driver link: reading driver_override takes the device lock, which a held device keeps. */
static int steps_read_drivers(struct iom_plan *plan) {
        for (size_t i = 0; i < plan->n_steps; i++) {
                struct iom_plan_step *s = &plan->steps[i];
                _cleanup_free_ char *now = NULL;
                char a[IOM_ADDRESS_STRING_MAX];
                int r;

                r = iom_bind_get_driver(&s->address, &now);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || streq_ptr(now, s->from))
                        continue; /* a device that went fails its move, named there */
                log_debug("%s is on %s, not on %s as the inventory had it.",
                          iom_address_format(&s->address, a), now ?: "no driver",
                          s->from ?: "no driver");
                free(s->from);
                s->from = TAKE_PTR(now);
        }
        return 0;
}

/* A release leaves where it is a device that someone else already gave back to a host driver:
 * libvirt reattaches a managed='yes' hostdev itself, before its release hook and its stop
 * event. Moving it again would take it from the host a second time, and put a device adopted
 * on vfio-pci (its recorded driver) back there. The step then says so, from and to the driver
 * it is on: the reply, and the inventory the job's completion updates from it. */
static bool returned_by_someone_else(const struct iom_plan *plan, struct iom_plan_step *s,
                                     unsigned group) {
        _cleanup_free_ char *current = NULL;
        char a[IOM_ADDRESS_STRING_MAX], *from;

        if (plan->op != IOM_PLAN_RELEASE || !(current = host_driver_now(s)))
                return false;
        log_info("IOMMU group %u: %s is back on %s already; left there.", group,
                 iom_address_format(&s->address, a), current);
        from = strdup(current);
        if (from) { /* else the reply keeps the plan's word */
                free(s->from);
                s->from = from;
        }
        free(s->to);
        s->to = TAKE_PTR(current);
        return true;
}

/* disable_d3cold: while a guest owns the device the platform must not cut its power (D3cold):
 * the guest's driver does not expect it, and some devices never come back from it. */
static void keep_d3cold_off(struct iom_plan_step *s) {
        char a[IOM_ADDRESS_STRING_MAX];
        bool was;
        int r;

        if (!s->d3cold_off || s->bridge)
                return;
        r = iom_bind_set_d3cold(&s->address, false, STEP_TIMEOUT_USEC, &was);
        if (r < 0) {
                log_warning_errno(r, "%s: cannot turn d3cold_allowed off, ignoring: %m",
                                  iom_address_format(&s->address, a));
                return;
        }
        s->d3cold_was = was ? IOM_D3COLD_WAS_ON : IOM_D3COLD_WAS_OFF;
}

static void restore_d3cold(const struct iom_plan_step *s) {
        char a[IOM_ADDRESS_STRING_MAX];
        int r;

        if (s->d3cold_was == IOM_D3COLD_UNTOUCHED)
                return;
        r = iom_bind_set_d3cold(&s->address, s->d3cold_was == IOM_D3COLD_WAS_ON, STEP_TIMEOUT_USEC,
                                NULL);
        if (r < 0)
                log_warning_errno(r, "%s: cannot restore d3cold_allowed, ignoring: %m",
                                  iom_address_format(&s->address, a));
}

/* Puts steps [0, n) of an @op back where they were, the last first. Failures are logged:
 * there is no better state to fall back to, and the journal keeps the intent so the next start
 * retries. A release undone goes back to its guest, so D3cold stays off as the guest had it
 * (reset_group() gave it back already); anything else gets back what it had. */
static int undo_steps(enum iom_plan_op op, const struct iom_plan_step *steps, size_t n) {
        int ret = 0;

        for (size_t i = n; i > 0; i--) {
                _cleanup_free_ char *error = NULL;
                const struct iom_plan_step *s = &steps[i - 1];
                char a[IOM_ADDRESS_STRING_MAX];
                if (op != IOM_PLAN_RELEASE)
                        restore_d3cold(s);
                else if (s->d3cold_was != IOM_D3COLD_UNTOUCHED && !s->bridge &&
                         iom_bind_set_d3cold(&s->address, false, STEP_TIMEOUT_USEC, NULL) < 0)
                        log_warning("%s: cannot turn d3cold_allowed off again for its guest, "
                                    "ignoring.",
                                    iom_address_format(&s->address, a));
                int r = move_device(&s->address, s->from, s->from_override, &error);
                if (r < 0) {
                        log_error("Rollback failed: %s", strempty(error));
                        ret = r;
                }
        }
        return ret;
}

/* Refuses devices the host uses behind, each use named. An administrator's force overrides
 * it where the policy rule that allowed the device says allow_in_use (assign), or always for
 * a rebind, which no guest asks for. */
static int check_in_use(const struct iom_plan *plan, const struct iom_plan_step *steps, size_t n,
                        bool force, char **ret_error) {
        _cleanup_(iom_strv_done) struct iom_strv found = {};
        _cleanup_free_ char *text = NULL;

        for (size_t i = 0; i < n; i++) {
                if (force && (plan->op == IOM_PLAN_REBIND || steps[i].allow_in_use))
                        continue;
                _cleanup_free_ char *uses = NULL;
                char a[IOM_ADDRESS_STRING_MAX], *sentence;
                int r;

                if (!steps[i].from)
                        continue; /* nothing of the host's is behind an unbound device */
                iom_address_format(&steps[i].address, a);
                r = iom_inuse_describe(&steps[i].address, &uses);
                if (r < 0)
                        return iom_error(ret_error, r,
                                         "cannot tell what the host uses behind %s: %s", a,
                                         strerror(-r));
                if (!uses)
                        continue;
                if (asprintf(&sentence, "the host is using %s: %s", a, uses) < 0 ||
                    iom_strv_push(&found, sentence) < 0)
                        return -ENOMEM;
        }
        if (!found.v)
                return 0;
        text = iom_strv_join(found.v, "; ");
        if (!text)
                return -ENOMEM;
        return iom_error(ret_error, -EBUSY, "%s (%s)", text,
                         force ? "force needs a policy rule with allow_in_use"
                               : "force overrides where the policy allows it");
}

/* Every driver the steps go to must be there: registered, or loaded from its module now (a
 * dry run only asks modprobe whether it could). Refused before anything moves. */
static int check_drivers(const struct iom_plan_step *steps, size_t n, bool dry_run,
                         char **ret_error) {
        for (size_t i = 0; i < n; i++) {
                int r;

                if (!steps[i].to)
                        continue;
                r = iom_bind_load_module(steps[i].to, dry_run, STEP_TIMEOUT_USEC);
                if (r == -ENOENT)
                        return iom_error(ret_error, r,
                                         "no driver '%s' is registered on the PCI bus, nor a "
                                         "module of that name",
                                         steps[i].to);
                if (r == -ENOPKG)
                        return iom_error(ret_error, -ENOENT,
                                         "no driver '%s' is registered on the PCI bus, and there "
                                         "is no modprobe to load its module",
                                         steps[i].to);
                if (r < 0)
                        return iom_error(ret_error, r, "cannot load %s: %s", steps[i].to,
                                         strerror(-r));
        }
        return 0;
}

/* Everything that decides whether @group may move, before the journal or sysfs is written:
 * what a dry run answers, and what a real run checks first. */
static int check_group(const struct iom_plan *plan, unsigned group, bool force, bool dry_run,
                       char **ret_error) {
        size_t first, n = iom_plan_group_steps(plan, group, &first);
        int r;

        if (plan->op != IOM_PLAN_RELEASE) {
                r = check_in_use(plan, plan->steps + first, n, force, ret_error);
                if (r < 0)
                        return r;
        }
        return check_drivers(plan->steps + first, n, dry_run, ret_error);
}

/* Before a released group goes anywhere, each endpoint that no host driver holds (on vfio-pci,
 * or unbound) gets its d3cold_allowed back and is reset with the method the policy picked,
 * while it is still away from the host's drivers: what the guest left running (DMA, its
 * programming) must not meet a host driver or the next guest. Sets *@ret_reason to why the
 * group must not go home (a reset failed), or NULL. Returns how many devices a host driver
 * has already (not reset). */
static int reset_group(struct iom_plan_step *steps, size_t n, char **ret_reason) {
        _cleanup_free_ char *reason = NULL;
        int returned = 0;

        for (size_t i = 0; i < n; i++) {
                struct iom_plan_step *s = &steps[i];
                _cleanup_free_ char *error = NULL, *current = NULL;
                char a[IOM_ADDRESS_STRING_MAX];
                int r;

                if (s->bridge)
                        continue;
                restore_d3cold(s);
                iom_address_format(&s->address, a);
                /* A host driver has it already (libvirt's managed='yes' reattach): a reset now
                 * would pull the device from under that driver, and the guest's state is gone
                 * with the probe that driver made. Asked of sysfs, never of the plan's driver:
                 * the inventory may not have seen the move yet, or may have (the uevent, or
                 * the re-read after the assign job, came first), and both count as returned. */
                current = host_driver_now(s);
                if (current) {
                        log_info("%s: back on %s already, not reset.", a, current);
                        returned++;
                        continue;
                }
                r = iom_bind_reset(&s->address, s->reset_method, STEP_TIMEOUT_USEC, &error);
                if (r == -ENOMEM)
                        return r;
                /* Unasked, a device that cannot be reset at all goes home as it is (many
                 * can't: functions of a multifunction slot, old devices); a rule that names a
                 * method, "default" included, requires a reset that works. */
                bool skipped = r == -EOPNOTSUPP && !s->reset_method;
                s->reset_result = mfree(s->reset_result);
                if (asprintf(&s->reset_result, "%s%s", skipped ? "skipped: " : "",
                             r >= 0 ? "ok" : strempty(error)) < 0) {
                        s->reset_result = NULL;
                        return -ENOMEM;
                }
                log_info("%s: %s reset %s%s.", a,
                         s->reset_method ? s->reset_method : IOM_RESET_DEFAULT,
                         r >= 0    ? "done"
                         : skipped ? ""
                                   : "failed: ",
                         r >= 0 ? "" : s->reset_result);
                if (r < 0 && !skipped && !reason &&
                    asprintf(&reason, "the reset of %s failed: %s", a, s->reset_result) < 0)
                        return -ENOMEM;
        }
        *ret_reason = TAKE_PTR(reason);
        return returned;
}

/* Keeps a released group on vfio-pci, owned by no guest, for an administrator: the claim
 * becomes a quarantine record with @reason, and the steps say where the devices stay. */
static int quarantine_group(struct manager *m, struct iom_plan *plan, unsigned group,
                            const char *reason, char **ret_error) {
        size_t first, n = iom_plan_group_steps(plan, group, &first);
        int r;

        for (size_t i = first; i < first + n; i++)
                if (!(plan->steps[i].quarantine = strdup(reason)))
                        return -ENOMEM;
        r = journal_update(m, plan, group, JOURNAL_QUARANTINE);
        if (r < 0)
                return iom_error(ret_error, r, "cannot record the quarantine in the journal: %s",
                                 strerror(-r));
        for (size_t i = first; i < first + n; i++) {
                struct iom_plan_step *s = &plan->steps[i];
                free(s->to);
                s->to = s->from ? strdup(s->from) : NULL;
                if (s->from && !s->to)
                        return -ENOMEM;
        }
        log_warning("IOMMU group %u is quarantined: %s. It stays on vfio-pci until an "
                    "administrator lets it go ('iommuctl release --from-quarantine').",
                    group, reason);
        return 0;
}

/* The way home of a released group: reset, then quarantine or go on. Returns 1 when the
 * group was quarantined (nothing more to do), 0 to go on moving it home. */
static int release_reset(struct manager *m, struct iom_plan *plan, unsigned group, bool force,
                         char **ret_error) {
        size_t first, n = iom_plan_group_steps(plan, group, &first);
        _cleanup_free_ char *reason = NULL;
        bool quarantine_after = false;
        int r, returned;

        returned = reset_group(plan->steps + first, n, &reason);
        if (returned < 0)
                return returned;
        if (!plan->owner && reason && !force) {
                (void) journal_update(m, plan, group, JOURNAL_RESETS);
                return iom_error(ret_error, -EIO,
                                 "IOMMU group %u stays quarantined: %s (an administrator's "
                                 "force lets it go without a reset that works)",
                                 group, reason);
        }
        if (!plan->owner)
                return 0;
        /* quarantine_after keeps on vfio-pci what is there: not a group whose devices a host
         * driver has already. */
        for (size_t i = first; i < first + n; i++)
                quarantine_after = quarantine_after || plan->steps[i].quarantine_after;
        if (!reason && quarantine_after && returned == 0 &&
            asprintf(&reason, "the policy quarantines what '%s' gives back (quarantine_after)",
                     plan->owner) < 0)
                return -ENOMEM;
        if (!reason)
                return 0;
        r = quarantine_group(m, plan, group, reason, ret_error);
        return r < 0 ? r : 1;
}

static int run_group(struct manager *m, struct iom_plan *plan, unsigned group, bool force,
                     char **ret_error) {
        size_t first, n = iom_plan_group_steps(plan, group, &first);
        struct iom_plan_step *steps = plan->steps + first;
        size_t done;
        int r;

        r = check_group(plan, group, force, false, ret_error);
        if (r < 0)
                return r;
        if (plan->op == IOM_PLAN_RELEASE) {
                r = release_reset(m, plan, group, force, ret_error);
                if (r != 0)
                        return r < 0 ? r : 0;
        }

        r = journal_update(m, plan, group, JOURNAL_BEGIN);
        if (r < 0)
                return iom_error(ret_error, r, "cannot record the change in the journal: %s",
                                 strerror(-r));
        for (done = 0; done < n; done++) {
                if (step_is_noop(plan, &steps[done]) ||
                    returned_by_someone_else(plan, &steps[done], group))
                        continue;
                r = move_device(&steps[done].address, steps[done].to,
                                binder_step_final_override(plan, &steps[done]), ret_error);
                if (r == -ETIMEDOUT) {
                        /* The kernel still runs the unbind, holding the device: nothing can be
                         * undone now. The intent stays; the daemon puts the group home once
                         * the holder lets go (the unbind's uevent triggers the retry). */
                        log_warning("IOMMU group %u: %s; left for when the device is free.", group,
                                    strempty(*ret_error));
                        return r;
                }
                if (r < 0) {
                        done++; /* the failing device may be half moved: undo it too */
                        goto rollback;
                }
        }
        if (plan->op == IOM_PLAN_ASSIGN && group != UINT32_MAX) {
                r = iom_bind_wait_vfio_node(group, STEP_TIMEOUT_USEC);
                if (r < 0) {
                        (void) iom_error(ret_error, r, "/dev/vfio/%u did not appear: %s", group,
                                         strerror(-r));
                        goto rollback;
                }
                for (size_t i = 0; i < n; i++)
                        keep_d3cold_off(&steps[i]);
        }
        crash_point("before-commit");
        r = journal_update(m, plan, group, JOURNAL_COMMIT);
        if (r < 0) {
                (void) iom_error(ret_error, r, "cannot record the change in the journal: %s",
                                 strerror(-r));
                goto rollback;
        }
        return 0;

rollback:
        log_warning("IOMMU group %u: %s; putting it back.", group, strempty(*ret_error));
        if (undo_steps(plan->op, steps, done) >= 0)
                (void) journal_update(m, plan, group, JOURNAL_ABORT);
        return r;
}

/* Undoes a group this job finished, when a later group of the same job failed. */
static void undo_group(struct manager *m, const struct iom_plan *plan, unsigned group) {
        size_t first, n = iom_plan_group_steps(plan, group, &first);

        if (undo_steps(plan->op, plan->steps + first, n) < 0)
                return;
        (void) journal_update(m, plan, group, JOURNAL_UNDO);
}

int binder_group_run_plan(struct manager *m, struct iom_plan *plan, bool force, bool dry_run,
                          char **ret_error) {
        int r;

        r = steps_read_drivers(plan);
        if (r < 0)
                return iom_error(ret_error, r, "cannot read the devices' drivers: %s",
                                 strerror(-r));
        for (size_t i = 0; i < plan->n_groups; i++) {
                r = dry_run ? check_group(plan, plan->groups[i], force, true, ret_error)
                            : run_group(m, plan, plan->groups[i], force, ret_error);
                if (r < 0 && dry_run)
                        return r;
                if (r < 0) {
                        /* All or nothing for assign and rebind; groups a release already
                         * returned home stay home, which is where they were going. */
                        for (size_t k = i; plan->op != IOM_PLAN_RELEASE && k > 0; k--)
                                undo_group(m, plan, plan->groups[k - 1]);
                        return r;
                }
        }
        return 0;
}

int binder_group_recover(struct manager *m, unsigned group, char **ret_error) {
        _cleanup_(iom_plan_freep) struct iom_plan *plan = NULL;
        int r;

        (void) pthread_mutex_lock(&m->journal_lock);
        r = iom_journal_intent_plan(m->journal, group, &plan);
        (void) pthread_mutex_unlock(&m->journal_lock);
        if (r < 0)
                return r == -ENOENT ? 0 : r;

        bool release = plan->op == IOM_PLAN_RELEASE;
        log_notice("IOMMU group %u: a %s did not finish; %s it.", group,
                   iom_plan_op_to_string(plan->op), release ? "finishing" : "rolling back");
        /* A release is finished in its own order; anything else is undone last step first
         * (bridges leave first and return last, see lib/iom-plan.c). */
        for (size_t k = 0; k < plan->n_steps; k++) {
                const struct iom_plan_step *s = &plan->steps[release ? k : plan->n_steps - 1 - k];
                _cleanup_free_ char *driver = NULL;

                /* A device that left the host has nothing to put back; trying would fail on
                 * every later try, and the intent would never go. */
                if (iom_bind_get_driver(&s->address, &driver) == -ENODEV) {
                        char buf[IOM_ADDRESS_STRING_MAX];
                        log_notice("IOMMU group %u: %s left the host; nothing to put back.", group,
                                   iom_address_format(&s->address, buf));
                        continue;
                }
                r = release ? move_device(&s->address, s->to, NULL, ret_error)
                            : move_device(&s->address, s->from, s->from_override, ret_error);
                if (r < 0) {
                        log_error("IOMMU group %u: %s; the journal keeps the change for the next "
                                  "try.",
                                  group, strempty(*ret_error));
                        return r;
                }
        }

        r = journal_update(m, plan, group, JOURNAL_RECOVERED);
        if (r >= 0)
                log_notice("IOMMU group %u is back with the host.", group);
        return r;
}

int binder_recover(struct manager *m) {
        int ret = 0;

        /* At start, before any job: every intent a crash left. One that fails stays in the
         * journal, and is tried again when the host changes (daemon/binder.c). */
        for (size_t i = m->journal->n_intents; i > 0; i--) {
                _cleanup_free_ char *error = NULL;
                int r = binder_group_recover(m, m->journal->intents[i - 1].group, &error);
                if (r < 0)
                        ret = r;
        }
        return ret;
}
