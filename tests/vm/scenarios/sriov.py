# SPDX-License-Identifier: LGPL-2.1-or-later
# SR-IOV on a real kernel: VFs of QEMU's NVMe appear and vanish under a running iommud, each in a
# group of its own; one is assigned to a guest and released back to no driver; assigned again,
# it is destroyed under its owner, which closes the ownership.
import json
import os

from checks import check_listing, driver_of, listed_devices

TOPOLOGY = "sriov"
TIMEOUT = 300
FOLLOW_TIMEOUT = 30
GUEST = "vf-guest"


def listing_with(vm, addresses):
        devices = listed_devices(vm)
        return devices if all(a in devices for a in addresses) else None


def run(vm):
        pf = vm.address_of("nvme-pf")
        base = f"/sys/bus/pci/devices/{pf}"
        vm.start_daemon()

        # DESIGN: autoprobe off before sriov_numvfs, so no host driver grabs the new VFs.
        vm.run(f"echo 0 > {base}/sriov_drivers_autoprobe && echo 2 > {base}/sriov_numvfs")
        vfs = sorted(os.path.basename(os.readlink(f"{base}/virtfn{i}")) for i in range(2))
        mine = vm.wait_for(f"iommud to list the new VFs {vfs}: iommud did not follow them",
                           lambda: listing_with(vm, vfs),
                           FOLLOW_TIMEOUT)
        listing = vm.iommuctl_json("list")
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

        # A VF to a guest and back: it had no driver, so release leaves it with none.
        vf = vfs[0]
        vm.run(["iommuctl", "assign", GUEST, vf])
        group = mine[vf]["group"]
        vm.check(driver_of(vf) == "vfio-pci", f"{vf} is on {driver_of(vf)} after assign")
        vm.check(os.path.exists(f"/dev/vfio/{group}"), f"/dev/vfio/{group} is missing")
        vm.check(driver_of(vfs[1]) is None, f"the other VF {vfs[1]} was bound to {driver_of(vfs[1])}")
        vm.run(["iommuctl", "release", GUEST])
        vm.check(driver_of(vf) is None, f"{vf} is on {driver_of(vf)} after release, not on no driver")
        with open(f"/sys/bus/pci/devices/{vf}/driver_override") as f:
                override = f.read().strip()
        vm.check(override == "(null)", f"release left driver_override '{override}' on {vf}")

        # Disabling the VFs removes them, from the kernel and then from iommud; the one a guest
        # owns again loses its owner, and the journal its claim.
        vm.run(["iommuctl", "assign", GUEST, vf])
        vm.run(f"echo 0 > {base}/sriov_numvfs")
        vm.wait_for(f"iommud to drop the removed VFs {vfs}",
                    lambda: not any(v in listed_devices(vm) for v in vfs), FOLLOW_TIMEOUT)
        check_listing(vm, vm.iommuctl_json("list"))
        vm.wait_for(f"the journal to drop {GUEST}'s claim on group {group}",
                    lambda: all(c["group"] != group for c in
                                json.load(open("/run/iommud/state.json"))["claims"]),
                    FOLLOW_TIMEOUT)
        log = vm.service_log("iommud")
        vm.check(f"IOMMU group {group} of '{GUEST}' lost {vf}" in log,
                 f"iommud's log does not tell the lost ownership of {vf}:\n{log}")
        vm.wait_for(f"the PF {pf} to show 0 VFs",
                    lambda: listed_devices(vm)[pf]["sriov"]["num_vfs"] == 0, FOLLOW_TIMEOUT)
