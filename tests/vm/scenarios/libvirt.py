# SPDX-License-Identifier: LGPL-2.1-or-later
# Workstation with a real libvirtd (Debian's monolithic daemon) and a nested TCG guest: `virsh
# start` of a domain with the idle NIC as <hostdev managed='no'> gets it on vfio-pci through
# iommud-libvirt-hook and the nested QEMU holds /dev/vfio/N; `virsh destroy` sends it home; a
# domain the policy denies fails `virsh start` with the rule's id and nothing moves; a libvirtd
# restart while the domain runs changes nothing; with the hook removed, `virsh destroy` still
# returns the NIC through libvirt's lifecycle event, which iommud follows.
import json
import os
import time

from checks import driver_of as driver, override_of as override
from harness.proc import stop
from libvirt_guest import FOLLOWING, HOOK, VIRSH, define, set_up, start_libvirtd, write

TOPOLOGY = "workstation"
TIMEOUT = 420

JOURNAL = "/run/iommud/state.json"
POLICY_DIR = "/run/libvirt-test/policy"
NESTED = ("nested", "5b0c2d8e-7a43-4f6e-9c1b-2f8d6e4a1c01")
DENIED = ("denied", "5b0c2d8e-7a43-4f6e-9c1b-2f8d6e4a1c02")


def claims():
        with open(JOURNAL) as f:
                return json.load(f)["claims"]


def iommud_log(vm):
        with open(vm.processes["iommud"][1]) as f:
                return f.read()


def qemu_holds(vm, name, node):
        """The nested QEMU of domain NAME has NODE open."""
        with open(f"/run/libvirt/qemu/{name}.pid") as f:
                pid = int(f.read())
        fds = os.listdir(f"/proc/{pid}/fd")
        links = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in fds}
        vm.check(node in links, f"the nested QEMU (PID {pid}) does not hold {node}: {links}")
        vm.log(f"the nested QEMU (PID {pid}) holds {node}")


def start(vm, name, lan1, group):
        began = time.monotonic()
        vm.run(VIRSH + ["start", name], timeout=180)
        vm.log(f"virsh start {name} took {time.monotonic() - began:.1f} s")
        vm.check(driver(lan1) == "vfio-pci", f"{lan1} is on {driver(lan1)} after virsh start")
        qemu_holds(vm, name, f"/dev/vfio/{group}")
        vm.check([c.get("owner") for c in claims()] == [name], f"the claims are {claims()}")


def run(vm):
        lan1 = vm.address_of("lan1")
        vm.check(driver(lan1) == "e1000e", f"{lan1} starts on {driver(lan1)}, not e1000e")

        set_up(vm)
        policy = {"rules": [
                {"id": "lan1-to-nested", "match": {"address": lan1}, "guests": [NESTED[0]],
                 "action": "allow"},
                {"id": "lan1-not-for-denied", "match": {"address": lan1}, "guests": [DENIED[0]],
                 "action": "deny"}]}
        write(os.path.join(POLICY_DIR, "libvirt.json"), json.dumps(policy, indent=2))

        start_libvirtd(vm, "libvirtd")
        vm.start_daemon(f"--policy-dir={POLICY_DIR}")
        vm.wait_for("iommud to follow libvirt", lambda: FOLLOWING in iommud_log(vm), 60)
        group = vm.iommuctl_json("show", lan1)["group"]["id"]
        for name, uuid in (NESTED, DENIED):
                define(vm, name, uuid, lan1)

        # (1) The hook assigns at `virsh start`, the nested QEMU holds the group's node, and
        # `virsh destroy` sends the NIC home.
        start(vm, NESTED[0], lan1, group)
        vm.run(VIRSH + ["destroy", NESTED[0]])
        # The release hook ran before virsh returned.
        vm.check((driver(lan1), override(lan1), claims()) == ("e1000e", None, []),
                 f"after virsh destroy {lan1} is on {driver(lan1)} (override {override(lan1)}), "
                 f"claims {claims()}")

        # (2) The policy denies the NIC to 'denied': virsh start fails with the rule's id.
        refused = vm.run(VIRSH + ["start", DENIED[0]], check=False, timeout=180)
        vm.log(f"virsh start {DENIED[0]} -> {refused.returncode}: {refused.stderr.strip()}")
        vm.check(refused.returncode != 0 and "lan1-not-for-denied" in refused.stderr,
                 f"virsh start {DENIED[0]} answered {refused.returncode} {refused.stderr!r}, "
                 "not a refusal naming lan1-not-for-denied")
        vm.check((driver(lan1), override(lan1), claims()) == ("e1000e", None, []),
                 f"after the refusal {lan1} is on {driver(lan1)} (override {override(lan1)}), "
                 f"claims {claims()}")

        # (3) A libvirtd restart while the domain runs changes nothing; with the hook gone
        # (libvirtd finds hooks when it starts), `virsh destroy` still returns the NIC: iommud
        # follows libvirt's lifecycle event.
        start(vm, NESTED[0], lan1, group)
        os.unlink(HOOK)
        followed = iommud_log(vm).count(FOLLOWING)
        stop(vm.processes["libvirtd"][0])
        start_libvirtd(vm, "libvirtd-restarted")
        vm.wait_for("iommud to follow the new libvirtd",
                    lambda: iommud_log(vm).count(FOLLOWING) > followed, 90)
        vm.check(driver(lan1) == "vfio-pci", f"{lan1} is on {driver(lan1)} after the restart")
        qemu_holds(vm, NESTED[0], f"/dev/vfio/{group}")
        vm.check([c.get("owner") for c in claims()] == [NESTED[0]],
                 f"after the libvirtd restart the claims are {claims()}")
        vm.run(VIRSH + ["destroy", NESTED[0]])
        # iommud's release runs on its own: the override names e1000e while it binds.
        vm.wait_for(f"{lan1} home after virsh destroy without the hook", lambda: (
                driver(lan1), override(lan1), claims()) == ("e1000e", None, []), 60)
        log = iommud_log(vm)
        vm.check(f"libvirt: '{NESTED[0]}' stopped; its groups go home." in log,
                 f"iommud's log does not show the lifecycle event:\n{log}")
