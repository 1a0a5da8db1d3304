# SPDX-License-Identifier: LGPL-2.1-or-later
# Server: one endpoint behind the pci-bridge takes its group peer along, and the bridge's
# shpchp (which claims DMA ownership) lets go; the uplink that carries the default route is
# refused, and so is the NVMe while its disk is claimed exclusively; a VFIO user holding a
# device makes a release fail at its deadline, naming it, while the bus keeps answering.
# Meanwhile the daemon keeps the NFD and Prometheus files written: an assign, a policy reload
# and a hot-plug (a NIC that an autobind rule takes) each show there within a second.
import json
import os
import shutil
import subprocess
import time

from checks import iommud_listing, listed_devices, sysfs_devices

TOPOLOGY = "server"
TIMEOUT = 360
EXPORTS = "/run/exports"
POLICY = "/run/export-policy"
NFD_FILE = f"{EXPORTS}/features.d/iommud"
METRICS_FILE = f"{EXPORTS}/textfile/iommud.prom"
FILE_DEADLINE = 1.0  # seconds from a change to the files saying it
HOTPLUG_ID = "hotnic"


def read(path):
        with open(path) as f:
                return f.read()


def nfd():
        return dict(line.split("=", 1) for line in read(NFD_FILE).splitlines()
                    if line and not line.startswith("#"))


def metrics():
        return {name: float(value) for name, value in
                (line.rsplit(" ", 1) for line in read(METRICS_FILE).splitlines()
                 if line and not line.startswith("#"))}


def files_follow(vm, what, since, predicate):
        """Polls the files every 20 ms until PREDICATE holds, which must be within
        FILE_DEADLINE of SINCE (a monotonic time); logs how long it took."""
        while not predicate():
                vm.check(time.monotonic() - since < FILE_DEADLINE,
                         f"the export files do not show {what} {FILE_DEADLINE} s after it: "
                         f"NFD {nfd()}, metrics {metrics()}")
                time.sleep(0.02)
        vm.log(f"the export files showed {what} after {time.monotonic() - since:.3f} s")


def start_daemon_with_files(vm):
        os.makedirs(os.path.dirname(NFD_FILE), exist_ok=True)
        os.makedirs(os.path.dirname(METRICS_FILE), exist_ok=True)
        os.makedirs(POLICY, exist_ok=True)
        shutil.copy(os.path.join(vm.source_dir, "tests", "policy", "allow-all", "allow-all.json"),
                    POLICY)
        vm.start_daemon(f"--policy-dir={POLICY}", f"--nfd-file={NFD_FILE}",
                        f"--metrics-file={METRICS_FILE}")
        vm.check(read(NFD_FILE) == vm.iommuctl("export", "nfd"),
                 "the NFD file does not say what iommuctl export nfd says")


