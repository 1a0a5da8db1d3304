/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host facts: IOMMU units, interrupt remapping, the IOMMU kernel parameters. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

struct iom_unit {
        char *name; /* "dmar0", "ivhd0" */
        char *type; /* "intel", "amd", or "other" */
};

struct iom_host {
        struct iom_unit *units;
        size_t n_units;
        bool interrupt_remapping;
        bool allow_unsafe_interrupts;
        char **kernel_parameters; /* the IOMMU-related words of /proc/cmdline */
        bool acs_override;        /* pcie_acs_override= is on the command line */
        bool groups_present;      /* /sys/kernel/iommu_groups has at least one group */
        char *notice;             /* why there are no groups, or NULL */
        char *sleep_inhibitor;    /* from the daemon: the mode of logind's inhibitor it holds */
};

int iom_host_read(struct iom_host **ret);
struct iom_host *iom_host_free(struct iom_host *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct iom_host *, iom_host_free);

/* Picks the IOMMU-related parameters out of a kernel command line. */
int iom_cmdline_parse(const char *cmdline, char ***ret_parameters, bool *ret_acs_override);

/* Composes the notice for a host without groups from its parameters. */
char *iom_host_notice(char *const *kernel_parameters);

/* The sentence every viability display carries when pcie_acs_override= is in force. */
#define IOM_ACS_OVERRIDE_WARNING                                                                   \
        "pcie_acs_override= is on the kernel command line: IOMMU groups may claim an isolation "   \
        "the hardware does not provide"
