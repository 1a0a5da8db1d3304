# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/demo's walk-through: runs inside the workstation guest and narrates real output.
import os

from checks import driver_of

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
        assignment(vm)


def refusal(vm, guest, address, what):
        """Shows iommud refusing to take ADDRESS from the host, and checks it changed nothing."""
        before = driver_of(address)
        vm.say(f"  # iommuctl assign {guest} {address}        ({what})")
        result = vm.run(["iommuctl", "assign", guest, address], check=False, quiet=True)
        vm.say("\n".join("  " + line for line in (result.stdout + result.stderr).splitlines()))
        vm.check(result.returncode == 1 and driver_of(address) == before,
                 f"iommuctl assign {guest} {address} exited with {result.returncode} and left "
                 f"it on {driver_of(address)} (was {before}): {what} was not protected")


def assignment(vm):
        say = vm.say
        guest = "win11"
        display, nvme, lan0, lan1 = (vm.address_of(i)
                                     for i in ("display", "nvme0", "lan0", "lan1"))
        say("Handing devices to a guest. iommud moves whole groups to vfio-pci, and never takes")
        say("what the host is using: the display drives the console, the NVMe holds a mounted")
        say("filesystem, the first NIC carries the network. All three are refused, and nothing")
        say("changes:")
        say("")
        refusal(vm, guest, display, "the console's framebuffer")
        refusal(vm, guest, nvme, "the filesystem on /mnt/data")
        refusal(vm, guest, lan0, "the guest's network")
        say("")
        say(f"The second NIC {lan1} is idle. Assigning it to the guest '{guest}' rebinds it,")
        say("for real, from e1000e to vfio-pci:")
        say("")
        vm.show(["iommuctl", "assign", guest, lan1])
        group = vm.iommuctl_json("show", lan1)["group"]["id"]
        vm.check(driver_of(lan1) == "vfio-pci", f"{lan1} is on {driver_of(lan1)} after assign")
        vm.check(os.path.exists(f"/dev/vfio/{group}"), f"/dev/vfio/{group} is missing")
        say("")
        say(f"Its group {group} now belongs to '{guest}'; QEMU would open /dev/vfio/{group}:")
        say("")
        vm.show(["iommuctl", "list"])
        vm.show(["ls", "-l", "/dev/vfio"])
        say("")
        say("Releasing sends the device home, to the driver it had before:")
        say("")
        vm.show(["iommuctl", "release", guest])
        vm.wait_for(f"{lan1} to be back on e1000e", lambda: driver_of(lan1) == "e1000e", 30)
        vm.show(["iommuctl", "show", lan1])
        say("")
        say("Coming next, as later work lands: policies that say which guest may own what,")
        say("libvirt hooks that assign and release as guests start and stop, and hot-plugged")
        say("devices bound by policy.")
