# SPDX-License-Identifier: LGPL-2.1-or-later
# Workstation with a real libvirtd (Debian's monolithic daemon) and a nested TCG guest.
# (0) <hostdev managed='yes'>, first without the hook: libvirt detaches the idle NIC itself,
# iommud records the running domain as its owner, and at `virsh destroy` libvirt reattaches it
# and iommud agrees (one unbind, libvirt's; the claim closes); then with the hook, which assigns
# at `virsh start` (libvirt finds the NIC on vfio-pci and leaves it there) and releases at the
# end. (1) `virsh start` of a domain with the NIC as <hostdev managed='no'> gets it on vfio-pci
# through iommud-libvirt-hook and the nested QEMU holds /dev/vfio/N; `virsh destroy` sends it
# home. (2) A domain the policy denies fails `virsh start` with the rule's id and nothing moves.
# (3) A libvirtd restart while the domain runs changes nothing, with the hook (its `reconnect
# begin`) and without; then `virsh destroy` still returns the NIC through libvirt's lifecycle
# event, which iommud follows. managed='yes' goes first: after managed='no' the same libvirtd
# keeps the NIC on its list of detached devices and leaves it on vfio-pci (DESIGN.md).
import json
import os
import socket
import time

from checks import driver_of as driver, override_of as override
from harness.proc import stop
from libvirt_guest import (FOLLOWING, HOOK, HOOK_RUNS, VIRSH, define, install_hook, set_up,
                           start_libvirtd, write)

TOPOLOGY = "workstation"
# Five nested `virsh start`s: 4-8 s each on idle cores, 35-49 s each at load 14, where the
# whole scenario passed 420 s. Below meson's 900 s for the test, so the harness reports first.
TIMEOUT = 840

JOURNAL = "/run/iommud/state.json"
POLICY_DIR = "/run/libvirt-test/policy"
NESTED = ("nested", "5b0c2d8e-7a43-4f6e-9c1b-2f8d6e4a1c01")
DENIED = ("denied", "5b0c2d8e-7a43-4f6e-9c1b-2f8d6e4a1c02")
MANAGED = ("managed", "5b0c2d8e-7a43-4f6e-9c1b-2f8d6e4a1c03")
NETLINK_KOBJECT_UEVENT = 15


def claims():
        """The journal's claims; none before iommud first writes it (its first claim)."""
        try:
                with open(JOURNAL) as f:
                        return json.load(f)["claims"]
        except FileNotFoundError:
                return []


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


class Uevents:
        """The kernel's uevents from now on (the netlink socket udev reads)."""

        def __init__(self):
                self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM,
                                          NETLINK_KOBJECT_UEVENT)
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                self.sock.bind((0, 1))
                self.sock.setblocking(False)

        def read(self):
                """The uevents so far, each a dict of its KEY=value fields; closes the socket."""
                events = []
                while True:
                        try:
                                data = self.sock.recv(65536)
                        except BlockingIOError:
                                break
                        fields = data.split(b"\0")[1:]
                        events.append(dict(f.decode(errors="replace").split("=", 1)
                                           for f in fields if b"=" in f))
                self.sock.close()
                return events


def start(vm, name, lan1, group, adopted=False):
        """virsh start NAME: the NIC on vfio-pci, in the nested QEMU's hands, and NAME's (at once
        through the hook, or once iommud followed libvirt's event when ADOPTED)."""
        began = time.monotonic()
        vm.run(VIRSH + ["start", name], timeout=180)
        vm.log(f"virsh start {name} took {time.monotonic() - began:.1f} s")
        vm.check(driver(lan1) == "vfio-pci", f"{lan1} is on {driver(lan1)} after virsh start")
        qemu_holds(vm, name, f"/dev/vfio/{group}")
        if adopted:
                began = time.monotonic()
                vm.wait_for(f"iommud to record '{name}' as the owner of {lan1}",
                            lambda: [c.get("owner") for c in claims()] == [name], 120)
                vm.log(f"iommud recorded '{name}' as the owner {time.monotonic() - began:.1f} s "
                       "after virsh start returned")
        vm.check([c.get("owner") for c in claims()] == [name], f"the claims are {claims()}")


def hook_runs():
        with open(HOOK_RUNS) as f:
                return f.read().splitlines()


def home(lan1):
        return (driver(lan1), override(lan1), claims()) == ("e1000e", None, [])


def wait_home(vm, lan1, what, timeout=120):
        """Waits until LAN1 is home (e1000e, no override, nobody's); says where it is if not."""
        deadline = time.monotonic() + timeout
        vm.wait_for(f"{lan1} home {what}", lambda: home(lan1) or time.monotonic() > deadline,
                    timeout + 30)
        vm.check(home(lan1), f"{what} {lan1} is on {driver(lan1)} (override {override(lan1)}), "
                 f"claims {claims()}")


