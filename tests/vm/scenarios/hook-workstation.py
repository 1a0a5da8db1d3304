# SPDX-License-Identifier: LGPL-2.1-or-later
# Workstation: iommud-libvirt-hook run as libvirt runs it, on a real kernel. A managed='no'
# <hostdev> guest gets its NIC's group on vfio-pci at `prepare begin` and gives it back at
# `release end`; a managed='yes' <interface type='hostdev'> guest too, when libvirt has already
# reattached the NIC itself before `release end` (iommud agrees, nothing moves twice).
import json
import os
import re

from checks import driver_of as driver, override_of as override

TOPOLOGY = "workstation"
TIMEOUT = 420

JOURNAL = "/run/iommud/state.json"


def write(path, value):
        with open(path, "w") as f:
                f.write(value)


def domain_xml(vm, name, old_source, new_source):
        """tests/libvirt/NAME with its host device's <source><address> moved to this guest's."""
        with open(os.path.join(vm.source_dir, "tests", "libvirt", name)) as f:
                text = f.read()
        vm.check(old_source in text, f"{name} has no {old_source}")
        return text.replace(old_source, new_source, 1)


def hook(vm, guest, op, sub, xml):
        """The hook as libvirt calls it: GUEST OP SUB-OP -, the domain XML on stdin."""
        program = os.path.join(vm.build_dir, "hook", "iommud-libvirt-hook")
        result = vm.run([program, guest, op, sub, "-"], input=xml, check=False, timeout=180)
        vm.log(f"hook {guest} {op} {sub} -> {result.returncode}\n{result.stdout}{result.stderr}")
        vm.check(result.returncode == 0, f"hook {guest} {op} {sub} exited with "
                 f"{result.returncode}: {result.stderr}")
        return result


def group_property(vm, group, name):
        out = vm.sh(["busctl", "--system", "--json=short", "get-property", "org.iommud1",
                     f"/org/iommud1/group/{group}", "org.iommud1.Group", name], quiet=True)
        return json.loads(out)["data"]


def claims():
        with open(JOURNAL) as f:
                return json.load(f)["claims"]


def run(vm):
        lan1 = vm.address_of("lan1")
        m = re.fullmatch(r"([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])", lan1)
        domain, bus, slot, function = (int(x, 16) for x in m.groups())
        vm.check(driver(lan1) == "e1000e", f"{lan1} starts on {driver(lan1)}, not e1000e")
        vm.start_daemon()
        group = vm.iommuctl_json("show", lan1)["group"]["id"]

        # managed='no' (decimal numbers): prepare assigns, the other operations do nothing,
        # release sends it home.
        storage = domain_xml(vm, "storage.xml", "domain='0' bus='2' slot='0' function='0'",
                             f"domain='{domain}' bus='{bus}' slot='{slot}' function='{function}'")
        out = hook(vm, "storage", "prepare", "begin", storage).stdout
        vm.check(f"{lan1} e1000e -> vfio-pci" in out, f"the hook did not report the move: {out}")
        vm.check(driver(lan1) == "vfio-pci", f"{lan1} is on {driver(lan1)} after prepare")
        vm.check(os.path.exists(f"/dev/vfio/{group}"), f"/dev/vfio/{group} is missing")
        vm.check(group_property(vm, group, "Owner") == "storage", "the group's owner is not "
                 "storage")
        vm.check(group_property(vm, group, "OwnerUuid") == "c7a5fdbd-cdaf-9455-926a-d65c16db1809",
                 "the group does not show the domain's UUID")
        vm.check(claims()[0].get("uuid") == "c7a5fdbd-cdaf-9455-926a-d65c16db1809",
                 f"the journal does not keep the UUID: {claims()}")
        for op, sub in (("start", "begin"), ("started", "begin"), ("stopped", "end")):
                hook(vm, "storage", op, sub, storage)
        vm.check(driver(lan1) == "vfio-pci", f"{lan1} moved during start/started/stopped")
        hook(vm, "storage", "release", "end", storage)
        vm.check((driver(lan1), override(lan1)) == ("e1000e", None),
                 f"{lan1} is on {driver(lan1)} (override {override(lan1)}) after release")
        vm.check(not claims(), f"claims left after release: {claims()}")

        # managed='yes' <interface type='hostdev'>: libvirt reattaches the VF itself when the
        # guest stops (virPCIDeviceReattach: unbind, clear driver_override, drivers_probe),
        # before `release end`.
        router = domain_xml(vm, "router.xml",
                            "domain='0x0000' bus='0x03' slot='0x00' function='0x0'",
                            f"domain='{domain:#06x}' bus='{bus:#04x}' slot='{slot:#04x}' "
                            f"function='{function:#x}'")
        hook(vm, "router", "prepare", "begin", router)
        vm.check(driver(lan1) == "vfio-pci", f"{lan1} is on {driver(lan1)} after prepare")
        write(f"/sys/bus/pci/devices/{lan1}/driver/unbind", lan1)
        write(f"/sys/bus/pci/devices/{lan1}/driver_override", "\n")
        write("/sys/bus/pci/drivers_probe", lan1)
        vm.wait_for(f"{lan1} to be back on e1000e", lambda: driver(lan1) == "e1000e", timeout=90)
        out = hook(vm, "router", "release", "end", router).stdout
        vm.check(f"{lan1} e1000e -> e1000e" in out, f"the release did not agree: {out}")
        vm.check((driver(lan1), override(lan1)) == ("e1000e", None),
                 f"{lan1} is on {driver(lan1)} (override {override(lan1)}) after release")
        vm.check(group_property(vm, group, "Owner") == "", "the router still owns the group")
        vm.check(not claims(), f"claims left after release: {claims()}")
