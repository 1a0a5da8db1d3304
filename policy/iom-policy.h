/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy: which guests may own which PCI devices. Parsed and validated from JSON files
 * into plain structs; evaluation never touches JSON. Grammar and evaluation order are in
 * iommud.policy(5). */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "iom-address.h"
#include "iom-inventory.h"
#include "iom-pci.h"
#include "macro.h"

#define IOM_POLICY_FILE_SIZE_MAX (256 * 1024)
#define IOM_POLICY_RULES_MAX 1024
#define IOM_POLICY_STRING_MAX 256

enum iom_policy_action {
        IOM_POLICY_ALLOW,
        IOM_POLICY_DENY,
        _IOM_POLICY_ACTION_MAX,
        _IOM_POLICY_ACTION_INVALID = -EINVAL,
};

/* "allow", "deny": the word of the policy files and of the bus. */
DECLARE_STRING_TABLE_LOOKUP(iom_policy_action, enum iom_policy_action);

/* What a rule matches; a field left unset matches anything. */
struct iom_policy_match {
        char *address; /* a glob over canonical addresses, "0000:01:00.*" */
        int vendor, device, subsystem_vendor, subsystem_device; /* -1: any */
        int64_t class_value, class_mask;                        /* class_mask 0: any */
        char *driver, *host_driver;
        char *dsn; /* "00-11-22-33-44-55-66-77" */
        /* Addresses or alias names, resolved against the aliases when the policy is loaded. */
        char *same_group_as, *vfs_of;
        struct iom_address same_group_as_address, vfs_of_address;
        unsigned n_keys; /* how many keys are set: the rule's specificity */
};

struct iom_policy_rule {
        char *id;
        char *file;
        unsigned line, column;       /* of the rule's opening brace */
        unsigned id_line, id_column; /* of its id */
        struct iom_policy_match match;
        char **guests; /* names, UUIDs or fnmatch globs; "*" is everyone */
        enum iom_policy_action action;
        bool autobind, allow_in_use, require_isolation;
        char *host_driver_option;
        unsigned max_per_guest; /* 0: no limit */
        /* The Kubernetes extended resource the matched devices are exported as (KubeVirt's
         * resourceName, "vendor.example/name"), or NULL for iommud's default. */
        char *resource_name;
        unsigned sriov_numvfs;  /* the VFs a matching PF gets at the daemon's start; 0: none */
        /* Between owners: how a release resets the device (NULL: the kernel's order), whether
         * the group is quarantined when it comes back, and d3cold kept off while owned. */
        char *reset_method;
        bool quarantine_after, disable_d3cold;
};

/* Whether iommud holds a logind sleep inhibitor while a guest owns a group, and its mode. */
enum iom_sleep_inhibit {
        IOM_SLEEP_INHIBIT_BLOCK,
        IOM_SLEEP_INHIBIT_DELAY,
        IOM_SLEEP_INHIBIT_NONE,
        _IOM_SLEEP_INHIBIT_MAX,
        _IOM_SLEEP_INHIBIT_INVALID = -EINVAL,
};

DECLARE_STRING_TABLE_LOOKUP(iom_sleep_inhibit, enum iom_sleep_inhibit);

struct iom_policy_alias {
        char *name;
        struct iom_address address;
};

struct iom_policy {
        struct iom_policy_rule *rules;
        size_t n_rules;
        struct iom_policy_alias *aliases;
        size_t n_aliases;
        char **files; /* the files it was read from, in order */
        enum iom_sleep_inhibit sleep_inhibit; /* the last file that sets it decides */
};

/* What the evaluator needs to know about a device. */
struct iom_policy_subject {
        struct iom_address address;
        uint16_t vendor, device, subsystem_vendor, subsystem_device;
        uint32_t class;
        const char *driver, *host_driver;
        const char *dsn;                  /* its Device Serial Number, or NULL */
        const struct iom_address *physfn; /* a VF's physical function, or NULL */
        int group;                        /* IOMMU group, or -1 */
        /* The IOMMU group of another device (-1 when unknown), for same_group_as. */
        int (*group_of)(const struct iom_address *a, void *userdata);
        void *userdata;
};

struct iom_policy_decision {
        enum iom_policy_action action;
        const struct iom_policy_rule *rule; /* NULL: no rule matched, the default deny */
};

struct iom_policy *iom_policy_new(void);
struct iom_policy *iom_policy_free(struct iom_policy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct iom_policy *, iom_policy_free);

/* Adds the rules and aliases of one file (text already read) to @p. Every problem is appended
 * to *@ret_error, one per line ("file:line:column: message"); returns -EINVAL when there was
 * any, -ENOMEM, and @p is then only good for freeing. */
int iom_policy_add_text(struct iom_policy *p, const char *name, const char *text, char **ret_error);

/* Reads @paths (files) in order, or every *.json of @dir in lexical order, into a new policy;
 * -EINVAL with every problem in *@ret_error, one per line, when any file is wrong. Cross-file
 * checks (duplicate ids, conflicting rules, duplicate aliases) run at the end. */
int iom_policy_load_files(char *const *paths, struct iom_policy **ret, char **ret_error);
int iom_policy_load_dir(const char *dir, struct iom_policy **ret, char **ret_error);

/* May @guest own @s? The most specific applicable rule decides; deny beats allow at equal
 * specificity; nothing applicable is the default deny. */
/* Whether @r's match holds for @s (its guests aside). */
bool iom_policy_rule_matches(const struct iom_policy_rule *r, const struct iom_policy_subject *s);

void iom_policy_evaluate(const struct iom_policy *p, const struct iom_policy_subject *s,
                         const char *guest, struct iom_policy_decision *ret);

/* The first rule with the autobind option whose match holds for @s (whatever its guests), or
 * NULL: such devices are kept on vfio-pci from the daemon's start and on hot-plug. */
const struct iom_policy_rule *iom_policy_autobind(const struct iom_policy *p,
                                                  const struct iom_policy_subject *s);

/* The first allowing rule with the resource_name option whose match holds for @s (whatever its
 * guests), or NULL: what `iommuctl export kubevirt` names such a device's resource. */
const struct iom_policy_rule *iom_policy_resource_name(const struct iom_policy *p,
                                                       const struct iom_policy_subject *s);

/* Fills @ret for device @d of @inv (its DSN formatted into @dsn, which must outlive @ret); the
 * host driver is the one the device returns to when released, else its driver. */
void iom_policy_subject_from_device(const struct iom_inventory *inv, const struct iom_device *d,
                                    struct iom_policy_subject *ret,
                                    char dsn[static IOM_DSN_STRING_MAX]);
/* The first rule with the sriov_numvfs option whose match holds for @s (whatever its guests
 * and action), or NULL: such a PF gets that many VFs when the daemon starts. */
const struct iom_policy_rule *iom_policy_sriov(const struct iom_policy *p,
                                               const struct iom_policy_subject *s);

/* Human summaries: "address=0000:01:00.* vendor=10de" ("any device" when empty), and
 * "autobind max_per_guest=2" ("" when none). */
char *iom_policy_match_describe(const struct iom_policy_match *m);
char *iom_policy_options_describe(const struct iom_policy_rule *r);

/* The address an alias stands for, or NULL. */
const struct iom_address *iom_policy_alias(const struct iom_policy *p, const char *name);
