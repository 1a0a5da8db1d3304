# SPDX-License-Identifier: LGPL-2.1-or-later
# Workstation with systemd as PID 1: the installed, sandboxed iommud.service does the daemon's job
# (discovery, a real assign and release with a reset on the way home and logind's sleep
# inhibitor held meanwhile, an in-use refusal, its journal in /var/lib/iommud), is
# restarted after a SIGKILL with its claims intact, misses no change when its uevent socket
# overruns (stopped while udev sends, it rescans), and logs no sandbox refusal.
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from checks import check_listing, compare_with_sysfs, daemon_listing, driver_of, iommud_listing

TOPOLOGY = "workstation"
INIT = "systemd"
TIMEOUT = 420

UNIT = "iommud.service"
JOURNAL = "/var/lib/iommud/state.json"
POLICY_DIR = "/etc/iommud/policy.d"
GUEST = "sandboxed"
# What the unit's CapabilityBoundingSet= leaves: CAP_DAC_READ_SEARCH (2), CAP_SYS_PTRACE (19),
# CAP_SYS_ADMIN (21) (capability(7)).
CAP_BOUNDING = (1 << 2) | (1 << 19) | (1 << 21)
# Holds the block device argv[1] open with O_EXCL, as a volume manager would, until stdin ends.
HOLD = ("import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL); "
        "print('held', flush=True); sys.stdin.read()")
# What a sandbox refusal looks like in the daemon's log: a filtered system call fails with EPERM
# (SystemCallErrorNumber=), a denied device node or a read-only path with EPERM, EACCES or EROFS.
# netlink(7): the uevent sockets, whose drops /proc/net/netlink counts.
NETLINK_KOBJECT_UEVENT = 15
# 'change' uevents written between two looks at the socket while iommud is stopped. Without
# CAP_NET_ADMIN (the unit's bounding set) iommud holds 2 x net.core.rmem_max (416 KiB on
# Debian), not the 128 MiB it asks for: some hundreds of udev's messages.
OVERRUN_ROUND = 32
OVERRUN_DEADLINE = 120
REFUSAL = re.compile(r"Operation not permitted|Permission denied|Read-only file system|EPERM|"
                     r"EACCES|EROFS|seccomp", re.I)


def unit(vm, *names):
        """The unit's properties NAMES, from systemctl show."""
        out = vm.sh(["systemctl", "show", UNIT, *(f"--property={n}" for n in names)], quiet=True)
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def proc_status(pid):
        with open(f"/proc/{pid}/status") as f:
                return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def journal():
        with open(JOURNAL) as f:
                return json.load(f)


def claim_of(group):
        return {c["group"]: c for c in journal()["claims"]}.get(group)


def refuse_nvme(vm, nvme, reason):
        refused = vm.run(["iommuctl", "assign", GUEST, nvme], check=False)
        vm.check(refused.returncode == 1 and "(InUse)" in refused.stderr and reason in
                 refused.stderr, f"assigning the NVMe answered {refused.returncode} "
                 f"{refused.stderr!r}, not (InUse) '{reason}'")
        vm.check(driver_of(nvme) == "nvme", f"{nvme} is on {driver_of(nvme)} after a refusal")
        vm.log(f"refused: {refused.stderr.strip()}")


def uevent_drops(pid):
        """What the kernel dropped on process PID's uevent sockets for want of room: Drops of
        its rows in /proc/net/netlink (sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode)."""
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                        target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                        continue
                if target.startswith("socket:["):
                        inodes.add(target[len("socket:["):-1])
        with open("/proc/net/netlink") as f:
                rows = [line.split() for line in f.readlines()[1:]]
        return sum(int(r[8]) for r in rows
                   if r[1] == str(NETLINK_KOBJECT_UEVENT) and r[9] in inodes)


def write_sysfs(path, value):
        with open(path, "w") as f:
                f.write(value)


def overrun(vm, pid, nic):
        """Stops iommud while udev sends it 'change' uevents until its socket drops them; then
        unbinds NIC, whose uevent is dropped too, and lets iommud go on. The overrun (ENOBUFS)
        must make it rescan the host, which finds the NIC unbound. The flood names every
        device but NIC: reading its queued uevents would find the NIC without a rescan."""
        devices = sorted(d for d in os.listdir("/sys/bus/pci/devices") if d != nic)
        sent, began = 0, time.monotonic()
        os.kill(pid, signal.SIGSTOP)
        try:
                while uevent_drops(pid) == 0:
                        vm.check(time.monotonic() - began < OVERRUN_DEADLINE,
                                 f"iommud's uevent socket dropped nothing after {sent} uevents "
                                 f"in {OVERRUN_DEADLINE} s: is its buffer bigger than 2 x "
                                 "net.core.rmem_max (CAP_NET_ADMIN)?")
                        for _ in range(OVERRUN_ROUND):
                                write_sysfs(f"/sys/bus/pci/devices/{devices[sent % len(devices)]}"
                                            "/uevent", "change")
                                sent += 1
                        vm.run(["udevadm", "settle", "--timeout=60"], quiet=True, timeout=70)
                drops = uevent_drops(pid)
                write_sysfs(f"/sys/bus/pci/devices/{nic}/driver/unbind", nic)
                vm.run(["udevadm", "settle", "--timeout=60"], quiet=True, timeout=70)
                vm.check(uevent_drops(pid) > drops,
                         f"the uevent of {nic}'s unbind reached iommud's full socket")
        finally:
                os.kill(pid, signal.SIGCONT)
        vm.log(f"iommud stopped: its socket dropped uevents after {sent} 'change' uevents "
               f"({time.monotonic() - began:.1f} s), the unbind of {nic} among them")


