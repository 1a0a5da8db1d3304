# SPDX-License-Identifier: LGPL-2.1-or-later
# Server: a bridge group, root ports, and a NIC hot-plugged into the empty port and removed again,
# followed by iommud one uevent at a time: an autobind rule for the empty port's slot puts the
# NIC on vfio-pci with no command; owned by a guest, its device_del closes the ownership
# (OwnershipLost, seen by `iommuctl monitor --json`); a manual unbind shows in `iommuctl list`
# within a second.
import json
import os
import signal
import subprocess
import time

from checks import check_listing, driver_of, iommud_listing, listed_devices, sysfs_devices

TOPOLOGY = "server"
TIMEOUT = 420
HOTPLUG_ID = "hotnic"
FOLLOW_TIMEOUT = 60
POLICY_DIR = "/run/iommud-policy"
MONITOR_LOG = "/run/iommuctl-monitor.json"
PCI_SECONDARY_BUS = 0x19  # type 1 config header (PCI-to-PCI Bridge Architecture 1.2, 3.2)


def write_policy(vm, slot):
        """allow-all, and an autobind rule for whatever comes into @slot (bus:device)."""
        os.makedirs(POLICY_DIR, exist_ok=True)
        source = os.path.join(vm.source_dir, "tests", "policy", "allow-all", "allow-all.json")
        with open(source) as f, open(os.path.join(POLICY_DIR, "00-allow-all.json"), "w") as g:
                g.write(f.read())
        with open(os.path.join(POLICY_DIR, "10-hotplug.json"), "w") as f:
                json.dump({"rules": [{"id": "hotplug-slot", "match": {"address": f"{slot}.*"},
                                      "guests": ["*"], "action": "allow",
                                      "options": {"autobind": True}}]}, f)


def secondary_bus(port):
        with open(f"/sys/bus/pci/devices/{port}/config", "rb") as f:
                return f.read(PCI_SECONDARY_BUS + 1)[PCI_SECONDARY_BUS]


def monitor_events(vm):
        with open(MONITOR_LOG) as f:
                return [json.loads(line) for line in f if line.strip()]