def exports_follow(vm, legacy0):
        """Assign, policy reload, hot-plug: each in the files within a second."""
        legacy = "8086_100e"  # the e1000 pair behind the bridge: not viable on their driver
        # The release that ended the scenario before shows once the daemon has the pair home.
        vm.wait_for("the NFD file to drop the e1000 pair, home again",
                    lambda: f"iommud.assignable.{legacy}" not in nfd(), 30)
        vm.run(["iommuctl", "assign", "router", legacy0])
        files_follow(vm, "the assign", time.monotonic(),
                     lambda: nfd().get(f"iommud.assignable.{legacy}") == "2" and
                     nfd().get(f"iommud.available.{legacy}") == "0" and
                     metrics().get('iommud_groups_owned{owner="router"}') == 1)
        vm.run(["iommuctl", "release", "router"])
        files_follow(vm, "the release", time.monotonic(),
                     lambda: f"iommud.assignable.{legacy}" not in nfd() and
                     'iommud_groups_owned{owner="router"}' not in metrics())

        # A reload with an autobind rule for the address a card in the empty slot will have.
        port = vm.address_of("rp-hotplug")
        bus = int(read(f"/sys/bus/pci/devices/{port}/secondary_bus_number"))
        address = f"0000:{bus:02x}:00.0"
        reloads = metrics()["iommud_policy_reloads_total"]
        with open(f"{POLICY}/20-hotplug.json", "w") as f:
                json.dump({"rules": [{"id": "hot-nic-to-vfio", "match": {"address": address},
                                      "guests": ["*"], "action": "allow",
                                      "options": {"autobind": True}}]}, f)
        vm.run(["iommuctl", "policy", "reload"])
        files_follow(vm, "the policy reload", time.monotonic(),
                     lambda: metrics()["iommud_policy_reloads_total"] > reloads and
                     metrics()["iommud_policy_rules"] == 2)

        # The hot-plugged NIC: listed (the autobind rule takes it to vfio-pci) as soon as the
        # daemon has it.
        vm.qmp("device_add", driver="e1000e", id=HOTPLUG_ID, bus="rp-hotplug",
               mac="52:54:00:00:03:01")
        vm.check(vm.address_of(HOTPLUG_ID) == address,
                 f"the hot-plugged NIC is at {vm.address_of(HOTPLUG_ID)}, not {address}")
        # Polled closely, not with wait_for's backoff: when the kernel has it, and when the
        # daemon does. The second second is the daemon's: its rescan, under TCG on a busy
        # machine, may take longer than a second after the uevent by itself.
        deadline = time.monotonic() + 60
        while not os.path.exists(f"/sys/bus/pci/devices/{address}"):
                vm.check(time.monotonic() < deadline, f"the kernel did not enumerate {address}")
                time.sleep(0.02)
        enumerated = time.monotonic()
        while not listed_devices(vm).get(address):
                vm.check(time.monotonic() < deadline, f"iommud did not list {address}")
                time.sleep(0.02)
        vm.log(f"iommud listed {address} {time.monotonic() - enumerated:.3f} s after the "
               "kernel enumerated it")
        files_follow(vm, "the hot-plug", time.monotonic(),
                     lambda: nfd().get("iommud.assignable.8086_10d3") == "1")
        vm.log(f"the NFD file listed {address} {time.monotonic() - enumerated:.3f} s after the "
               "kernel enumerated it")
        vm.wait_for(f"the autobind rule to put {address} on vfio-pci",
                    lambda: sysfs_devices()[address]["driver"] == "vfio-pci", 60)
        vm.wait_for("the metrics file to count the NIC on vfio-pci",
                    lambda: metrics().get('iommud_devices{driver="vfio-pci"}') == 1, 30)


def driver(address):
        link = f"/sys/bus/pci/devices/{address}/driver"
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else None


