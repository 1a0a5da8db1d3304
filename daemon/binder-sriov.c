/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Setting a PF's number of VFs: the checks on the loop, the sysfs writes on the worker.
 *
 * Documentation/ABI/testing/sysfs-bus-pci: sriov_numvfs takes a new count only from 0 (a
 * driver refuses N -> M with -EBUSY), and sriov_drivers_autoprobe decides whether VFs that
 * appear are offered to drivers at all; driver_override on a VF still binds it to the named
 * driver on the next probe, whatever autoprobe says. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binder-sriov.h"
#include "iom-bind.h"
#include "iom-error.h"
#include "iom-resolve.h"
#include "iom-strv.h"
#include "iom-sysfs.h"
#include "log.h"
#include "manager.h"

/* Disabling VFs unbinds their drivers, and enabling them runs the PF driver's sriov_configure:
 * either may take a while on real hardware. */
#define SRIOV_TIMEOUT_USEC (30ULL * 1000 * 1000)

static int check_unowned(const struct iom_device *d, const char *pf, char **ret_error) {
        char a[IOM_ADDRESS_STRING_MAX];

        if (!d->group || !(d->group->owner || d->group->quarantine))
                return 0;
        iom_address_format(&d->address, a);
        if (!d->group->owner)
                return iom_error(ret_error, -EEXIST,
                                 "%s (of %s) is quarantined: release it with --from-quarantine "
                                 "before changing the VFs", a, pf);
        if (streq(a, pf))
                return iom_error(ret_error, -EEXIST,
                                 "%s is owned by '%s': release it before changing its VFs", pf,
                                 d->group->owner);
        return iom_error(ret_error, -EEXIST,
                         "%s's VF %s is owned by '%s': release it before changing the VFs", pf,
                         a, d->group->owner);
}

int binder_sriov_plan(struct manager *m, const char *spec, unsigned vfs, struct iom_plan **ret,
                      const struct iom_device **ret_pf, char **ret_error) {
        _cleanup_(iom_plan_freep) struct iom_plan *plan = NULL;
        struct iom_device *pf;
        char a[IOM_ADDRESS_STRING_MAX], physfn[IOM_ADDRESS_STRING_MAX];
        int r;

        r = iom_inventory_resolve(m->inventory, spec, &pf, NULL, ret_error);
        if (r < 0)
                return r;
        iom_address_format(&pf->address, a);
        if (pf->is_vf)
                return iom_error(ret_error, -EINVAL,
                                 "%s is a VF: VFs are set on their PF (%s)", a,
                                 iom_address_format(&pf->physfn, physfn));
        if (!pf->sriov)
                return iom_error(ret_error, -EINVAL, "%s has no SR-IOV capability", a);
        if (vfs > pf->sriov_total_vfs)
                return iom_error(ret_error, -EINVAL,
                                 "%s supports at most %u VFs (sriov_totalvfs), not %u", a,
                                 pf->sriov_total_vfs, vfs);

        r = iom_plan_new(IOM_PLAN_REBIND, NULL, &plan);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->inventory->n_devices; i++) {
                const struct iom_device *d = m->inventory->devices[i];

                if (d != pf && !(d->is_vf && iom_address_equal(&d->physfn, &pf->address)))
                        continue;
                r = check_unowned(d, a, ret_error);
                if (r >= 0 && d->iommu_group >= 0)
                        r = iom_plan_add_group(plan, (unsigned) d->iommu_group);
                if (r < 0)
                        return r;
        }
        if (ret_pf)
                *ret_pf = pf;
        *ret = TAKE_PTR(plan);
        return 0;
}

/* Records one write of @value (a line: the newline is added), and makes it unless @dry_run. */
static int sriov_write(const struct iom_address *a, const char *attribute, const char *value,
                       bool dry_run, struct iom_strv *writes, char **ret_error) {
        _cleanup_free_ char *line = NULL;
        char buf[IOM_ADDRESS_STRING_MAX], *path;
        int r;

        iom_address_format(a, buf);
        if (asprintf(&path, "%s/%s", buf, attribute) < 0)
                return -ENOMEM;
        r = iom_strv_push(writes, path);
        if (r >= 0)
                r = iom_strv_push_copy(writes, value);
        if (r < 0 || dry_run)
                return r;
        if (asprintf(&line, "%s\n", value) < 0)
                return -ENOMEM;
        log_debug("Writing %s to %s.", value, path);
        r = iom_bind_write_attribute(a, attribute, line, SRIOV_TIMEOUT_USEC);
        if (r == -ETIMEDOUT)
                return iom_error(ret_error, r, "writing %s to %s did not finish within %llu s",
                                 value, path, SRIOV_TIMEOUT_USEC / 1000000);
        if (r < 0)
                return iom_error(ret_error, r, "writing %s to %s failed: %s", value, path,
                                 strerror(-r));
        return 0;
}

/* The VFs the kernel just made for @dir's PF: its virtfnN links. */
static int read_new_vfs(const char *dir, unsigned vfs, char ***ret, char **ret_error) {
        _cleanup_strv_free_ char **made = calloc(vfs + 1, sizeof(char *));
        int r;

        if (!made)
                return -ENOMEM;
        for (unsigned k = 0; k < vfs; k++) {
                char link[32];

                (void) snprintf(link, sizeof(link), "virtfn%u", k);
                r = iom_sysfs_read_link_name(dir, link, &made[k]);
                if (r < 0)
                        return iom_error(ret_error, r, "%s/%s: the new VF is not there: %s", dir,
                                         link, strerror(-r));
        }
        *ret = TAKE_PTR(made);
        return 0;
}

