# SPDX-License-Identifier: LGPL-2.1-or-later
# Server: one endpoint behind the pci-bridge takes its group peer along; the uplink that
# carries the default route is refused.
import os

TOPOLOGY = "server"
TIMEOUT = 300


def driver(address):
        link = f"/sys/bus/pci/devices/{address}/driver"
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else None


def run(vm):
        legacy0, legacy1 = vm.address_of("legacy0"), vm.address_of("legacy1")
        bridge, uplink = vm.address_of("bridge"), vm.address_of("uplink")
        home = {a: driver(a) for a in (legacy0, legacy1, bridge)}
        vm.start_daemon()

        plan = vm.iommuctl_json("--dry-run", "assign", "router", legacy0)
        rows = {row["address"]: row for row in plan["plan"]}
        vm.log(f"dry-run plan: {plan['plan']}")
        vm.check(sorted(rows) == sorted([legacy0, legacy1]),
                 f"the plan for {legacy0} covers {sorted(rows)}, not it and its peer {legacy1} "
                 f"(the bridge {bridge} stays)")
        vm.check(rows[legacy1]["reason"] == f"group peer of {legacy0}" and
                 not rows[legacy1]["named"], f"the peer's reason is {rows[legacy1]['reason']!r}")
        vm.check(vm.iommuctl("--dry-run", "assign", "router", legacy0).count("group peer") == 1,
                 "the plan table does not mark the group peer")
        vm.check({a: driver(a) for a in home} == home, "a dry run changed sysfs")

        vm.show(["iommuctl", "assign", "router", legacy0])
        vm.check(driver(legacy0) == driver(legacy1) == "vfio-pci",
                 f"after assign: {legacy0} on {driver(legacy0)}, {legacy1} on {driver(legacy1)}")
        vm.check(driver(bridge) == home[bridge], "the bridge was moved")
        vm.show(["iommuctl", "release", "router", legacy1])
        vm.check({a: driver(a) for a in home} == home,
                 f"after release: {({a: driver(a) for a in home})}, not {home}")

        result = vm.run(["iommuctl", "assign", "router", uplink], check=False, quiet=True)
        vm.log(f"assign of the uplink: {result.returncode}: {result.stderr.strip()}")
        vm.check(result.returncode == 1 and "(InUse)" in result.stderr and
                 "carries the default route" in result.stderr,
                 f"assigning the uplink {uplink} gave {result.returncode}: {result.stderr!r}")
        vm.check(driver(uplink) == "e1000e", f"the uplink is on {driver(uplink)} now")
