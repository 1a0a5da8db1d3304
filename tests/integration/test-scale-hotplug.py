#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hot-plug on the 2048-VF host: the real iommud on big-sriov (PF 7's VFs off at start) under
umockdev, `iommuctl monitor --json` beside it and a bus peer recording every signal. PF 7's 256
VFs appear (sriov_numvfs 0 -> 256) with a NIC in a group of its own; the NIC's driver binds; a
VF goes to vfio-pci and back; 64 of the VFs and the NIC go. Each device and group that came got
one InterfacesAdded with its properties, each that went one InterfacesRemoved, each driver and
VF count change one PropertiesChanged, and nothing else was signalled; the monitor printed one
line per change; iommuctl --json list agrees at the end, and the daemon never rescanned the
host. Usage: test-scale-hotplug.py (the host is generated from tests/hosts/big-sriov.host.py)."""

import collections
import json
import shutil
import sys
import tempfile
import time
import unittest

import big_sriov
import tap
from bus_client import Signals
from harness import Harness, object_path, wait_for
from json_schema import DOCUMENTS, check
from monitor import Monitor
from testbed import Testbed, UeventQueue, free_address, pci_record, preload_self

PF = 7          # the PF whose VFs appear (no driver: sriov_drivers_autoprobe off)
REMOVED = 64    # the last VFs of it to go again
NIC_DRIVER = 'e1000e'
DEVICE, GROUP = 'org.iommud1.Device', 'org.iommud1.Group'
# What a new object may differ in from an object of the same kind the start found.
OWN_DEVICE_PROPERTIES = {'Address', 'IommuGroup', 'Group', 'PhysicalFunction'}
OWN_GROUP_PROPERTIES = {'Id', 'Devices'}


def group_path(group_id):
    return f'/org/iommud1/group/{group_id}'


def plain(value):
    """A D-Bus value as busctl's JSON has it (GLib unpacks structures into tuples)."""
    return json.loads(json.dumps(value))


class ScaleHotplugTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        began = time.monotonic()
        cls.dir = tempfile.mkdtemp(prefix='iommud-scale-hotplug.')
        cls.addClassCleanup(shutil.rmtree, cls.dir, ignore_errors=True)
        cls.host = big_sriov.write_without_vfs(cls.dir, PF)
        cls.testbed = Testbed(cls.host)
        cls.addClassCleanup(cls.testbed.close)
        # Before the daemon makes its uevent socket, which takes the queue's length then.
        cls.queue = UeventQueue().__enter__()
        cls.addClassCleanup(cls.queue.__exit__)
        cls.harness = Harness(cls.testbed)
        cls.addClassCleanup(cls.harness.close)
        tap.comment(f'{len(cls.host.devices)} functions: testbed and daemon up in '
                    f'{time.monotonic() - began:.1f} s')

    def diagnostics(self):
        return self.harness.diagnostics()

    def wait_signals(self, signals, member, paths):
        """Waits until @member was seen about each of @paths."""
        def done():
            signals.client.pump()
            return paths <= {args[0] for _, _, m, args in signals.seen if m == member}
        wait_for(done, f'{member} of {len(paths)} objects')

    def wait_changed(self, signals, path, prop, value):
        signals.wait('PropertiesChanged', path, lambda args: args[1].get(prop, None) == value)

    def test_plug_and_unplug(self):
        began = time.monotonic()
        harness, testbed, host = self.harness, self.testbed, self.host
        start = harness.managed_objects()
        log_start = len(harness.daemon.errors())
        monitor = Monitor(self, '--json')
        self.addCleanup(monitor.stop)
        signals = Signals(harness.bus.address)
        self.addCleanup(signals.close)

        pf = host.by_address[big_sriov.pf_address(PF)]
        pf_devpath = pf.devpath
        vfs = big_sriov.vfs(PF, max(host.groups) + 1)
        removed = vfs[-REMOVED:]
        vf = vfs[0]     # the one rebound
        nic_address, nic_group = free_address(host), vfs[-1].group + 1
        # A VF of another unbound PF, found by the start's full scan: what a new VF must be.
        twin_path = object_path(big_sriov.generator.vf_address(PF - 1, 0))
        twin_group = start[twin_path][DEVICE]['IommuGroup']

        queue = self.queue
        # The kernel creates the VFs (sriov_numvfs reads the new count from then on), then
        # announces the PF's change.
        with open(f'{testbed.sys}{pf_devpath}/sriov_numvfs', 'w', encoding='utf-8') as f:
            f.write(f'{len(vfs)}\n')
        for f in vfs:
            testbed.add_group(f.group, 'DMA', big_sriov.generator.MSI_REGION)
            testbed.announce(f.record(), f.group)
            queue.sent()
        testbed.uevent(pf_devpath, 'change')
        testbed.add_group(nic_group, 'DMA', '')
        nic_devpath = testbed.announce(pci_record(nic_address, 0x8086, 0x15bc, 0x020000),
                                       nic_group)
        added = {object_path(f.address) for f in vfs} | {group_path(f.group) for f in vfs}
        added |= {object_path(nic_address), group_path(nic_group)}
        self.wait_signals(signals, 'InterfacesAdded', added)
        self.wait_changed(signals, object_path(pf.address), 'SriovNumVfs', len(vfs))
        plugged = time.monotonic()

        # Its driver binds to the NIC once it is there, as the kernel's probe does.
        testbed.bind(nic_devpath, NIC_DRIVER)
        testbed.uevent(nic_devpath, 'bind')
        self.wait_changed(signals, object_path(nic_address), 'Driver', NIC_DRIVER)
        self.wait_changed(signals, group_path(nic_group), 'Viable', False)

        # One VF to vfio-pci and back.
        testbed.bind(vf.devpath, 'vfio-pci')
        testbed.uevent(vf.devpath, 'bind')
        self.wait_changed(signals, object_path(vf.address), 'Driver', 'vfio-pci')
        testbed.unbind(vf.devpath)
        testbed.uevent(vf.devpath, 'unbind')
        self.wait_changed(signals, object_path(vf.address), 'Driver', '')

        # The last VFs go (each one's "remove" attribute), and the NIC.
        for f in removed:
            testbed.remove_device(f.devpath)
            queue.sent()
        testbed.remove_device(nic_devpath)
        gone = {object_path(f.address) for f in removed} | \
            {group_path(f.group) for f in removed}
        gone |= {object_path(nic_address), group_path(nic_group)}
        self.wait_signals(signals, 'InterfacesRemoved', gone)
        changed = time.monotonic()

        kept = [f for f in vfs if f not in removed]
        listing = harness.iommuctl_json('list')
        end = harness.managed_objects()
        signals.sync()
        tap.comment(f'{len(vfs)} VFs and a NIC plugged in {plugged - began:.1f} s, all changes '
                    f'{changed - began:.1f} s, checked in {time.monotonic() - began:.1f} s')

        with self.subTest('InterfacesAdded'):
            seen = collections.Counter(args[0] for _, _, m, args in signals.seen
                                       if m == 'InterfacesAdded')
            self.assertEqual(seen, collections.Counter(added))
            adds = {args[0]: plain(args[1]) for _, _, m, args in signals.seen
                    if m == 'InterfacesAdded'}
            interfaces = {path: set(start[path]) for path in (twin_path, group_path(twin_group))}
            for f in vfs:
                path, gpath = object_path(f.address), group_path(f.group)
                device, group = adds[path][DEVICE], adds[gpath][GROUP]
                self.assertEqual(set(adds[path]), interfaces[twin_path], path)
                self.assertEqual(set(adds[gpath]), interfaces[group_path(twin_group)], gpath)
                self.assertEqual((device['Address'], device['IommuGroup'], device['Group'],
                                  device['Driver'], device['PhysicalFunction']),
                                 (f.address, f.group, gpath, '', pf.address))
                self.assertEqual({k: v for k, v in device.items()
                                  if k not in OWN_DEVICE_PROPERTIES},
                                 {k: v for k, v in start[twin_path][DEVICE].items()
                                  if k not in OWN_DEVICE_PROPERTIES}, path)
                self.assertEqual((group['Id'], group['Devices']), (f.group, [path]))
                self.assertEqual({k: v for k, v in group.items()
                                  if k not in OWN_GROUP_PROPERTIES},
                                 {k: v for k, v in start[group_path(twin_group)][GROUP].items()
                                  if k not in OWN_GROUP_PROPERTIES}, gpath)
            nic = adds[object_path(nic_address)][DEVICE]
            self.assertEqual((nic['Address'], nic['IommuGroup'], nic['Driver'], nic['VendorId'],
                              nic['DeviceId'], nic['PhysicalFunction']),
                             (nic_address, nic_group, '', 0x8086, 0x15bc, ''))
            self.assertEqual((adds[group_path(nic_group)][GROUP]['Devices'],
                              adds[group_path(nic_group)][GROUP]['Viable']),
                             ([object_path(nic_address)], True))

        with self.subTest('InterfacesRemoved'):
            seen = collections.Counter(args[0] for _, _, m, args in signals.seen
                                       if m == 'InterfacesRemoved')
            self.assertEqual(seen, collections.Counter(gone))
            for _, _, m, args in signals.seen:
                if m == 'InterfacesRemoved':
                    kind = DEVICE if '/device/' in args[0] else GROUP
                    self.assertIn(kind, args[1], args[0])

        with self.subTest('PropertiesChanged'):
            changes = collections.defaultdict(list)
            for path, _, m, args in signals.seen:
                if m == 'PropertiesChanged':
                    changes[path].append(args)
            counts = changes.pop('/org/iommud1', [])
            self.assertTrue(counts, 'no DeviceCount, GroupCount change')
            self.assertEqual({(i, *sorted(c)) for i, c, _ in counts},
                             {('org.iommud1.Manager', 'DeviceCount', 'GroupCount')})
            self.assertEqual((counts[-1][1]['DeviceCount'], counts[-1][1]['GroupCount']),
                             (len(host.devices) + len(kept), len(host.groups) + len(kept)))
            self.assertEqual({path: [(i, {k: v for k, v in c.items()
                                          if k in ('Driver', 'SriovNumVfs', 'Viable')})
                                     for i, c, _ in values]
                              for path, values in changes.items()}, {
                object_path(pf.address): [(DEVICE, {'Driver': pf.driver,
                                                    'SriovNumVfs': len(vfs)})],
                object_path(nic_address): [(DEVICE, {'Driver': NIC_DRIVER, 'SriovNumVfs': 0})],
                group_path(nic_group): [(GROUP, {'Viable': False})],
                object_path(vf.address): [(DEVICE, {'Driver': 'vfio-pci', 'SriovNumVfs': 0}),
                                          (DEVICE, {'Driver': '', 'SriovNumVfs': 0})],
            })

        with self.subTest('nothing else'):
            self.assertEqual({m for _, _, m, _ in signals.seen},
                             {'InterfacesAdded', 'InterfacesRemoved', 'PropertiesChanged'})

        with self.subTest('iommuctl monitor --json'):
            lines = [json.loads(line) for line in monitor.lines]
            for line in lines:
                self.assertEqual(check(DOCUMENTS['monitor'], line), [], line)
            keys = ('event', 'device', 'group', 'from', 'to', 'viable', 'num_vfs')
            printed = collections.Counter(tuple(e[k] for k in keys) for e in lines
                                          if e['event'] != 'policy-reloaded')
            expected = collections.Counter()
            for f in vfs:
                expected[('device-added', f.address, f.group, None, None, None, None)] += 1
                expected[('group-added', None, f.group, None, None, None, None)] += 1
            for f in removed:
                expected[('device-removed', f.address, f.group, None, None, None, None)] += 1
                expected[('group-removed', None, f.group, None, None, None, None)] += 1
            for event in (
                    ('vfs-changed', pf.address, pf.group, None, None, None, len(vfs)),
                    ('device-added', nic_address, nic_group, None, None, None, None),
                    ('group-added', None, nic_group, None, None, None, None),
                    ('driver-changed', nic_address, nic_group, None, NIC_DRIVER, None, None),
                    ('viability-changed', None, nic_group, None, None, False, None),
                    ('driver-changed', vf.address, vf.group, None, 'vfio-pci', None, None),
                    ('driver-changed', vf.address, vf.group, 'vfio-pci', None, None, None),
                    ('device-removed', nic_address, nic_group, None, None, None, None),
                    ('group-removed', None, nic_group, None, None, None, None)):
                expected[event] += 1
            self.assertEqual(printed - expected, collections.Counter(), 'printed, unexpected')
            self.assertEqual(expected - printed, collections.Counter(), 'expected, not printed')

        with self.subTest('iommuctl --json list'):
            devices = {d['address']: d for d in listing['devices']}
            self.assertEqual(set(devices), {d.address for d in host.devices}
                             | {f.address for f in kept})
            for f in kept:
                self.assertEqual((devices[f.address]['group'], devices[f.address]['driver'],
                                  devices[f.address]['physfn']), (f.group, None, pf.address))
            groups = {g['id']: g for g in listing['groups']}
            self.assertEqual(set(groups), set(host.groups) | {f.group for f in kept})
            self.assertEqual(set(end), set(start) | {object_path(f.address) for f in kept}
                             | {group_path(f.group) for f in kept})

        with self.subTest('no full rescan'):
            self.assertEqual([line for line in harness.daemon.errors()[log_start:].splitlines()
                              if 'Rescanned:' in line or 'rescanning' in line], [])


if __name__ == '__main__':
    # umockdev's uevent sender looks devices up through libudev in this very process.
    preload_self()
    sys.exit(tap.main(ScaleHotplugTest))
