# SPDX-License-Identifier: LGPL-2.1-or-later
# The mapping core's VFIO back end on a real kernel: an idle NIC's group assigned to a guest,
# then the back end in-process (tests/vm/vfio-space.c: both layers agree, whichever refuses)
# and through iommud's D-Bus API (tests/vm/guest/space_bus.py: a memfd mapped, pinned pages
# counted, the kernel's limit and reserved regions as the space's), then released.
import os

from space_bus import check_backed_space

TOPOLOGY = "workstation"
TIMEOUT = 300
GUEST = "dma-guest"


def run(vm):
        lan1 = vm.address_of("lan1")
        vm.start_daemon()
        group = vm.iommuctl_json("show", lan1)["group"]["id"]
        vm.iommuctl("assign", GUEST, lan1)
        vm.check(os.path.exists(f"/dev/vfio/{group}"), f"/dev/vfio/{group} is missing")

        report = vm.run([os.path.join(vm.build_dir, "tests", "vm", "vfio-space"), str(group)],
                        check=False)
        vm.log(report.stdout)
        vm.check(report.returncode == 0, f"vfio-space {group} failed:\n{report.stdout}"
                 f"{report.stderr}")

        check_backed_space(vm, group, GUEST, vm.processes["iommud"][0].pid)

        vm.iommuctl("release", GUEST)
        link = f"/sys/bus/pci/devices/{lan1}/driver"
        vm.check(os.path.basename(os.readlink(link)) == "e1000e",
                 f"{lan1} is not back on e1000e after release")
