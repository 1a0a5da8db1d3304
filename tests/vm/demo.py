# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/demo's walk-through: runs inside the workstation guest and narrates real output.
import os
import shutil

from checks import driver_of
from libvirt_guest import VIRSH, define, set_up, start_libvirtd

TOPOLOGY = "workstation"
TIMEOUT = 420
POLICY_DIR = "/run/iommud-demo/policy.d"
DOMAIN = ("router-lab", "0f6c3b5a-2d4e-4c8f-9a1b-7e5d3c2b1a09")


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
        # The policy is a shipped example, as an administrator would install it.
        os.makedirs(POLICY_DIR, exist_ok=True)
        shutil.copy(os.path.join(vm.source_dir, "policy", "examples", "lab.json"), POLICY_DIR)
        vm.start_daemon(f"--policy-dir={POLICY_DIR}")
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


def refusal(vm, guest, address, what, error):
        """Shows iommud refusing ADDRESS to GUEST with ERROR, and checks it changed nothing."""
        before = driver_of(address)
        vm.say(f"  # iommuctl assign {guest} {address}        ({what})")
        result = vm.run(["iommuctl", "assign", guest, address], check=False, quiet=True)
        vm.say("\n".join("  " + line for line in (result.stdout + result.stderr).splitlines()))
        vm.check(result.returncode == 1 and f"({error})" in result.stderr and
                 driver_of(address) == before,
                 f"iommuctl assign {guest} {address} exited with {result.returncode} and left "
                 f"it on {driver_of(address)} (was {before}): {what} was not refused with "
                 f"{error}: {result.stderr}")


def assignment(vm):
        say = vm.say
        guest = "router-lab"
        display, nvme, lan0, lan1 = (vm.address_of(i)
                                     for i in ("display", "nvme0", "lan0", "lan1"))
        say("Who may own what is written down: the policy in force here is the shipped example")
        say("policy/examples/lab.json (iommud.policy(5)), rule by rule:")
        say("")
        vm.show(["iommuctl", "policy", "show"])
        say("")
        say(f"Asking before doing: may the guest '{guest}' have the display controller?")
        say("")
        vm.show(["iommuctl", "explain", display, "--guest", guest], check=False)
        say("")
        say("iommud moves whole groups to vfio-pci, only where the policy allows, and never takes")
        say("what the host is using: the NVMe is denied by a rule; the display (allowed to")
        say("desktop guests) drives the console, and the first NIC (allowed to routers) carries")
        say("this guest's network. All are refused, and nothing changes:")
        say("")
        refusal(vm, guest, nvme, "the policy's rule no-nvme", "PolicyDenied")
        refusal(vm, "desktop-lab", display, "the console's framebuffer", "InUse")
        refusal(vm, guest, lan0, "the guest's network", "InUse")
        say("")
        say(f"The second NIC {lan1} is idle. Assigning it to the guest '{guest}' rebinds it,")
        say("for real, from e1000e to vfio-pci, and names the rule that allowed it:")
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
        vm.wait_for(f"{lan1} to be back on e1000e", lambda: driver_of(lan1) == "e1000e", 90)
        vm.show(["iommuctl", "show", lan1])
        say("")
        with_libvirt(vm, guest, lan1)


def with_libvirt(vm, guest, lan1):
        """The same through libvirt: the hook assigns at `virsh start`, releases at the end."""
        say = vm.say
        set_up(vm)
        start_libvirtd(vm, "libvirtd")
        define(vm, *DOMAIN, lan1)
        say("")
        say("Guests start and stop with libvirt. libvirtd runs in this guest too, with")
        say("iommud-libvirt-hook installed as its qemu hook (/etc/libvirt/hooks/qemu.d/iommud).")
        say(f"The domain '{guest}' is a small nested guest holding the second NIC as a")
        say("<hostdev managed='no'>; no iommuctl first: starting it assigns the NIC through the")
        say("hook, under the same policy, and the nested QEMU opens its group's /dev/vfio node:")
        say("")
        vm.show(VIRSH + ["start", guest], timeout=180)
        vm.check(driver_of(lan1) == "vfio-pci", f"{lan1} is on {driver_of(lan1)} after "
                 f"virsh start {guest}")
        vm.show(["iommuctl", "show", lan1])
        say("")
        say("Stopping the domain sends the NIC home (the release hook, and iommud following")
        say("libvirt's events even without it; see iommud(8), FOLLOWING LIBVIRT):")
        say("")
        vm.show(VIRSH + ["destroy", guest])
        vm.wait_for(f"{lan1} to be back on e1000e", lambda: driver_of(lan1) == "e1000e", 60)
        vm.show(["iommuctl", "list"])