def daemon_driver_is(vm, address, driver):
        listing = daemon_listing(vm)
        return listing and {d["address"]: d["driver"]
                            for d in listing["devices"]}.get(address, "") == driver


def check_sandbox(vm, pid, installed):
        """The running daemon is the installed program, inside the unit's sandbox."""
        exe = os.readlink(f"/proc/{pid}/exe")
        vm.check(exe == installed, f"the unit's main process {pid} runs {exe}, not {installed}")
        status = proc_status(pid)
        vm.check(int(status["CapBnd"], 16) == CAP_BOUNDING,
                 f"iommud's capability bounding set is {status['CapBnd']}, not "
                 f"{CAP_BOUNDING:016x} (CapabilityBoundingSet=)")
        vm.check(status["NoNewPrivs"] == "1" and status["Seccomp"] == "2",
                 f"iommud runs with NoNewPrivs {status['NoNewPrivs']} and Seccomp "
                 f"{status['Seccomp']}, not 1 and 2 (a filter)")
        vm.check(os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/1/ns/mnt"),
                 "iommud shares PID 1's mount namespace: no ProtectSystem=, PrivateMounts=")
        vm.log(f"iommud (PID {pid}) runs {exe} with CapBnd {status['CapBnd']}, NoNewPrivs, a "
               f"seccomp filter and its own mount namespace")


