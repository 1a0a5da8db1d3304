/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host facts from /sys/class/iommu, /sys/kernel/iommu_groups and procfs. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "iom-host.h"
#include "iom-log.h"
#include "iom-strv.h"
#include "iom-sysfs.h"
#include "macro.h"

struct iom_host *iom_host_free(struct iom_host *h) {
        if (!h)
                return NULL;
        for (size_t i = 0; i < h->n_units; i++) {
                free(h->units[i].name);
                free(h->units[i].type);
        }
        free(h->units);
        strv_free(h->kernel_parameters);
        free(h->notice);
        free(h->sleep_inhibitor);
        free(h);
        return NULL;
}

static int is_iommu_parameter(const char *word) {
        static const char *const prefixes[] = {
                "intel_iommu=",       "amd_iommu=",        "iommu=",    "iommu.",
                "pcie_acs_override=", "vfio_iommu_type1.", "vfio-pci.", "vfio_pci.",
                "amd_iommu_intr=",    "intremap=",
        };
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (strncmp(word, prefixes[i], strlen(prefixes[i])) == 0)
                        return true;
        return false;
}

int iom_cmdline_parse(const char *cmdline, char ***ret_parameters, bool *ret_acs_override) {
        char **params;
        int r;

        if (!cmdline || !ret_parameters)
                return -EINVAL;
        r = iom_strv_split(cmdline, &params);
        if (r < 0)
                return r;
        iom_strv_filter(params, is_iommu_parameter);
        if (ret_acs_override) {
                *ret_acs_override = false;
                for (char **p = params; *p; p++)
                        if (strncmp(*p, "pcie_acs_override=", 18) == 0)
                                *ret_acs_override = true;
        }
        *ret_parameters = params;
        return 0;
}

char *iom_host_notice(char *const *kernel_parameters) {
        const char *off = NULL;
        char *notice;

        for (char *const *p = kernel_parameters; p && *p; p++)
                if (streq(*p, "intel_iommu=off") || streq(*p, "amd_iommu=off") ||
                    streq(*p, "iommu=off"))
                        off = *p;
        if (off) {
                if (asprintf(&notice,
                             "No IOMMU groups: the kernel command line turns the IOMMU off (%s).",
                             off) < 0)
                        return NULL;
                return notice;
        }
        return strdup("No IOMMU groups: the IOMMU is off. Enable VT-d or AMD-Vi in the firmware "
                      "and boot with intel_iommu=on (Intel) or amd_iommu=on (AMD).");
}

static int unit_compare(const void *a, const void *b) {
        const struct iom_unit *x = a, *y = b;
        return strcmp(x->name, y->name);
}

static int read_units(struct iom_host *h) {
        _cleanup_(closedirp) DIR *dir = opendir(IOM_SYSFS_ROOT "/class/iommu");
        struct dirent *e;

        if (!dir)
                return errno == ENOENT ? 0 : negative_errno();
        while ((e = readdir(dir))) {
                _cleanup_free_ char *path = NULL;
                struct stat st;
                const char *type = "other";

                if (e->d_name[0] == '.')
                        continue;
                if (asprintf(&path, IOM_SYSFS_ROOT "/class/iommu/%s/intel-iommu", e->d_name) < 0)
                        return -ENOMEM;
                if (stat(path, &st) >= 0)
                        type = "intel";
                else {
                        free(path);
                        if (asprintf(&path, IOM_SYSFS_ROOT "/class/iommu/%s/amd-iommu", e->d_name) <
                            0)
                                return -ENOMEM;
                        if (stat(path, &st) >= 0)
                                type = "amd";
                }

                if (GREEDY_REALLOC(h->units, h->n_units + 1) < 0)
                        return -ENOMEM;
                h->units[h->n_units].name = strdup(e->d_name);
                h->units[h->n_units].type = strdup(type);
                if (!h->units[h->n_units].name || !h->units[h->n_units].type) {
                        free(h->units[h->n_units].name);
                        free(h->units[h->n_units].type);
                        return -ENOMEM;
                }
                h->n_units++;
        }
        /* In name order, whatever order the file system lists them in (tmpfs: newest first). */
        if (h->n_units > 0)
                qsort(h->units, h->n_units, sizeof(*h->units), unit_compare);
        return 0;
}

