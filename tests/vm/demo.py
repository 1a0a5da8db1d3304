# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/demo's walk-through: runs inside the workstation guest and narrates real output.
import os

TOPOLOGY = "workstation"
TIMEOUT = 420


def dmar_lines(vm):
        log = vm.sh(["dmesg"], quiet=True)
        return [line.split("] ", 1)[-1] for line in log.splitlines()
                if "DMAR" in line and ("IOMMU enabled" in line or "remapping" in line)]


def run(vm):
        say = vm.say
        say("== iommud demo: a real kernel with a real IOMMU ==")
        say("")
        say(f"This guest runs Debian's kernel {os.uname().release} under QEMU, on a q35 machine")
        say("with an emulated Intel VT-d IOMMU (intel-iommu, interrupt remapping on), booted with")
        say("intel_iommu=on. The kernel says:")
        for line in dmar_lines(vm):
                say("  " + line)
        say("")
        say("The machine is a workstation: a display controller and its HD-audio function in one")
        say("slot, an NVMe disk holding a mounted filesystem, and two network cards, the first")
        say("carrying this guest's network. The host's freshly built iommud and iommuctl run here")
        say("unchanged, over a system bus of the guest's own.")
        say("")
        vm.start_daemon()
        say("iommud is running and owns org.iommud1 on the system bus. Every device, under the")
        say("IOMMU group the kernel put it in, and whether that group could be handed to a guest:")
        say("")
        vm.show(["iommuctl", "list"])
        say("")

        display = vm.address_of("display")
        shown = vm.iommuctl_json("show", display)
        group = shown["group"]["id"]
        say(f"A guest can only own whole IOMMU groups. The display controller {display}")
        say(f"shares group {group} with {', '.join(shown['peers'])}, its audio function: to give")
        say("the display to a VM, both must leave their host drivers. What iommud knows of that")
        say("group:")
        say("")
        vm.show(["iommuctl", "show", str(group)])
        say("")
        nvme = vm.address_of("nvme0")
        say(f"The NVMe controller {nvme} holds the filesystem mounted on /mnt/data:")
        vm.show(["findmnt", "/mnt/data"])
        say("")
        say("Every answer above is also JSON, the stable format (iommuctl --json list).")
        say("")
        say("Coming next, as later work lands (not shown, because it does not exist yet):")
        say("  - iommuctl assign GUEST DEVICE: move a whole group to vfio-pci for a guest,")
        say("    refusing a disk that holds a mounted filesystem, with rollback;")
        say("  - iommuctl list again, showing the group owned; iommuctl release GUEST: the")
        say("    devices go back to their host drivers.")