def run(vm):
        vm.check(os.readlink("/proc/1/exe").endswith("/systemd"),
                 f"PID 1 is {os.readlink('/proc/1/exe')}, not systemd")
        vm.log(vm.sh(["systemd-analyze", "time"], quiet=True).strip())

        # The unit systemd loaded is the one 'meson install' wrote (guest/init copied the tree).
        fragment = unit(vm, "FragmentPath")["FragmentPath"]
        with open(fragment) as a, open("/run/vm/install" + fragment) as b:
                text = a.read()
                vm.check(text == b.read(), f"{fragment} is not the installed unit")
        installed = re.search(r"^ExecStart=(\S+)", text, re.M).group(1)
        # iommud's tmpfiles.d made the policy directory at boot; a policy goes in.
        vm.check(os.path.isdir(POLICY_DIR), f"{POLICY_DIR} was not made at boot (tmpfiles.d)")
        shutil.copy(os.path.join(vm.source_dir, "tests", "policy", "allow-all", "allow-all.json"),
                    POLICY_DIR)

        # Enabled, not started: the first call on the bus starts it (D-Bus activation through
        # the unit's Alias=dbus-org.iommud1.service). busctl waits as long as the start takes;
        # iommuctl's reads give up after 5 s and read the host instead, and a start under TCG
        # on busy cores can take longer.
        vm.run(["systemctl", "enable", UNIT])
        vm.check(unit(vm, "ActiveState")["ActiveState"] == "inactive",
                 "iommud.service is running before anyone asked for it")
        vm.run(["busctl", "--system", "--timeout=90", "call", "org.iommud1", "/org/iommud1",
                "org.freedesktop.DBus.Peer", "Ping"], timeout=100)
        listing = iommud_listing(vm)
        state = unit(vm, "ActiveState", "MainPID", "NRestarts")
        vm.check(state["ActiveState"] == "active", f"after a bus call iommud.service is {state}")
        pid = int(state["MainPID"])
        check_sandbox(vm, pid, installed)

        # Discovery: what the sandboxed daemon sees is what the kernel says.
        check_listing(vm, listing)

        # A real assign of the idle NIC: vfio-pci, the group's node, the claim in the journal.
        lan1, nvme = vm.address_of("lan1"), vm.address_of("nvme0")
        home = driver_of(lan1)
        vm.show(["iommuctl", "assign", GUEST, lan1])
        group = vm.iommuctl_json("show", lan1)["group"]["id"]
        vm.check(driver_of(lan1) == "vfio-pci", f"{lan1} is on {driver_of(lan1)} after assign")
        vm.check(os.path.exists(f"/dev/vfio/{group}"), f"/dev/vfio/{group} is missing")
        vm.check((claim_of(group) or {}).get("owner") == GUEST,
                 f"{JOURNAL} does not record {GUEST}'s claim of group {group}: {journal()}")
        # While a guest owns a group the daemon holds logind's sleep inhibitor (logind is
        # bus-activated here).
        vm.wait_for("iommud to hold logind's sleep inhibitor", lambda: "block" in vm.sh(
                ["busctl", "get-property", "org.iommud1", "/org/iommud1", "org.iommud1.Manager",
                 "SleepInhibitor"], quiet=True), 60)
        inhibitors = vm.sh(["systemd-inhibit", "--list", "--no-pager"], quiet=True)
        vm.log(f"systemd-inhibit --list:\n{inhibitors}")
        vm.check(re.search(r"iommud .*sleep .*block", inhibitors),
                 f"logind does not list iommud's inhibitor:\n{inhibitors}")

        # The NVMe in use: refused, saying why, nothing changed. First held by a program with
        # O_EXCL, which only the daemon's own O_EXCL probe of the disk's node can see
        # (DeviceAllow=block-* r); then mounted again, newer than the daemon's private mount
        # namespace.
        disk = vm.sh(["findmnt", "-n", "-o", "SOURCE", "/mnt/data"], quiet=True).strip()
        vm.run(["umount", "/mnt/data"])
        holder = subprocess.Popen([sys.executable, "-c", HOLD, disk], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        vm.check(holder.stdout.readline().strip() == "held", f"cannot hold {disk} with O_EXCL")
        refuse_nvme(vm, nvme, f"{os.path.basename(disk)} is held open exclusively")
        holder.communicate("", timeout=30)
        vm.run(["mount", disk, "/mnt/data"])
        refuse_nvme(vm, nvme, "is mounted at /mnt/data")

        # SIGKILL: Restart=on-failure brings it back, and the claim with it, from the journal.
        vm.run(["systemctl", "kill", "--signal=SIGKILL", UNIT])
        vm.wait_for("iommud.service restarted after SIGKILL", lambda: (
                lambda s: s["ActiveState"] == "active" and s["MainPID"] not in ("0", str(pid))
                and int(s["NRestarts"]) == int(state["NRestarts"]) + 1)(
                unit(vm, "ActiveState", "MainPID", "NRestarts")), 60)
        pid = int(unit(vm, "MainPID")["MainPID"])
        check_sandbox(vm, pid, installed)
        groups = {g["id"]: g for g in iommud_listing(vm)["groups"]}
        vm.check(groups[group]["owner"] == GUEST and groups[group]["state"] == "assigned",
                 f"after the restart iommuctl list shows group {group} as {groups[group]}")
        vm.check(driver_of(lan1) == "vfio-pci", f"{lan1} is on {driver_of(lan1)} after restart")

        # Release: back home, the node gone, no claim left.
        vm.show(["iommuctl", "release", GUEST])
        vm.check(driver_of(lan1) == home, f"{lan1} is on {driver_of(lan1)} after release, "
                 f"not {home}")
        vm.wait_for(f"/dev/vfio/{group} to go", lambda: not os.path.exists(f"/dev/vfio/{group}"), 60)
        vm.check(claim_of(group) is None, f"{JOURNAL} still has the claim: {journal()}")
        # The sandbox let it reset the NIC on the way home, and let the inhibitor go.
        resets = {r["address"]: r for r in journal().get("resets", [])}
        vm.check(resets.get(lan1, {}).get("result") == "ok",
                 f"{JOURNAL} does not record a reset of {lan1} that worked: {journal()}")
        vm.wait_for("iommud to let the inhibitor go", lambda: "iommud" not in vm.sh(
                ["systemd-inhibit", "--list", "--no-pager"], quiet=True), 60)

        # Uevents lost to a full socket: the daemon says so and rescans, and finds the change
        # whose uevent it never read.
        overrun(vm, pid, lan1)
        vm.wait_for("iommud to log the overrun", lambda: "Missed uevents (the receive buffer "
                    "overran): rescanning the host." in vm.sh(
                            ["journalctl", "--no-pager", "-o", "cat", "-u", UNIT], quiet=True), 60)
        vm.wait_for(f"iommud to list {lan1} without a driver",
                    lambda: daemon_driver_is(vm, lan1, None), 60)
        problems = compare_with_sysfs(iommud_listing(vm))
        vm.check(not problems, "after the rescan iommud and the kernel differ:\n"
                 + "\n".join(problems))
        write_sysfs(f"/sys/bus/pci/drivers/{home}/bind", lan1)
        vm.wait_for(f"iommud to list {lan1} on {home} again",
                    lambda: daemon_driver_is(vm, lan1, home), 60)

        # A clean stop, and a log without a sandbox refusal in it.
        vm.run(["systemctl", "stop", UNIT])
        state = unit(vm, "Result", "ExecMainCode", "ExecMainStatus")
        vm.check(state == {"Result": "success", "ExecMainCode": "1", "ExecMainStatus": "0"},
                 f"iommud.service stopped with {state}, not exit status 0")
        log = vm.sh(["journalctl", "--no-pager", "-o", "cat", "-u", UNIT], quiet=True)
        vm.check("Serving org.iommud1." in log, f"the unit's log lacks iommud's own lines:\n{log}")
        vm.check("code=killed, status=9/KILL" in log,
                 f"the unit's log does not show the SIGKILL:\n{log}")
        refusals = [line for line in log.splitlines() if REFUSAL.search(line)]
        vm.check(not refusals, "the sandbox refused iommud something:\n" + "\n".join(refusals))
        vm.log(f"the unit's log: {len(log.splitlines())} lines, no sandbox refusal")