def restart_libvirtd(vm, running, name):
        """Stops libvirtd RUNNING, starts it as NAME and waits until iommud follows it."""
        followed = iommud_log(vm).count(FOLLOWING)
        stop(vm.processes[running][0])
        start_libvirtd(vm, name)
        vm.wait_for(f"iommud to follow {name}",
                    lambda: iommud_log(vm).count(FOLLOWING) > followed, 90)


def run(vm):
        lan1 = vm.address_of("lan1")
        vm.check(driver(lan1) == "e1000e", f"{lan1} starts on {driver(lan1)}, not e1000e")

        set_up(vm, hook=False)
        policy = {"rules": [
                {"id": "lan1-to-nested", "match": {"address": lan1},
                 "guests": [NESTED[0], MANAGED[0]],
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
        define(vm, *MANAGED, lan1, managed="yes")

        # (0) managed='yes' without the hook: libvirt moves the NIC both ways itself; iommud
        # records the running domain as its owner, and agrees at the end: the NIC is unbound
        # once (by libvirt, from vfio-pci), no error, the claim closed.
        start(vm, MANAGED[0], lan1, group, adopted=True)
        uevents = Uevents()
        vm.run(VIRSH + ["destroy", MANAGED[0]])
        # Home once iommud closed the claim, which its release does last: every move of the
        # NIC, libvirt's and any of iommud's, was made and announced by then.
        wait_home(vm, lan1, f"after virsh destroy {MANAGED[0]}")
        moves = [(e["ACTION"], e.get("DRIVER")) for e in uevents.read()
                 if e.get("ACTION") in ("bind", "unbind") and
                 e.get("DEVPATH", "").endswith("/" + lan1)]
        vm.log(f"{lan1} during virsh destroy {MANAGED[0]}: {moves}")
        vm.check(moves == [("unbind", None), ("bind", "e1000e")],
                 f"{lan1} moved {moves} during virsh destroy, not once from vfio-pci to e1000e "
                 "(libvirt's reattach)")
        warnings = [line for line in iommud_log(vm).splitlines() if "IOMMU group" in line and
                    ("putting it back" in line or "left for when" in line)]
        vm.check(not warnings, f"iommud's release after libvirt's reattach: {warnings}")

        # With the hook (libvirtd finds hooks when it starts): it assigns at `virsh start`,
        # libvirt finds the NIC on vfio-pci and leaves it there at the end; the release hook
        # brings it home.
        install_hook(vm, hook_runs=True)
        restart_libvirtd(vm, "libvirtd", "libvirtd-hook")
        start(vm, MANAGED[0], lan1, group)
        vm.run(VIRSH + ["destroy", MANAGED[0]])
        vm.check(home(lan1), f"after virsh destroy {MANAGED[0]} with the hook {lan1} is on "
                 f"{driver(lan1)} (override {override(lan1)}), claims {claims()}")
        vm.log("hook runs: " + "; ".join(hook_runs()))

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

        # (3) A libvirtd restart while the domain runs changes nothing: with the hook, which
        # libvirtd runs as `reconnect begin`, and without it (libvirtd finds hooks when it
        # starts); then `virsh destroy` still returns the NIC: iommud follows libvirt's
        # lifecycle event.
        start(vm, NESTED[0], lan1, group)
        running = "libvirtd-hook"
        for name, hook in (("libvirtd-reconnected", True), ("libvirtd-without-hook", False)):
                if not hook:
                        os.unlink(HOOK)
                with open(JOURNAL) as f:
                        journal = f.read()
                restart_libvirtd(vm, running, name)
                running = name
                if hook:
                        # libvirtd reconnects to its domains on a thread of its own.
                        vm.wait_for("libvirtd to run the hook's reconnect begin", lambda: any(
                                r.startswith(f"{NESTED[0]} reconnect begin ") for r in hook_runs()),
                                60)
                vm.check(driver(lan1) == "vfio-pci",
                         f"{lan1} is on {driver(lan1)} after {name} started")
                qemu_holds(vm, NESTED[0], f"/dev/vfio/{group}")
                with open(JOURNAL) as f:
                        vm.check(f.read() == journal,
                                 f"{name} changed iommud's journal: claims {claims()}")
        vm.run(VIRSH + ["destroy", NESTED[0]])
        # iommud's release runs on its own: the override names e1000e while it binds.
        wait_home(vm, lan1, "after virsh destroy without the hook")
        log = iommud_log(vm)
        vm.check(f"libvirt: '{NESTED[0]}' stopped; its groups go home." in log,
                 f"iommud's log does not show the lifecycle event:\n{log}")
