# SPDX-License-Identifier: LGPL-2.1-or-later
# libvirtd in the vm guest: its settings, the hook installed as libvirt's qemu hook, a nested
# TCG domain holding one PCI device. Shared by the vm-libvirt scenario and the demo.
import os

HOOK = "/etc/libvirt/hooks/qemu.d/iommud"
# Each run of the hook, "<guest> <operation> <sub-operation> <devices on vfio-pci>" a line: the
# hook itself is silent.
HOOK_RUNS = "/run/libvirt-test/hook-runs"
VIRSH = ["virsh", "--connect", "qemu:///system"]
FOLLOWING = "Following libvirt at qemu:///system."

# The QEMU driver looks the libvirt-qemu user up before it reads qemu.conf; the guest lacks
# cgroups, namespaces and a security driver libvirt could use, and virtlogd.
QEMU_CONF = """user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
"""
# No polkit in the guest: root's virsh and iommud's read-only connection need no auth.
LIBVIRTD_CONF = """auth_unix_ro = "none"
auth_unix_rw = "none"
"""

DOMAIN = """<domain type='qemu'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
    <hostdev mode='subsystem' type='pci' managed='{managed}'>
      <source><address domain='{domain:#06x}' bus='{bus:#04x}' slot='{slot:#04x}'
        function='{function:#x}'/></source>
      <rom bar='off'/>
    </hostdev>
  </devices>
</domain>
"""


def write(path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
                f.write(text)


def append(path, line):
        with open(path) as f:
                if any(existing.split(":")[0] == line.split(":")[0] for existing in f):
                        return
        with open(path, "a") as f:
                f.write(line + "\n")


def start_libvirtd(vm, name):
        """Starts libvirtd as NAME (its log in the results as NAME.log)."""
        vm.start_service(name, ["/usr/sbin/libvirtd"], timeout=120)
        vm.wait_for("libvirtd to answer", lambda: vm.run(VIRSH + ["version"], check=False,
                                                          quiet=True).returncode == 0, 60)


def set_up(vm, hook=True, hook_runs=False):
        """libvirt's user, settings and (with HOOK) iommud's hook in the guest's /etc (a tmpfs
        over the host's); see install_hook()."""
        append("/etc/group", "libvirt-qemu:x:64055:")
        append("/etc/passwd", "libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:"
               "/usr/sbin/nologin")
        write("/etc/libvirt/qemu.conf", QEMU_CONF)
        write("/etc/libvirt/libvirtd.conf", LIBVIRTD_CONF)
        if hook:
                install_hook(vm, hook_runs)


def install_hook(vm, hook_runs=False):
        """libvirt's qemu hook (libvirtd finds hooks when it starts): a link to iommud's, as
        meson install makes it, or with HOOK_RUNS a script that notes each run there first."""
        os.makedirs(os.path.dirname(HOOK), exist_ok=True)
        hook = os.path.join(vm.build_dir, "hook", "iommud-libvirt-hook")
        if not hook_runs:
                os.symlink(hook, HOOK)
                return
        write(HOOK, "#!/bin/sh\n"
              f'echo "$1 $2 $3" $(ls /sys/bus/pci/drivers/vfio-pci | grep :) >> {HOOK_RUNS}\n'
              f'exec {hook} "$@"\n')
        os.chmod(HOOK, 0o755)


def define(vm, name, uuid, address, managed="no"):
        """Defines domain NAME holding the PCI device at ADDRESS ("dddd:bb:ss.f") as a
        <hostdev managed='MANAGED'>; returns its XML."""
        domain, rest = address.split(":", 1)
        bus, rest = rest.split(":")
        slot, function = rest.split(".")
        xml = DOMAIN.format(name=name, uuid=uuid, managed=managed, domain=int(domain, 16),
                            bus=int(bus, 16), slot=int(slot, 16), function=int(function, 16))
        write(f"/run/libvirt-test/{name}.xml", xml)
        vm.run(VIRSH + ["define", f"/run/libvirt-test/{name}.xml"])
        return xml
