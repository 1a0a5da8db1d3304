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
        char *host_driver; /* NULL: it had none */
};

struct iom_claim {
        unsigned group;
        char *owner;
        char *uuid; /* the owner's libvirt domain UUID, or NULL */
        struct iom_claim_device *devices;
        size_t n_devices;
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

/* JSON form (lib/iom-json-journal.c). */
char *iom_journal_to_json(const struct iom_journal *j);
int iom_journal_from_json(const char *text, const char *name, struct iom_journal **ret,
                          char **ret_error);
