# SPDX-License-Identifier: LGPL-2.1-or-later
# Server: a bridge group, root ports, and a NIC hot-plugged into the empty port and removed again,
# followed by iommud.
from checks import check_listing, listed_devices, sysfs_devices

TOPOLOGY = "server"
TIMEOUT = 420
HOTPLUG_ID = "hotnic"
FOLLOW_TIMEOUT = 30


def run(vm):
        vm.start_daemon()
        listing = vm.iommuctl_json("list")
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

        # Hot-plug: a NIC into the empty root port, seen by the kernel, then by iommud.
        vm.qmp("device_add", driver="e1000e", id=HOTPLUG_ID, bus="rp-hotplug",
               mac="52:54:00:00:03:01")
        address = vm.address_of(HOTPLUG_ID)
        kernel = vm.wait_for(f"the kernel to enumerate {address}",
                             lambda: sysfs_devices().get(address), 60)
        vm.log(f"the kernel added {address} in group {kernel['group']}, "
               f"driver {kernel['driver']}")
        mine = vm.wait_for(f"iommud to list the hot-plugged {address} (the kernel has it in "
                           f"group {kernel['group']}): iommud did not follow the hot-plug",
                           lambda: listed_devices(vm).get(address), FOLLOW_TIMEOUT)
        vm.log(f"iommuctl lists {address} in group {mine['group']}")
        vm.wait_for(f"iommud to see {address} bound to {kernel['driver']}",
                    lambda: listed_devices(vm)[address]["driver"] == sysfs_devices()[address]["driver"],
                    FOLLOW_TIMEOUT)
        check_listing(vm, vm.iommuctl_json("list"))
        table = vm.iommuctl("list")
        vm.check(address in table, f"the iommuctl list table does not show {address}")

        # Unplug: pciehp's attention-button delay makes this take seconds; wait for QEMU's event.
        vm.qmp("device_del", id=HOTPLUG_ID)
        vm.wait_event("DEVICE_DELETED", timeout=60, device=HOTPLUG_ID)
        vm.check(address not in sysfs_devices(), f"QEMU deleted {HOTPLUG_ID} but the kernel "
                 f"still has {address}")
        vm.wait_for(f"iommud to drop the unplugged {address}: iommud did not follow the "
                    f"removal", lambda: address not in listed_devices(vm), FOLLOW_TIMEOUT)
        check_listing(vm, vm.iommuctl_json("list"))
        vm.check(address not in vm.iommuctl("list"),
                 f"the iommuctl list table still shows the unplugged {address}")
