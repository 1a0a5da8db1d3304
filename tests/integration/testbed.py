#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A umockdev testbed that plays a host of tests/hosts/ to the processes started in it.

umockdev builds the devices from the recording; this module adds what umockdev leaves out
(tests/hosts/README.md, "What the testbed adds") and the directory that stands for /proc.
Run as a program it builds a host's testbed and prints the tree: a check for a new host."""

import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import gi

gi.require_version('UMockdev', '1.0')
from gi.repository import UMockdev  # noqa: E402 (after require_version)

from host import UNIT_REGISTERS, Host, HostError  # noqa: E402

PRELOAD = 'libumockdev-preload.so.0'
# umockdev hands uevents over a UNIX datagram socket, whose queue holds
# net.unix.max_dgram_qlen datagrams (10 by default); its sender aborts when the queue is full,
# where the kernel's netlink socket holds megabytes.
DGRAM_QLEN, DGRAM_QLEN_FILE = 1024, '/proc/sys/net/unix/max_dgram_qlen'
UEVENT_BURST, UEVENT_PAUSE = 32, 0.01

# Testbeds are thousands of small files: on a disk shared with busy neighbours, building
# big-sriov's took 13 s per 300 devices, 0.6 s in memory. Before GLib caches g_get_tmp_dir().
if 'TMPDIR' not in os.environ and os.access('/dev/shm', os.W_OK | os.X_OK):
    os.environ['TMPDIR'] = '/dev/shm'


def preload_self():
    """Re-executes this process under umockdev's preload, as umockdev-wrapper would: the
    testbed's uevent sender looks devices up through libudev in this process."""
    if PRELOAD in os.environ.get('LD_PRELOAD', '').split(':'):
        return
    preload = os.environ.get('LD_PRELOAD')
    os.environ['LD_PRELOAD'] = f'{PRELOAD}:{preload}' if preload else PRELOAD
    os.execv(sys.executable, [sys.executable, *sys.argv])


def relative_symlink(target, link):
    """Create @link pointing at @target (both absolute paths), relatively, as sysfs does."""
    os.makedirs(os.path.dirname(link), exist_ok=True)
    os.symlink(os.path.relpath(target, os.path.dirname(link)), link)


def write_file(path, contents):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if contents and not contents.endswith('\n'):
        contents += '\n'
    with open(path, 'w', encoding='utf-8') as f:
        f.write(contents)


def pci_record(address, vendor, device, pci_class, parent='/devices/pci0000:00', attributes=()):
    """A umockdev record of a plain PCI function with a 64-byte config space, below @parent,
    with more sysfs @attributes as (name, value) pairs: a device to hot-plug."""
    config = bytearray(64)
    struct.pack_into('<HHHHI', config, 0, vendor, device, 0x0406, 0x0010,
                     pci_class << 8 | 0x10)
    return (f'P: {parent}/{address}\n'
            'E: SUBSYSTEM=pci\n'
            f'E: PCI_SLOT_NAME={address}\n'
            f'A: vendor=0x{vendor:04x}\\n\n'
            f'A: device=0x{device:04x}\\n\n'
            f'A: class=0x{pci_class:06x}\\n\n'
            'A: driver_override=(null)\\n\n'
            + ''.join(f'A: {name}={value}\\n\n' for name, value in attributes) +
            f'H: config={config.hex().upper()}\n')


def free_address(host, bus=0):
    """An address on @bus that @host does not have."""
    return next(a for a in (f'0000:{bus:02x}:{slot:02x}.0' for slot in range(0x1f, 0, -1))
                if a not in host.by_address)


class UeventQueue:
    """Bursts of uevents that umockdev's sender survives: as root the UNIX datagram queue is
    raised while the `with` block runs (a socket takes the length when it is made: start the
    receivers inside the block); otherwise sent() paces a burst, UEVENT_PAUSE every
    UEVENT_BURST uevents, to let the receivers read."""

    def __init__(self):
        self.old = None
        self.count = 0

    def __enter__(self):
        try:
            with open(DGRAM_QLEN_FILE, encoding='ascii') as f:
                old = int(f.read())
            with open(DGRAM_QLEN_FILE, 'w', encoding='ascii') as f:
                f.write(str(max(old, DGRAM_QLEN)))
            self.old = old
        except OSError as e:
            print(f'# cannot raise {DGRAM_QLEN_FILE} ({e.strerror}): uevent bursts are paced, '
                  f'{UEVENT_PAUSE * 1000:.0f} ms every {UEVENT_BURST} uevents')
        return self

    @property
    def raised(self):
        return self.old is not None

    def sent(self):
        """Counts a uevent sent; pauses after each burst when the queue could not be raised."""
        self.count += 1
        if not self.raised and self.count % UEVENT_BURST == 0:
            time.sleep(UEVENT_PAUSE)

    def __exit__(self, *exc):
        if self.raised:
            with open(DGRAM_QLEN_FILE, 'w', encoding='ascii') as f:
                f.write(str(self.old))


