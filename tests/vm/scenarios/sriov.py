# SPDX-License-Identifier: LGPL-2.1-or-later
# SR-IOV on a real kernel: `iommuctl sriov` gives QEMU's NVMe PF two VFs under a running iommud,
# each in a group of its own; the policy's autobind rule (vfs_of the PF) puts them on vfio-pci
# without nvme ever probing them (the kernel log shows nvme's probe of the PF, none of a VF);
# one VF is assigned to a guest, `iommuctl sriov PF 0` is refused while it is owned, and VFs
# destroyed by hand vanish from iommud, closing the guest's ownership (log, journal).
import json
import os
import subprocess

from checks import check_listing, driver_of, iommud_listing, listed_devices, override_of

TOPOLOGY = "sriov"
TIMEOUT = 300
FOLLOW_TIMEOUT = 60
GUEST = "vf-guest"
POLICY_DIR = "/run/sriov-policy"


def listing_with(vm, addresses):
        devices = listed_devices(vm)
        return devices if all(a in devices for a in addresses) else None


def nvme_probed(address):
        """Whether the kernel log shows nvme probing ADDRESS (nvme_probe() logs "pci function")."""
        log = subprocess.run(["dmesg"], capture_output=True, text=True, check=True).stdout
        return f"pci function {address}" in log


def run(vm):
        pf = vm.address_of("nvme-pf")
        base = f"/sys/bus/pci/devices/{pf}"
        os.makedirs(POLICY_DIR, exist_ok=True)
        with open(os.path.join(POLICY_DIR, "sriov.json"), "w") as f:
                json.dump({"rules": [
                        {"id": "others", "match": {}, "guests": ["*"], "action": "allow"},
                        {"id": "nvme-vfs", "match": {"vfs_of": pf}, "guests": [GUEST],
                         "action": "allow", "options": {"autobind": True}}]}, f)
        vm.start_daemon(f"--policy-dir={POLICY_DIR}")
        vm.check(nvme_probed(pf), f"the kernel log has no nvme probe of the PF {pf}: the check "
                                  "below would prove nothing")
        with open(f"{base}/sriov_drivers_autoprobe") as f:
                vm.check(f.read().strip() == "1", "sriov_drivers_autoprobe is not 1 at first")

        # The dry run changes nothing; the real call makes the writes in the order it answered.
        dry = vm.iommuctl_json("--dry-run", "sriov", pf, "2")
        with open(f"{base}/sriov_numvfs") as f:
                vm.check(f.read().strip() == "0", "a dry run made VFs")
        done = vm.iommuctl_json("sriov", pf, "2")
        writes = [(w["path"].removeprefix("/sys/bus/pci/devices/"), w["value"])
                  for w in done["writes"]]
        vm.check([w["path"] for w in dry["writes"]] == [w["path"] for w in done["writes"]],
                 f"the dry run answered {dry['writes']}, the call wrote {done['writes']}")
        vfs = sorted(os.path.basename(os.readlink(f"{base}/virtfn{i}")) for i in range(2))
        vm.check(writes == [(f"{pf}/sriov_drivers_autoprobe", "0"),
                            (f"{pf}/sriov_numvfs", "2"),
                            *[(f"{vf}/driver_override", "vfio-pci") for vf in vfs],
                            (f"{pf}/sriov_drivers_autoprobe", "1")],
                 f"iommuctl sriov wrote {writes}")

        # The policy gives them to vfio-pci, as hot-plugged devices; nvme never saw them.
        mine = vm.wait_for(f"iommud to list the new VFs {vfs} on vfio-pci",
                           lambda: (lambda d: d if d and all(d[v]["driver"] == "vfio-pci"
                                                             for v in vfs) else None)(
                                   listing_with(vm, vfs)),
                           FOLLOW_TIMEOUT)
        for vf in vfs:
                vm.check(driver_of(vf) == "vfio-pci", f"{vf} is on {driver_of(vf)}")
                vm.check(override_of(vf) == "vfio-pci", f"{vf} has override {override_of(vf)}")
                vm.check(not nvme_probed(vf), f"nvme probed the VF {vf} before vfio-pci had it")
        with open(f"{base}/sriov_drivers_autoprobe") as f:
                vm.check(f.read().strip() == "1", "sriov_drivers_autoprobe was not set back")
        listing = iommud_listing(vm)
        check_listing(vm, listing)
        groups = {g["id"]: g for g in listing["groups"]}
        # The VFs' uevents make iommud read their PF again.
        vm.wait_for(f"the PF {pf} to show 2 VFs (it shows {mine[pf]['sriov']})",
                    lambda: listed_devices(vm)[pf]["sriov"] == {"total_vfs": 2, "num_vfs": 2},
                    FOLLOW_TIMEOUT)
        for vf in vfs:
                group = groups[mine[vf]["group"]]
                vm.check(mine[vf]["physfn"] == pf, f"{vf} names physfn {mine[vf]['physfn']}")
                vm.check(group["devices"] == [vf] and group["viable"],
                         f"VF {vf} is not alone in a viable group: {group}")

        # A VF to a guest: its PF's VFs cannot change while it is owned.
        vf = vfs[0]
        group = mine[vf]["group"]
        vm.run(["iommuctl", "assign", GUEST, vf])
        vm.check(os.path.exists(f"/dev/vfio/{group}"), f"/dev/vfio/{group} is missing")
        refused = vm.run(["iommuctl", "sriov", pf, "0"], check=False)
        vm.check(refused.returncode == 1 and "(Owned)" in refused.stderr and
                 f"VF {vf} is owned by '{GUEST}'" in refused.stderr,
                 f"iommuctl sriov {pf} 0 under an owner: {refused.returncode} {refused.stderr}")
        vm.check(os.path.exists(f"{base}/virtfn0"), "the refused call removed the VFs")

        # Disabling the VFs by hand removes them, from the kernel and then from iommud; the one
        # the guest owns loses its owner, and the journal its claim.
        vm.run(f"echo 0 > {base}/sriov_numvfs")
        vm.wait_for(f"iommud to drop the removed VFs {vfs}",
                    lambda: not any(v in listed_devices(vm) for v in vfs), FOLLOW_TIMEOUT)
        check_listing(vm, iommud_listing(vm))
        vm.wait_for(f"the journal to drop {GUEST}'s claim on group {group}",
                    lambda: all(c["group"] != group for c in
                                json.load(open("/run/iommud/state.json"))["claims"]),
                    FOLLOW_TIMEOUT)
        log = vm.service_log("iommud")
        vm.check(f"IOMMU group {group} of '{GUEST}' lost {vf}" in log,
                 f"iommud's log does not tell the lost ownership of {vf}:\n{log}")
        vm.wait_for(f"the PF {pf} to show 0 VFs",
                    lambda: listed_devices(vm)[pf]["sriov"]["num_vfs"] == 0, FOLLOW_TIMEOUT)