def run(vm):
        port = vm.address_of("rp-hotplug")
        slot = f"{port[:4]}:{secondary_bus(port):02x}:00"
        write_policy(vm, slot)
        vm.start_daemon(f"--policy-dir={POLICY_DIR}")
        monitor = subprocess.Popen(["iommuctl", "--json", "monitor"],
                                   stdout=open(MONITOR_LOG, "w"), stderr=subprocess.STDOUT)
        listing = iommud_listing(vm)
        check_listing(vm, listing)
        devices = {d["address"]: d for d in listing["devices"]}
        groups = {g["id"]: g for g in listing["groups"]}

        # A conventional PCI bridge and everything behind it form one group.
        bridge = vm.address_of("bridge")
        legacy = [vm.address_of("legacy0"), vm.address_of("legacy1")]
        group = devices[legacy[0]]["group"]
        vm.check(devices[legacy[1]]["group"] == group,
                 f"the NICs behind the bridge are in groups {group} and "
                 f"{devices[legacy[1]]['group']}")
        vm.check(set(legacy) <= set(groups[group]["devices"]) and bridge in
                 groups[group]["devices"],
                 f"group {group} holds {groups[group]['devices']}, not the bridge {bridge} and "
                 f"{legacy}")

        # A manual unbind of a NIC behind the bridge: iommud follows its uevent at once. The
        # monitor's line times the daemon; then iommuctl list must show it within a second.
        driver = driver_of(legacy[0])
        with open(f"/sys/bus/pci/drivers/{driver}/unbind", "w") as f:
                f.write(legacy[0])
        unbound = time.monotonic()
        while not [e for e in monitor_events(vm)
                   if e["event"] == "driver-changed" and e["device"] == legacy[0]]:
                vm.check(time.monotonic() - unbound < FOLLOW_TIMEOUT,
                         f"iommuctl monitor did not print the unbind of {legacy[0]}")
                time.sleep(0.005)
        vm.log(f"iommuctl monitor printed the unbind of {legacy[0]} after "
               f"{time.monotonic() - unbound:.3f} s")
        while True:
                asked = time.monotonic() - unbound
                if listed_devices(vm)[legacy[0]]["driver"] is None:
                        break
                vm.check(asked < FOLLOW_TIMEOUT, f"iommud did not follow the unbind of {legacy[0]}")
        vm.log(f"iommuctl list asked {asked:.2f} s after the unbind of {legacy[0]} shows it "
               f"(and took {time.monotonic() - unbound - asked:.2f} s)")
        vm.check(asked < 1.0, f"the unbind of {legacy[0]} showed in iommuctl list only "
                 f"{asked:.2f} s after it, not within a second")
        with open(f"/sys/bus/pci/drivers/{driver}/bind", "w") as f:
                f.write(legacy[0])
        vm.wait_for(f"iommud to see {legacy[0]} on {driver} again",
                    lambda: listed_devices(vm)[legacy[0]]["driver"] == driver, FOLLOW_TIMEOUT)

        # Hot-plug: a NIC into the empty root port, seen by the kernel, then by iommud, which
        # moves it to vfio-pci by the policy's autobind rule, with no command.
        vm.qmp("device_add", driver="e1000e", id=HOTPLUG_ID, bus="rp-hotplug",
               mac="52:54:00:00:03:01")
        address = vm.address_of(HOTPLUG_ID)
        vm.check(address.startswith(slot), f"{HOTPLUG_ID} came at {address}, not in {slot}")
        kernel = vm.wait_for(f"the kernel to enumerate {address}",
                             lambda: sysfs_devices().get(address), 60)
        vm.log(f"the kernel added {address} in group {kernel['group']}")
        mine = vm.wait_for(f"iommud to list the hot-plugged {address} (the kernel has it in "
                           f"group {kernel['group']}): iommud did not follow the hot-plug",
                           lambda: listed_devices(vm).get(address), FOLLOW_TIMEOUT)
        vm.log(f"iommuctl lists {address} in group {mine['group']}")
        vm.wait_for(f"the autobind rule to put {address} on vfio-pci (the kernel has it on "
                    f"{driver_of(address)})", lambda: driver_of(address) == "vfio-pci",
                    FOLLOW_TIMEOUT)
        vm.wait_for(f"iommud to see {address} bound to vfio-pci",
                    lambda: listed_devices(vm)[address]["driver"] == "vfio-pci", FOLLOW_TIMEOUT)
        check_listing(vm, iommud_listing(vm))
        table = vm.iommuctl("list")
        vm.check(address in table, f"the iommuctl list table does not show {address}")

        # Owned, then unplugged: the ownership is closed, the monitor printed it.
        vm.iommuctl("assign", "vm1", address)
        group = listed_devices(vm)[address]["group"]
        vm.qmp("device_del", id=HOTPLUG_ID)
        vm.wait_event("DEVICE_DELETED", timeout=60, device=HOTPLUG_ID)
        vm.check(address not in sysfs_devices(), f"QEMU deleted {HOTPLUG_ID} but the kernel "
                 f"still has {address}")
        vm.wait_for(f"iommud to drop the unplugged {address}: iommud did not follow the "
                    f"removal", lambda: address not in listed_devices(vm), FOLLOW_TIMEOUT)
        check_listing(vm, iommud_listing(vm))
        vm.check(address not in vm.iommuctl("list"),
                 f"the iommuctl list table still shows the unplugged {address}")
        lost = vm.wait_for("iommuctl monitor to print the lost ownership",
                           lambda: [e for e in monitor_events(vm)
                                    if e["event"] == "ownership-lost"], FOLLOW_TIMEOUT)
        vm.check((lost[0]["owner"], lost[0]["group"], lost[0]["devices"]) ==
                 ("vm1", group, [address]), f"the monitor printed {lost[0]}")
        with open("/run/iommud/state.json") as f:
                claims = json.load(f)["claims"]
        vm.check(all(c["group"] != group for c in claims),
                 f"the journal still holds group {group}: {claims}")
        events = {e["event"] for e in monitor_events(vm)}
        vm.check({"device-added", "driver-changed", "device-removed"} <= events,
                 f"the monitor printed only {sorted(events)}")
        monitor.send_signal(signal.SIGINT)
        vm.check(monitor.wait(timeout=10) == 0,
                 f"iommuctl monitor ended with status {monitor.returncode}")
