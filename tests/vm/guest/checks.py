# SPDX-License-Identifier: LGPL-2.1-or-later
# What the guest kernel says about IOMMU groups and PCI devices, and a comparison with iommuctl.
import os

SYS_GROUPS = "/sys/kernel/iommu_groups"
SYS_PCI = "/sys/bus/pci/devices"


def _read(path):
        with open(path) as f:
                return f.read().strip()


def _link_name(path):
        return os.path.basename(os.readlink(path)) if os.path.islink(path) else None


def _number(path):
        return int(_read(path), 16)


def driver_of(address):
        """The driver bound to the PCI device ADDRESS, or None."""
        return _link_name(os.path.join(SYS_PCI, address, "driver"))


def override_of(address):
        """The driver_override of the PCI device ADDRESS, or None when it has none."""
        value = _read(os.path.join(SYS_PCI, address, "driver_override"))
        return None if value == "(null)" else value


def daemon_listing(vm):
        """`iommuctl --json list` as iommud answers it, or None when iommuctl read the host
        itself (it does when iommud is slow to answer, as while it reads a backlog)."""
        listing = vm.iommuctl_json("list", quiet=True)
        return listing if listing["source"] == "daemon" else None


def iommud_listing(vm, timeout=120):
        """`iommuctl --json list` as iommud answers it, asked again until it does: a listing
        iommuctl read from sysfs itself would pass any check of iommud following the kernel."""
        return vm.wait_for("iommud itself to answer iommuctl list", lambda: daemon_listing(vm),
                           timeout)


def listed_devices(vm):
        """{address: device} from `iommuctl --json list`, as iommud answers it."""
        return {d["address"]: d for d in iommud_listing(vm)["devices"]}


def sysfs_groups():
        """{group id: {"type", "devices", "reserved_regions"}} from /sys/kernel/iommu_groups."""
        groups = {}
        for name in os.listdir(SYS_GROUPS):
                base = os.path.join(SYS_GROUPS, name)
                regions = []
                for line in _read(os.path.join(base, "reserved_regions")).splitlines():
                        start, end, kind = line.split()
                        regions.append({"start": int(start, 16), "end": int(end, 16),
                                        "type": kind})
                groups[int(name)] = {"type": _read(os.path.join(base, "type")),
                                     "devices": sorted(os.listdir(os.path.join(base, "devices"))),
                                     "reserved_regions": regions}
        return groups


def sysfs_devices():
        """{address: {"group", "driver", "vendor_id", "device_id", "class"}} from sysfs."""
        devices = {}
        for addr in os.listdir(SYS_PCI):
                base = os.path.join(SYS_PCI, addr)
                group = _link_name(os.path.join(base, "iommu_group"))
                devices[addr] = {"group": int(group) if group is not None else None,
                                 "driver": _link_name(os.path.join(base, "driver")),
                                 "vendor_id": _number(os.path.join(base, "vendor")),
                                 "device_id": _number(os.path.join(base, "device")),
                                 "class": _number(os.path.join(base, "class"))}
        return devices


def compare_with_sysfs(listing):
        """Every difference between `iommuctl --json list` and the kernel, as sentences."""
        problems = []
        groups, devices = sysfs_groups(), sysfs_devices()
        listed_groups = {g["id"]: g for g in listing.get("groups", [])}
        listed_devices = {d["address"]: d for d in listing.get("devices", [])}

        def differ(what, mine, kernel):
                problems.append(f"{what}: iommuctl says {mine!r}, the kernel {kernel!r}")

        if set(listed_groups) != set(groups):
                differ("the IOMMU groups", sorted(listed_groups), sorted(groups))
        for gid in sorted(set(listed_groups) & set(groups)):
                mine, kernel = listed_groups[gid], groups[gid]
                for key in ("type", "reserved_regions"):
                        if mine.get(key) != kernel[key]:
                                differ(f"group {gid} {key}", mine.get(key), kernel[key])
                if sorted(mine.get("devices", [])) != kernel["devices"]:
                        differ(f"group {gid} members", sorted(mine.get("devices", [])),
                               kernel["devices"])
                # Viable when no member's driver claims DMA ownership (Linux 5.19+): no driver,
                # or vfio-pci, pci-stub, pcieport (driver_managed_dma).
                blockers = sorted(a for a in kernel["devices"] if devices[a]["driver"] not in
                                  (None, "vfio-pci", "pci-stub", "pcieport"))
                listed_blockers = sorted(b["address"] for b in mine.get("blockers", []))
                if listed_blockers != blockers:
                        differ(f"group {gid} blockers", listed_blockers, blockers)
                if mine.get("viable") != (not blockers):
                        differ(f"group {gid} viable", mine.get("viable"), not blockers)

        if set(listed_devices) != set(devices):
                differ("the PCI devices", sorted(listed_devices), sorted(devices))
        for addr in sorted(set(listed_devices) & set(devices)):
                for key, value in devices[addr].items():
                        if listed_devices[addr].get(key) != value:
                                differ(f"{addr} {key}", listed_devices[addr].get(key), value)
        return problems


def check_listing(vm, listing, source="daemon"):
        """Fails with every difference between LISTING and the kernel's view."""
        vm.check(listing.get("source") == source,
                 f"iommuctl answered from '{listing.get('source')}', not from the {source}")
        iommu = listing.get("iommu", {})
        units = sorted(os.listdir("/sys/class/iommu"))
        vm.check(iommu.get("present") is True, f"iommuctl says no IOMMU: {iommu}")
        vm.check(sorted(u["name"] for u in iommu.get("units", [])) == units,
                 f"iommuctl's IOMMU units {iommu.get('units')} are not the kernel's {units}")
        with open("/proc/interrupts") as f:
                remapped = "IR-" in f.read()
        vm.check(iommu.get("interrupt_remapping") is remapped,
                 f"iommuctl says interrupt_remapping {iommu.get('interrupt_remapping')}, "
                 f"/proc/interrupts {'has' if remapped else 'has no'} IR- vectors")
        problems = compare_with_sysfs(listing)
        vm.check(not problems, "iommuctl --json list disagrees with /sys:\n  "
                 + "\n  ".join(problems))
        vm.log(f"iommuctl agrees with /sys: {len(listing['groups'])} groups, "
               f"{len(listing['devices'])} devices, every member and driver")