/* VT-d: Extended Capability Register bit 3, IR: the unit can remap interrupts (Intel
 * Virtualization Technology for Directed I/O specification, 11.4.3). */
#define IOM_VTD_ECAP_IR (UINT64_C(1) << 3)

/* Whether @unit can remap interrupts, from its capability register in sysfs: 1 yes, 0 no,
 * -ENOENT when the unit shows no register (virtio-iommu, or a tree without it). Interrupt
 * remapping is part of every AMD-Vi unit (AMD I/O Virtualization Technology specification): its
 * "features" file only says that the driver is there. */
static int unit_interrupt_remapping(const struct iom_unit *unit) {
        _cleanup_free_ char *dir = NULL, *value = NULL;
        bool intel = streq(unit->type, "intel");
        uint64_t ecap;
        char *end;
        int r;

        if (!intel && !streq(unit->type, "amd"))
                return -ENOENT;
        if (asprintf(&dir, IOM_SYSFS_ROOT "/class/iommu/%s/%s-iommu", unit->name, unit->type) < 0)
                return -ENOMEM;
        r = iom_sysfs_read_string(dir, intel ? "ecap" : "features", &value);
        if (r < 0)
                return r;
        if (!intel)
                return 1;
        errno = 0;
        ecap = strtoull(value, &end, 16);
        if (errno != 0 || end == value || *end != '\0')
                return iom_debug_errno(-EINVAL, "%s/ecap: not a hex number: '%s'", dir, value);
        return (ecap & IOM_VTD_ECAP_IR) != 0;
}

/* The kernel's irq chips say "IR-" (IR-PCI-MSI, IR-IO-APIC) when remapping is in force. The
 * file has a line per vector and a column per CPU: 2 MiB on a host with many VFs, so it is
 * streamed, never read whole. */
static bool interrupts_remapped(void) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        size_t size = 0;

        if (asprintf(&path, "%s/interrupts", iom_proc_root()) < 0)
                return false;
        f = fopen(path, "re");
        if (!f)
                return false;
        while (getline(&line, &size, f) > 0)
                if (strstr(line, "IR-"))
                        return true;
        return false;
}

/* Interrupt remapping: the kernel turns it on only if every unit can remap, so a unit whose
 * register says it cannot is a sure "no", a few bytes read. A register that says it can is not
 * a "yes" (the command line, the firmware's tables or a chipset erratum may have turned it
 * off): what the kernel did is in the irq chips of /proc/interrupts. */
static bool read_interrupt_remapping(const struct iom_host *h) {
        for (size_t i = 0; i < h->n_units; i++)
                if (unit_interrupt_remapping(&h->units[i]) == 0)
                        return false;
        return interrupts_remapped();
}

static bool groups_present(void) {
        _cleanup_(closedirp) DIR *dir = opendir(IOM_SYSFS_ROOT "/kernel/iommu_groups");
        struct dirent *e;

        if (!dir)
                return false;
        while ((e = readdir(dir)))
                if (e->d_name[0] != '.')
                        return true;
        return false;
}

int iom_host_read(struct iom_host **ret) {
        _cleanup_(iom_host_freep) struct iom_host *h = NULL;
        _cleanup_free_ char *cmdline = NULL, *unsafe = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        r = read_units(h);
        if (r < 0)
                return iom_debug_errno(r, "cannot read the IOMMU units: %m");
        if (iom_sysfs_read_string(IOM_SYSFS_ROOT "/module/vfio_iommu_type1/parameters",
                                  "allow_unsafe_interrupts", &unsafe) >= 0)
                h->allow_unsafe_interrupts = unsafe[0] == 'Y' || unsafe[0] == '1';
        r = iom_sysfs_read_string(iom_proc_root(), "cmdline", &cmdline);
        if (r < 0)
                iom_debug("cannot read %s/cmdline, ignoring: %s", iom_proc_root(), strerror(-r));
        r = iom_cmdline_parse(cmdline ? cmdline : "", &h->kernel_parameters, &h->acs_override);
        if (r < 0)
                return r;
        h->interrupt_remapping = read_interrupt_remapping(h);
        h->groups_present = groups_present();
        if (!h->groups_present) {
                h->notice = iom_host_notice(h->kernel_parameters);
                if (!h->notice)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(h);
        return 0;
}
