/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state journal: which owner holds which group, each device's host driver, and the
 * changes in flight, persisted so a crash is finished or rolled back at the next start.
 *
 * The file is replaced atomically (lib/iom-file.h: a hidden temporary in the same directory,
 * fsync, rename, fsync of the directory), so a reader sees the old state or the new one, never
 * a torn one. */
#pragma once

#include "iom-plan.h"
#include "macro.h"

#define IOM_JOURNAL_VERSION 1
#define IOM_JOURNAL_SIZE_MAX (4 * 1024 * 1024)

struct iom_claim_device {
        struct iom_address address;
        char *host_driver;  /* NULL: it had none */
        char *reset_method; /* the policy's pick for the reset on release; NULL: the kernel's */
        enum iom_d3cold d3cold_was; /* d3cold_allowed to put back on release */
};

/* A group a guest owns, or (in quarantined[]) one back from a guest that is kept on vfio-pci
 * for an administrator, with the reason and no owner. */
struct iom_claim {
        unsigned group;
        char *owner;           /* NULL in quarantined[] */
        char *uuid;            /* the owner's libvirt domain UUID, or NULL */
        char *reason;          /* quarantined[]: why */
        bool quarantine_after; /* the policy quarantines the group when it comes back */
        struct iom_claim_device *devices;
        size_t n_devices;
};

/* The last reset of a device: the method asked for and how it went ("ok" or what failed). */
struct iom_reset_record {
        struct iom_address address;
        char *method;
        char *result;
};

/* A change to one group that started and has not finished. */
struct iom_intent {
        unsigned group;
        enum iom_plan_op op;
        char *owner; /* NULL for a rebind */
        struct iom_plan_step *steps;
        size_t n_steps;
};

struct iom_journal {
        struct iom_claim *claims;
        size_t n_claims;
        struct iom_intent *intents;
        size_t n_intents;
        struct iom_claim *quarantined;
        size_t n_quarantined;
        struct iom_reset_record *resets; /* sorted by address, one per device */
        size_t n_resets;
};

struct iom_journal *iom_journal_new(void);
struct iom_journal *iom_journal_free(struct iom_journal *j);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct iom_journal *, iom_journal_free);

/* Reads @path, first removing the temporary files ("@path.XXXXXX") of saves a crash cut
 * short. A missing file is an empty journal. A file that is not a journal gives -EBADMSG
 * and *@ret_error saying where and what ("state.json: claims[0].group: expected an integer"). */
int iom_journal_load(const char *path, struct iom_journal **ret, char **ret_error);
int iom_journal_save(const struct iom_journal *j, const char *path);

/* A deep copy, through the file format. Changes are made on a copy that replaces the journal
 * only once saved, so the journal in memory is always the one on disk. */
int iom_journal_copy(const struct iom_journal *j, struct iom_journal **ret);

/* Renames a corrupt journal to "@path.corrupt-<unix time>" and returns the new name. */
int iom_journal_move_aside(const char *path, char **ret_new_path);

const struct iom_claim *iom_journal_find_claim(const struct iom_journal *j, unsigned group);
const struct iom_intent *iom_journal_find_intent(const struct iom_journal *j, unsigned group);

/* A copy of @group's intent as a plan (its op, owner and steps), or -ENOENT. */
int iom_journal_intent_plan(const struct iom_journal *j, unsigned group, struct iom_plan **ret);

/* Records @plan's steps for @group as in flight (replacing any intent for it). */
int iom_journal_begin(struct iom_journal *j, const struct iom_plan *plan, unsigned group);
/* Forgets the intent for @group. */
void iom_journal_end(struct iom_journal *j, unsigned group);

/* Records that @owner holds @group, each step's "from" driver as the device's host driver. */
int iom_journal_claim(struct iom_journal *j, const struct iom_plan *plan, unsigned group);
/* Forgets the claim on @group. */
void iom_journal_unclaim(struct iom_journal *j, unsigned group);

/* Records @group as quarantined for @reason (the host drivers of its devices are the steps'
 * "to" of @plan, a release). */
int iom_journal_quarantine(struct iom_journal *j, const struct iom_plan *plan, unsigned group,
                           const char *reason);
const struct iom_claim *iom_journal_find_quarantine(const struct iom_journal *j, unsigned group);
void iom_journal_unquarantine(struct iom_journal *j, unsigned group);
/* Forgets the device at @a in @group's quarantine record (it left the host), and the record
 * with its last device: returns 1 when the record went, 0 when other devices keep it, -ENOENT
 * when the record does not hold @a. */
int iom_journal_unquarantine_device(struct iom_journal *j, unsigned group,
                                    const struct iom_address *a);

/* Records the reset of each step of @plan in @group that tried one (replacing the record of
 * an earlier reset of the device). */
int iom_journal_record_resets(struct iom_journal *j, const struct iom_plan *plan, unsigned group);
/* A binary search: the resets are kept sorted by address. */
const struct iom_reset_record *iom_journal_find_reset(const struct iom_journal *j,
                                                      const struct iom_address *a);
/* The record of the device at @a in *@ret: found (returns 0), or made in its place with only
 * its address set (returns 1), for the caller to fill. */
int iom_journal_reset_record(struct iom_journal *j, const struct iom_address *a,
                             struct iom_reset_record **ret);

/* JSON form (lib/iom-json-journal.c). */
char *iom_journal_to_json(const struct iom_journal *j);
int iom_journal_from_json(const char *text, const char *name, struct iom_journal **ret,
                          char **ret_error);