def run(vm):
        legacy0, legacy1 = vm.address_of("legacy0"), vm.address_of("legacy1")
        bridge, uplink = vm.address_of("bridge"), vm.address_of("uplink")
        home = {a: driver(a) for a in (legacy0, legacy1, bridge)}
        start_daemon_with_files(vm)

        plan = vm.iommuctl_json("--dry-run", "assign", "router", legacy0)
        rows = {row["address"]: row for row in plan["plan"]}
        vm.log(f"dry-run plan: {plan['plan']}")
        vm.check(sorted(rows) == sorted([bridge, legacy0, legacy1]),
                 f"the plan for {legacy0} covers {sorted(rows)}, not it, its peer {legacy1} "
                 f"and the bridge {bridge}")
        vm.check(rows[legacy1]["reason"] == {"kind": "peer", "of": legacy0},
                 f"the peer's reason is {rows[legacy1]['reason']!r}")
        vm.check(rows[bridge]["from"] == "shpchp" and rows[bridge]["to"] is None,
                 f"the bridge's step is {rows[bridge]}, not shpchp to no driver")
        vm.check(vm.iommuctl("--dry-run", "assign", "router", legacy0).count("group peer") == 2,
                 "the plan table does not mark the group peers")
        vm.check({a: driver(a) for a in home} == home, "a dry run changed sysfs")

        vm.show(["iommuctl", "assign", "router", legacy0])
        vm.check(driver(legacy0) == driver(legacy1) == "vfio-pci",
                 f"after assign: {legacy0} on {driver(legacy0)}, {legacy1} on {driver(legacy1)}")
        vm.check(driver(bridge) is None, f"the bridge is still on {driver(bridge)}")
        listed = {g["id"]: g for g in iommud_listing(vm)["groups"]}
        group = vm.iommuctl_json("show", legacy0)["group"]["id"]
        vm.check(listed[group]["viable"] and listed[group]["state"] == "assigned",
                 f"the assigned group is listed as {listed[group]}")
        vm.show(["iommuctl", "release", "router", legacy1])
        vm.check({a: driver(a) for a in home} == home,
                 f"after release: {({a: driver(a) for a in home})}, not {home}")

        result = vm.run(["iommuctl", "assign", "router", uplink], check=False, quiet=True)
        vm.log(f"assign of the uplink: {result.returncode}: {result.stderr.strip()}")
        vm.check(result.returncode == 1 and "(InUse)" in result.stderr and
                 "carries the default route" in result.stderr,
                 f"assigning the uplink {uplink} gave {result.returncode}: {result.stderr!r}")
        vm.check(driver(uplink) == "e1000e", f"the uplink is on {driver(uplink)} now")

        # The NVMe's disk claimed exclusively (as a mounted filesystem or md/dm/ZFS claims it)
        # with no mount table naming it: the O_EXCL probe refuses it.
        nvme = vm.address_of("nvme0")
        claim = subprocess.Popen(["python3", "-c", "import os, sys\n"
                                  "fd = os.open('/dev/nvme0n1', os.O_RDONLY | os.O_EXCL)\n"
                                  "print('claimed', flush=True)\nsys.stdin.read()"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        vm.check(claim.stdout.readline().strip() == "claimed", "cannot claim /dev/nvme0n1")
        result = vm.run(["iommuctl", "assign", "router", nvme], check=False, quiet=True)
        claim.communicate(timeout=10)
        vm.log(f"assign of the claimed NVMe: {result.returncode}: {result.stderr.strip()}")
        vm.check(result.returncode == 1 and "(InUse)" in result.stderr and
                 "nvme0n1 is held open exclusively" in result.stderr,
                 f"assigning the claimed NVMe {nvme} gave {result.returncode}: {result.stderr!r}")
        vm.check(driver(nvme) == "nvme", f"the claimed NVMe is on {driver(nvme)} now")

        # A VFIO user holds legacy0: the release's unbind blocks in vfio-pci's remove path. The
        # bus keeps answering meanwhile, and the release fails at its deadline naming the holder.
        vm.show(["iommuctl", "assign", "router", legacy0])
        holder = subprocess.Popen([os.path.join(vm.build_dir, "tests", "vm", "vfio-hold"),
                                   str(group), legacy0], stdout=subprocess.PIPE, text=True)
        vm.check(holder.stdout.readline().strip() == "holding", "vfio-hold did not open the device")
        release = subprocess.Popen(["iommuctl", "release", "router"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        vm.wait_for("vfio-pci to wait for the holder",
                    lambda: "blocked until released by user" in vm.sh(["dmesg"], quiet=True),
                    timeout=30)
        start = time.monotonic()
        listing = vm.run(["iommuctl", "--json", "list"], check=False, quiet=True)
        took = time.monotonic() - start
        vm.log(f"iommuctl list during the blocked unbind: status {listing.returncode} in "
               f"{took:.2f} s")
        vm.check(listing.returncode == 0 and '"source": "daemon"' in listing.stdout and took < 3,
                 f"the daemon did not answer a read while a release was blocked "
                 f"(status {listing.returncode}, {took:.1f} s): {listing.stderr}")
        vm.check(release.poll() is None, "the release returned while the device was held")
        out, err = release.communicate(timeout=120)
        vm.log(f"release while held: {release.returncode}: {err.strip()}")
        vm.check(release.returncode == 1 and "(Busy)" in err and
                 f"vfio-hold (pid {holder.pid})" in err,
                 f"the release gave {release.returncode}: {err!r}, not Busy naming "
                 f"vfio-hold (pid {holder.pid})")
        with open("/run/iommud/state.json") as f:
                vm.check(json.load(f)["intents"], "the unfinished release is not journaled")

        # Once the holder lets go, the kernel finishes the unbind and the daemon the release.
        holder.kill()
        holder.wait()
        def journal():
                with open("/run/iommud/state.json") as f:
                        return json.load(f)

        # The devices go home first, then the journal records it: wait for both.
        vm.wait_for("the release to finish once the holder is gone",
                    lambda: {a: driver(a) for a in home} == home and
                    not journal()["intents"], timeout=90)
        vm.check(not journal()["claims"], f"the journal after the finished release: {journal()}")

        exports_follow(vm, legacy0)
