# SPDX-License-Identifier: LGPL-2.1-or-later
# Workstation: iommud's view of a real kernel's IOMMU groups, both through the daemon and offline.
import os

from checks import check_listing, iommud_listing

TOPOLOGY = "workstation"
TIMEOUT = 420


def run(vm):
        vm.start_daemon()
        listing = iommud_listing(vm)
        check_listing(vm, listing)
        check_listing(vm, vm.iommuctl_json("--offline", "list"), source="host")

        devices = {d["address"]: d for d in listing["devices"]}
        groups = {g["id"]: g for g in listing["groups"]}

        # The multifunction slot: display and HD audio share one group, and only they.
        display, audio = vm.address_of("display"), vm.address_of("audio")
        group = devices[display]["group"]
        vm.check(groups[group]["devices"] == sorted([display, audio]),
                 f"group {group} of the display {display} holds {groups[group]['devices']}, "
                 f"not the display and its audio function {audio}")
        vm.check(not groups[group]["viable"], f"group {group} is viable with host drivers bound")

        shown = vm.iommuctl_json("show", display)
        vm.check(shown["device"]["address"] == display and shown["group"]["id"] == group
                 and shown["peers"] == [audio],
                 f"iommuctl show {display} gave device {shown['device'].get('address')}, "
                 f"group {shown['group'] and shown['group'].get('id')}, peers {shown['peers']}")

        # Each root port and the device behind it are separate groups.
        for port, dev in (("rp-nvme", "nvme0"), ("rp-lan0", "lan0"), ("rp-lan1", "lan1")):
                a, b = vm.address_of(port), vm.address_of(dev)
                vm.check(devices[a]["group"] != devices[b]["group"],
                         f"root port {a} and {b} behind it share group {devices[a]['group']}")

        # The NVMe carries the mounted filesystem; the first NIC the network.
        nvme = vm.address_of("nvme0")
        vm.check(devices[nvme]["driver"] == "nvme", f"{nvme} is bound to "
                 f"{devices[nvme]['driver']}, not nvme")
        mounts = vm.sh(["findmnt", "-n", "-o", "SOURCE", "/mnt/data"], quiet=True).strip()
        vm.check(mounts.startswith("/dev/nvme"), f"/mnt/data is mounted from {mounts!r}")
        route = vm.sh(["ip", "route", "show", "default"], quiet=True)
        lan0 = vm.address_of("lan0")
        ifname = route.split(" dev ")[1].split()[0] if " dev " in route else None
        vm.check(ifname is not None and
                 lan0 in os.path.realpath(f"/sys/class/net/{ifname}/device"),
                 f"the default route ({route.strip()!r}) is not through lan0 at {lan0}")

        table = vm.iommuctl("list")
        missing = [a for a in devices if a not in table]
        vm.check(not missing, f"iommuctl list (the table) leaves out {missing}")