/* Gives each VF of @vfio_vfs the override vfio-pci: of @made (the VFs as the kernel made
 * them), or, in a dry run (@made NULL), as they would be. */
static int override_vfs(char *const *made, char *const *vfio_vfs, bool dry_run,
                        struct iom_strv *writes, char **ret_error) {
        int r;

        for (char *const *v = made ? made : vfio_vfs; v && *v; v++) {
                struct iom_address vf;

                if (!iom_strv_contains(vfio_vfs, *v))
                        continue;
                r = iom_address_parse(*v, &vf, NULL);
                if (r >= 0)
                        r = sriov_write(&vf, "driver_override", IOM_VFIO_DRIVER, dry_run,
                                        writes, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The kernel probes a VF only as it appears: those of @made that appeared while autoprobe was
 * off and are not vfio-pci's (the hot-plug autobind takes those) are probed now, so that they
 * get the host driver they would have had. */
static int probe_host_vfs(char *const *made, char *const *vfio_vfs, char **ret_error) {
        int r;

        for (char *const *v = made; v && *v; v++) {
                struct iom_address vf;

                if (iom_strv_contains(vfio_vfs, *v))
                        continue;
                r = iom_address_parse(*v, &vf, NULL);
                if (r >= 0) {
                        log_debug("Asking the kernel to probe %s.", *v);
                        r = iom_bind_probe(&vf, SRIOV_TIMEOUT_USEC);
                }
                if (r < 0)
                        return iom_error(ret_error, r, "probing the new VF %s failed: %s", *v,
                                         strerror(-r));
        }
        return 0;
}

int binder_sriov_run(const struct iom_address *pf, unsigned vfs, char *const *vfio_vfs,
                     bool dry_run, char ***ret_writes, char **ret_error) {
        _cleanup_(iom_strv_done) struct iom_strv writes = {};
        _cleanup_strv_free_ char **made = NULL;
        _cleanup_free_ char *dir = NULL;
        char buf[IOM_ADDRESS_STRING_MAX], count[16];
        int64_t now_vfs = 0, autoprobe = 1;
        bool to_vfio = vfio_vfs && *vfio_vfs;
        int r, k;

        if (asprintf(&dir, IOM_SYSFS_ROOT "/bus/pci/devices/%s", iom_address_format(pf, buf)) < 0)
                return -ENOMEM;
        r = iom_sysfs_read_int64(dir, "sriov_numvfs", &now_vfs);
        if (r < 0)
                return iom_error(ret_error, r, "%s: cannot read sriov_numvfs: %s", buf,
                                 strerror(-r));
        if (now_vfs == (int64_t) vfs) {
                *ret_writes = TAKE_PTR(writes.v);
                return 0;
        }
        if (to_vfio) {
                r = iom_sysfs_read_int64(dir, "sriov_drivers_autoprobe", &autoprobe);
                if (r < 0)
                        return iom_error(ret_error, r,
                                         "%s: cannot read sriov_drivers_autoprobe: %s", buf,
                                         strerror(-r));
                if (autoprobe != 0) {
                        r = sriov_write(pf, "sriov_drivers_autoprobe", "0", dry_run, &writes,
                                        ret_error);
                        if (r < 0)
                                return r;
                }
        }
        r = 0;
        if (now_vfs != 0)
                r = sriov_write(pf, "sriov_numvfs", "0", dry_run, &writes, ret_error);
        if (r >= 0 && vfs > 0) {
                (void) snprintf(count, sizeof(count), "%u", vfs);
                r = sriov_write(pf, "sriov_numvfs", count, dry_run, &writes, ret_error);
                /* The old VFs are gone already: put their number back rather than none. */
                if (r < 0 && now_vfs > 0 && !dry_run) {
                        (void) snprintf(count, sizeof(count), "%" PRId64, now_vfs);
                        if (sriov_write(pf, "sriov_numvfs", count, false, &writes, NULL) >= 0)
                                (void) iom_error_append(ret_error, r, "%s has its %s VFs back",
                                                        buf, count);
                }
        }
        if (r >= 0 && to_vfio && !dry_run && vfs > 0)
                r = read_new_vfs(dir, vfs, &made, ret_error);
        if (r >= 0 && to_vfio)
                r = override_vfs(made, vfio_vfs, dry_run, &writes, ret_error);
        if (to_vfio && autoprobe != 0) {
                /* Set back even after a failure: autoprobe is the host's setting, not ours. */
                (void) snprintf(count, sizeof(count), "%" PRId64, autoprobe);
                k = sriov_write(pf, "sriov_drivers_autoprobe", count, dry_run, &writes,
                                r < 0 ? NULL : ret_error);
                if (r >= 0)
                        r = k;
                if (r >= 0)
                        r = probe_host_vfs(made, vfio_vfs, ret_error);
        }
        if (r < 0)
                return r;
        *ret_writes = TAKE_PTR(writes.v);
        return 0;
}
