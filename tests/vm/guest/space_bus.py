# SPDX-License-Identifier: LGPL-2.1-or-later
# A VFIO-backed space through iommud's D-Bus API on a real kernel: CreateSpace with a group
# assigned to the guest and a memfd, maps that pin real pages (the daemon's locked memory
# grows by exactly what is mapped), the kernel's limit and reserved regions as the space's,
# a bisecting unmap refused as the kernel would, and a release refused while the space lives.
import os
import sys

MiB = 1 << 20
PAGE = 4096
MEMORY = 16 * MiB
IOVA = 0x10000000
LIMIT = "/sys/module/vfio_iommu_type1/parameters/dma_entry_limit"


def locked_kib(pid):
        """VmLck of a process: VFIO type1 accounts the pages it pins there."""
        with open(f"/proc/{pid}/status") as f:
                for line in f:
                        if line.startswith("VmLck:"):
                                return int(line.split()[1])
        raise AssertionError(f"/proc/{pid}/status has no VmLck")


def reserved_regions(group):
        with open(f"/sys/kernel/iommu_groups/{group}/reserved_regions") as f:
                return [(int(a, 16), int(b, 16)) for a, b, _ in (line.split() for line in f)]


def expect_error(vm, call, name, words):
        from gi.repository import GLib
        try:
                call()
        except GLib.Error as e:
                text = str(e)
                vm.check(name in text and all(w in text for w in words),
                         f"expected {name} naming {words}, got: {text}")
                vm.log(f"refused as expected: {text}")
                return
        raise AssertionError(f"expected {name}, the call succeeded")


def check_backed_space(vm, group, guest, pid):
        sys.path.insert(0, os.path.join(vm.source_dir, "tests", "integration"))
        from bus_client import SPACE, Client

        client = Client("unix:path=/run/dbus/system_bus_socket")
        memory = os.memfd_create("guest-ram")
        os.ftruncate(memory, MEMORY)
        with open(LIMIT) as f:
                kernel_limit = int(f.read())

        path = client.create(guest, memory_fd=memory, group=group)
        os.close(memory)
        vm.log(f"CreateSpace({guest}, group {group}) -> {path}")
        vm.check(client.prop(path, "MaxMappings") == kernel_limit,
                 f"MaxMappings is {client.prop(path, 'MaxMappings')}, the kernel's "
                 f"dma_entry_limit {kernel_limit}")
        ranges = client.prop(path, "ReservedRanges")
        for first, last in reserved_regions(group):
                vm.check(any(a <= first and last <= b for a, b in ranges),
                         f"the group's reserved region {first:#x}-{last:#x} is not among the "
                         f"space's reserved ranges {ranges}")

        # Four 1 MiB buffers: the kernel pins them, the daemon's locked memory says so.
        before = locked_kib(pid)
        batch = [(IOVA + i * 2 * MiB, MiB, i * MiB, 3) for i in range(4)]
        client.call(path, SPACE, "MapBatch", "(a(tttu))", (batch,))
        pinned = locked_kib(pid) - before
        vm.log(f"MapBatch of 4 MiB: iommud's VmLck grew by {pinned} KiB")
        vm.check(pinned == 4 * 1024, f"the kernel pinned {pinned} KiB for 4 MiB mapped")
        target, prot, contiguous = client.call(path, SPACE, "Translate", "(tu)",
                                               (IOVA + 2 * MiB + 0x10, 2), "(tut)")
        vm.check((target, prot) == (MiB + 0x10, 3), f"Translate gave {target:#x} {prot}")

        # Refused by the core before the kernel is asked, or by the kernel's own rule.
        expect_error(vm, lambda: client.call(path, SPACE, "Unmap", "(tt)",
                                             (IOVA, PAGE), "(t)"),
                     "InvalidArgument", ["would split a mapping"])
        expect_error(vm, lambda: client.call(path, SPACE, "Map", "(tttu)",
                                             (IOVA + 64 * MiB, PAGE, MEMORY, 3)),
                     "InvalidArgument", ["leaves the space's memory"])
        expect_error(vm, lambda: client.call(path, SPACE, "Map", "(tttu)",
                                             (0xfee00000, PAGE, 0, 3)),
                     "Reserved", ["0xfee00000"])
        vm.check(locked_kib(pid) - before == 4 * 1024, "a refused call changed what is pinned")

        # The group backs a space: releasing it would wait on iommud itself.
        result = vm.run(["iommuctl", "release", guest], check=False, quiet=True)
        vm.check(result.returncode == 1 and "InUse" in result.stderr and path in result.stderr,
                 f"release while the space lives: {result.returncode} {result.stderr}")

        unmapped = client.call(path, SPACE, "Unmap", "(tt)", (IOVA, 8 * MiB), "(t)")[0]
        vm.check(unmapped == 4 * MiB, f"Unmap removed {unmapped:#x} bytes")
        vm.check(locked_kib(pid) == before, "the kernel still pins pages after Unmap")
        client.call(path, SPACE, "MapBatch", "(a(tttu))", (batch[:1],))
        # The creator leaves: the space goes, and the kernel's mappings with its container.
        client.close()
        vm.wait_for("the space to go with its creator",
                    lambda: not os.path.exists(f"/proc/{pid}") or locked_kib(pid) == before)
        vm.log("the creator left: space destroyed, nothing pinned")