class Testbed:
    """A host's fake /sys (umockdev) and /proc; close() removes both."""

    def __init__(self, host):
        self.host = host
        # The constructor exports UMOCKDEV_DIR into this process, where the preload (when
        # preload_self() put it there) shows the testbed to umockdev's own uevent sender. It
        # does so right after starting its worker thread: adding a variable reallocates the
        # environment under that thread's getenv() (setenv(3) is MT-Unsafe const:env; GLib's
        # g_setenv() says so at debug level here), a use-after-free that meson's
        # MALLOC_PERTURB_ can turn into a SIGSEGV. Already there, the variable is only replaced
        # (glibc swaps one pointer). Not in a process under the preload (preload_self()): the
        # preload takes a set variable, even empty, for a testbed, and tracks descriptors
        # against it (one such run aborted in the preload's fd_map_remove()).
        if PRELOAD not in os.environ.get('LD_PRELOAD', '').split(':'):
            os.environ['UMOCKDEV_DIR'] = ''
        self.umockdev = UMockdev.Testbed.new()
        self.root = self.umockdev.get_root_dir()
        self.sys = self.umockdev.get_sys_dir()
        self.proc = tempfile.mkdtemp(prefix=f'iommud-proc-{host.name}.')
        try:
            self._add_devices()
            self._add_groups()
            self._add_drivers()
            self._add_host_facts()
        except BaseException:
            self.close()
            raise

    def _add_devices(self):
        # One block at a time: umockdev's parser takes quadratic time over one long string
        # (42 s for the 2078 blocks of big-sriov, 0.6 s block by block on tmpfs).
        with open(self.host.umockdev_path, encoding='utf-8') as f:
            for block in f.read().split('\n\n'):
                if block.strip():
                    self.umockdev.add_from_string(block + '\n')

    def _add_groups(self):
        for group_id, group in self.host.groups.items():
            self.add_group(group_id, group['type'], group['reserved_regions'])
            for device in self.host.members(group_id):
                self.join_group(device.devpath, group_id)

    def _add_drivers(self):
        for device in self.host.devices:
            if device.driver is not None:
                self.bind(device.devpath, device.driver)

    # The pieces of the tree, also for changing the host while processes watch it.

    def group_dir(self, group_id):
        return f'{self.sys}/kernel/iommu_groups/{group_id}'

    def add_group(self, group_id, group_type, reserved_regions):
        gdir = self.group_dir(group_id)
        write_file(f'{gdir}/type', group_type)
        write_file(f'{gdir}/reserved_regions', reserved_regions)
        os.makedirs(f'{gdir}/devices', exist_ok=True)

    def join_group(self, devpath, group_id):
        """Makes the device at @devpath (below /sys) a member: both links, as the kernel."""
        gdir = self.group_dir(group_id)
        relative_symlink(self.sys + devpath, f'{gdir}/devices/{os.path.basename(devpath)}')
        if not os.path.islink(f'{self.sys}{devpath}/iommu_group'):
            relative_symlink(gdir, f'{self.sys}{devpath}/iommu_group')

    def bind(self, devpath, driver):
        ddir = f'{self.sys}/bus/pci/drivers/{driver}'
        os.makedirs(ddir, exist_ok=True)
        relative_symlink(self.sys + devpath, f'{ddir}/{os.path.basename(devpath)}')
        if not os.path.islink(f'{self.sys}{devpath}/driver'):
            relative_symlink(ddir, f'{self.sys}{devpath}/driver')

    def unbind(self, devpath):
        link = f'{self.sys}{devpath}/driver'
        ddir = os.path.realpath(link)
        os.unlink(f'{ddir}/{os.path.basename(devpath)}')
        os.unlink(link)

    def add_device(self, record):
        """Adds one device from a umockdev record; returns its device path below /sys."""
        self.umockdev.add_from_string(record)
        return record.split('\n', 1)[0].removeprefix('P: ')

    def announce(self, record, group_id=None):
        """Adds one device from a umockdev record as the kernel announces a new device: its
        binary attributes (H:), its links (L:) and its membership of the existing group
        @group_id are in place before its "add" uevent, where add_device() has umockdev write
        them after it. Returns its device path below /sys."""
        lines = record.splitlines()
        devpath = lines[0].removeprefix('P: ')
        ddir = self.sys + devpath
        os.makedirs(ddir)
        for line in lines[1:]:
            name, _, value = line[3:].partition('=')
            if line.startswith('H: '):
                with open(f'{ddir}/{name}', 'wb') as f:
                    f.write(bytes.fromhex(value))
            elif line.startswith('L: '):
                os.symlink(value, f'{ddir}/{name}')
        if group_id is not None:
            self.join_group(devpath, group_id)
        self.umockdev.add_from_string(
            '\n'.join(line for line in lines if line[:3] not in ('H: ', 'L: ')) + '\n')
        return devpath

    def remove_device(self, devpath, announce=True):
        """Unplugs a device: it leaves enumeration, its group (an emptied group goes) and its
        driver, then gets its 'remove' uevent (which umockdev can only send while the
        directory exists; none when not @announce, as when the kernel's uevent was lost), then
        its directory goes."""
        address = os.path.basename(devpath)
        group = os.path.realpath(f'{self.sys}{devpath}/iommu_group')
        os.unlink(f'{self.sys}/bus/pci/devices/{address}')
        if os.path.islink(f'{self.sys}{devpath}/driver'):
            self.unbind(devpath)
        if os.path.isdir(group):
            os.unlink(f'{group}/devices/{address}')
            if not os.listdir(f'{group}/devices'):
                shutil.rmtree(group)
        if announce:
            self.uevent(devpath, 'remove')
        shutil.rmtree(self.sys + devpath)

    def uevent(self, devpath, action):
        """Sends a uevent that the processes started with env() receive."""
        self.umockdev.uevent('/sys' + devpath, action)

    def _add_host_facts(self):
        for unit in self.host.units:
            udir = f'{self.sys}/devices/virtual/iommu/{unit["name"]}'
            # The lib tells Intel from AMD by the attribute group directory inside.
            os.makedirs(udir if unit['type'] == 'other' else f'{udir}/{unit["type"]}-iommu')
            register = UNIT_REGISTERS.get(unit['type'])
            if register in unit:
                write_file(f'{udir}/{unit["type"]}-iommu/{register}', unit[register])
            relative_symlink(udir, f'{self.sys}/class/iommu/{unit["name"]}')
        for module, parameters in self.host.modules.items():
            for name, value in parameters.items():
                write_file(f'{self.sys}/module/{module}/parameters/{name}', value)
        # vfio-pci is loaded, as on any host that assigns devices: a dry run asks the driver
        # to be there, and must not ask this machine's modprobe.
        os.makedirs(f'{self.sys}/bus/pci/drivers/vfio-pci', exist_ok=True)
        write_file(f'{self.proc}/cmdline', self.host.cmdline)
        write_file(f'{self.proc}/interrupts', self.host.interrupts)

    def env(self, base=None):
        """The environment of a process that must see this host instead of the machine."""
        env = dict(os.environ if base is None else base)
        preload = env.get('LD_PRELOAD')
        env['LD_PRELOAD'] = f'{PRELOAD}:{preload}' if preload else PRELOAD
        env['UMOCKDEV_DIR'] = self.root
        env['IOMMUD_PROC_ROOT'] = self.proc
        return env

    def close(self):
        shutil.rmtree(self.proc, ignore_errors=True)
        # Dropping the last reference runs umockdev's destructor, which removes the root.
        self.umockdev = None
        shutil.rmtree(self.root, ignore_errors=True)


def main(argv):
    if len(argv) != 2:
        print(f'usage: {argv[0]} tests/hosts/NAME', file=sys.stderr)
        return 2
    stem = argv[1].removesuffix('.umockdev').removesuffix('.host.json')
    try:
        host = Host(stem)
    except (HostError, OSError) as e:
        print(f'{argv[0]}: {e}', file=sys.stderr)
        return 1
    testbed = Testbed(host)
    try:
        tops = [d for d in ('kernel', 'bus/pci/drivers', 'class/iommu', 'module')
                if os.path.isdir(f'{testbed.sys}/{d}')]
        subprocess.run(['find', *tops, '-printf', '%p %y %l\n'], cwd=testbed.sys, check=False)
        print(f'{host.name}: {len(host.devices)} PCI devices, {len(host.groups)} IOMMU groups')
        for group_id in sorted(host.groups):
            g = host.expected_group(group_id)
            print(f'  group {group_id}: {" ".join(g["devices"])}, '
                  f'{"viable" if g["viable"] else "not viable"}')
    finally:
        testbed.close()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
