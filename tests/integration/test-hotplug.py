#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iommud follows the host one uevent at a time: a device that appears (uevent add, with
InterfacesAdded for it and its new group), a group rebound to vfio-pci (unbind/bind,
announced by PropertiesChanged with every changing property of the device and the group) and
a device that disappears (remove, InterfacesRemoved) show in its D-Bus objects and in
iommuctl, without a restart; an owned device that disappears closes its claim (journal, log,
OwnershipLost) and comes back unowned; a change of an owned group's State alone (a foreign
unbind) is signalled once; a driver change reads the device alone, an add reads it whole
with its config space and group; a batch that read while a job ran reads again the devices of
the job's groups, and only those; an autobind that failed is not retried until the device is
re-added or the policy reloaded, nor on the drivers of iommud's own moves; a device below an
unknown bridge makes a full rescan, logged; a device only a rescan saw go leaves no record of
iommud's moves or failed autobind for what comes back at its address. Usage: test-hotplug.py tests/hosts/NAME (a host
with groups where at least one group has a driver-bound endpoint, and two single-endpoint
groups)."""

import json
import os
import shutil
import signal
import sys
import tempfile

from gi.repository import Gio

from bus_client import Client, Signals
from harness import BUS_NAME, Daemon, HostCase, host_main, object_path, wait_for
from testbed import free_address, pci_record as record
NEW_DRIVER = 'e1000e'


class HotplugTest(HostCase):
    per_test = True     # each test changes the host

    def wait_for_objects(self, predicate, what):
        """Polls GetManagedObjects until @predicate holds for them; returns them."""
        def check():
            objects = self.harness.managed_objects()
            return objects if predicate(objects) else None
        return wait_for(check, what)

    def listed(self, address):
        devices = self.harness.iommuctl_json('list')['devices']
        return next((d for d in devices if d['address'] == address), None)

    def signals(self):
        signals = Signals(self.harness.bus.address)
        self.addCleanup(signals.close)
        return signals

    def plug(self, address, group_id, driver=NEW_DRIVER, **kwargs):
        """A device appears in a group of its own, bound to @driver; returns its devpath."""
        devpath = self.testbed.add_device(record(address, 0x8086, 0x15bc, 0x020000, **kwargs))
        if not os.path.isdir(self.testbed.group_dir(group_id)):
            self.testbed.add_group(group_id, 'DMA', '')
        self.testbed.join_group(devpath, group_id)
        self.testbed.bind(devpath, driver)
        self.testbed.uevent(devpath, 'add')
        return devpath

    def test_device_added(self):
        signals = self.signals()
        address = free_address(self.host)
        group_id = max(self.host.groups) + 1
        devpath = self.testbed.add_device(record(address, 0x8086, 0x15bc, 0x020000))
        self.testbed.add_group(group_id, 'DMA', '')
        self.testbed.join_group(devpath, group_id)
        self.testbed.bind(devpath, NEW_DRIVER)
        self.testbed.uevent(devpath, 'add')

        # umockdev announces the device as it creates it, before its group and driver: the
        # daemon may read it before them, and the last state it announced is what counts.
        path = object_path(address)
        objects = self.wait_for_objects(
            lambda o: path in o and o[path]['org.iommud1.Device']['Driver'] == NEW_DRIVER,
            f'{path} to appear on {NEW_DRIVER}')
        device = objects[path]['org.iommud1.Device']
        self.assertEqual((device['IommuGroup'], device['Driver']), (group_id, NEW_DRIVER))
        group = objects[f'/org/iommud1/group/{group_id}']['org.iommud1.Group']
        self.assertEqual(group['Devices'], [path])
        self.assertFalse(group['Viable'])
        listed = self.listed(address)
        self.assertEqual((listed['group'], listed['driver']), (group_id, NEW_DRIVER))
        signals.wait('InterfacesAdded', path)
        signals.wait('InterfacesAdded', f'/org/iommud1/group/{group_id}')
        drivers = [args[1]['org.iommud1.Device']['Driver'] if member == 'InterfacesAdded'
                   else args[1]['Driver']
                   for p, _, member, args in signals.seen
                   if (member == 'InterfacesAdded' and args[0] == path)
                   or (member == 'PropertiesChanged' and p == path and 'Driver' in args[1])]
        self.assertEqual(drivers[-1], NEW_DRIVER, 'the signals left the driver out')

    def test_group_rebound_to_vfio(self):
        group_id = next(g for g in sorted(self.host.groups)
                        if not self.host.expected_group(g)['viable'])
        members = self.host.members(group_id)
        listener = Client(self.harness.bus.address)
        self.addCleanup(listener.close)
        changed = []
        listener.conn.signal_subscribe(
            BUS_NAME, 'org.freedesktop.DBus.Properties', 'PropertiesChanged', None, None,
            Gio.DBusSignalFlags.NONE,
            lambda conn, sender, path, iface, member, params: changed.append(
                (path, params.unpack()[0], params.unpack()[1])))
        for device in members:
            if device.driver is not None:
                self.testbed.unbind(device.devpath)
                self.testbed.uevent(device.devpath, 'unbind')
            self.testbed.bind(device.devpath, 'vfio-pci')
            self.testbed.uevent(device.devpath, 'bind')

        gpath = f'/org/iommud1/group/{group_id}'
        self.wait_for_objects(lambda o: o[gpath]['org.iommud1.Group']['Viable'],
                              f'group {group_id} to become viable')
        objects = self.harness.managed_objects()
        self.assertEqual(objects[gpath]['org.iommud1.Group']['Blockers'], [])
        for device in members:
            self.assertEqual(objects[object_path(device.address)]['org.iommud1.Device']['Driver'],
                             'vfio-pci')
            self.assertEqual(self.listed(device.address)['driver'], 'vfio-pci')
        # Each object's signals carried exactly the properties its interface may change.
        listener.pump()
        self.assertIn((gpath, 'org.iommud1.Group'), {(p, i) for p, i, _ in changed})
        for path, interface, values in changed:
            with self.subTest(path=path, interface=interface):
                expected = {'org.iommud1.Group': {'Devices', 'Viable', 'Blockers', 'Owner',
                                                  'OwnerUuid', 'OwnerState', 'State',
                                                  'QuarantineReason'},
                            'org.iommud1.Device': {'Driver', 'DriverOverride', 'HostDriver',
                                                   'Owner', 'State', 'SriovNumVfs', 'ResetMethod',
                                                   'LastReset'}}[interface]
                self.assertEqual(set(values), expected)
        last = {path: values for path, interface, values in changed
                if interface == 'org.iommud1.Device'}
        for device in members:
            self.assertEqual(last[object_path(device.address)]['Driver'], 'vfio-pci')

    def test_driver_change_reads_the_device_alone(self):
        """Unbind and bind uevents of a known device read its attributes, not its config space
        (ACS, DSN) nor its group's sysfs, which a driver change leaves as they were; an add
        reads it whole."""
        device = next(d for d in self.single_endpoints() if d.driver)
        path = object_path(device.address)
        errors = self.harness.daemon.errors
        before = len(errors())
        signals = self.signals()
        self.testbed.unbind(device.devpath)
        self.testbed.uevent(device.devpath, 'unbind')
        signals.wait('PropertiesChanged', path, lambda args: args[1].get('Driver') == '')
        self.testbed.bind(device.devpath, device.driver)
        self.testbed.uevent(device.devpath, 'bind')
        signals.wait('PropertiesChanged', path,
                     lambda args: args[1].get('Driver') == device.driver)
        signals.sync()
        batches = [line for line in errors()[before:].splitlines() if 'Hot-plug:' in line]
        self.assertTrue(batches)
        self.assertTrue(all('(0 whole)' in line for line in batches), batches)

        before = len(errors())
        self.testbed.uevent(device.devpath, 'add')
        wait_for(lambda: '(1 whole)' in errors()[before:], 'the add to be read whole')

    def read_during_job(self, device, job, override):
        """A uevent of @device whose read blocks (its driver_override a FIFO, as a device lock
        held) while iommuctl runs @job to its end; then the read goes on and finds @override.
        Returns the daemon's log since the uevent, once that is applied."""
        path = f'{self.testbed.sys}{device.devpath}/driver_override'
        os.unlink(path)
        os.mkfifo(path)
        errors = self.harness.daemon.errors
        before = len(errors())
        signals = self.signals()
        self.testbed.uevent(device.devpath, 'change')

        def reader_waits():
            try:
                return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                return None
        fd = wait_for(reader_waits, f'the read of {device.address} to block')
        self.harness.iommuctl(*job)     # how it ends does not matter: it wrote sysfs
        os.rename(path, f'{path}.fifo')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(f'{override}\n')
        os.write(fd, f'{override}\n'.encode())
        os.close(fd)
        os.unlink(f'{path}.fifo')
        signals.wait('PropertiesChanged', object_path(device.address),
                     lambda args: args[1].get('DriverOverride') == override)
        signals.sync()
        return errors()[before:]

    def test_batch_reads_again_what_a_job_moved(self):
        """A job that ends while a batch reads: the batch reads again the devices of the job's
        group (it may have read them half moved), and applies the others as read."""
        group = next(g for g in sorted(self.host.groups)
                     if len([d for d in self.host.members(g) if d.driver]) > 1)
        read, peer = [d for d in self.host.members(group) if d.driver][:2]
        other = next(d for d in self.single_endpoints() if d.driver)

        log = self.read_during_job(read, ['rebind', other.address, 'none'], 'vfio-pci')
        self.assertNotIn('read again', log)
        log = self.read_during_job(read, ['rebind', peer.address, 'none'], NEW_DRIVER)
        self.assertIn('Hot-plug: 1 devices to read again, a job moved them meanwhile.', log)

    def test_device_removed(self):
        signals = self.signals()
        device = next(d for d in self.host.devices
                      if d.group is not None and len(self.host.members(d.group)) == 1
                      and not d.is_bridge)
        self.testbed.remove_device(device.devpath)

        path, gpath = object_path(device.address), f'/org/iommud1/group/{device.group}'
        objects = self.wait_for_objects(lambda o: path not in o, f'{path} to disappear')
        self.assertNotIn(gpath, objects)
        self.assertIsNone(self.listed(device.address))
        manager = self.harness.bus.busctl_json(
            'get-property', 'org.iommud1', '/org/iommud1', 'org.iommud1.Manager', 'DeviceCount')
        self.assertEqual(manager['data'], len(self.host.devices) - 1)
        self.assertIn('org.iommud1.Device', signals.wait('InterfacesRemoved', path)[1])
        signals.wait('InterfacesRemoved', gpath)

    def single_endpoints(self):
        """The endpoints alone in their groups, in group order."""
        return [self.host.members(g)[0] for g in sorted(self.host.groups)
                if len(self.host.members(g)) == 1 and not self.host.members(g)[0].is_bridge]

    def journal(self):
        with open(self.harness.daemon.journal, encoding='utf-8') as f:
            return json.load(f)

    def test_owned_device_removed(self):
        """Two groups of one endpoint each, on vfio-pci, owned by vm1 (from the journal): one
        endpoint leaves the host; its claim closes, the other stays, and when it comes back it
        has no owner."""
        lost, kept = self.single_endpoints()[-2:]
        self.restart_owned('vm1', [lost, kept])
        self.assertEqual(self.listed(lost.address)['group'], lost.group)
        groups = {g['id']: g for g in self.harness.iommuctl_json('list')['groups']}
        self.assertEqual((groups[lost.group]['owner'], groups[kept.group]['owner']),
                         ('vm1', 'vm1'))
        signals = self.signals()

        self.testbed.remove_device(lost.devpath)
        self.assertEqual(signals.wait('OwnershipLost'), ('vm1', lost.group, [lost.address],
                                                         'removed'))
        self.assertEqual([c['group'] for c in self.journal()['claims']], [kept.group])
        self.assertIn(f"IOMMU group {lost.group} of 'vm1' lost {lost.address}",
                      self.harness.daemon.errors())
        groups = {g['id']: g for g in self.harness.iommuctl_json('list')['groups']}
        self.assertNotIn(lost.group, groups)
        self.assertEqual(groups[kept.group]['owner'], 'vm1')

        # Back at the same address, in the same group, on vfio-pci: nobody's.
        self.plug(lost.address, lost.group, driver='vfio-pci')
        self.wait_for_objects(lambda o: object_path(lost.address) in o,
                              f'{lost.address} to come back')
        groups = {g['id']: g for g in self.harness.iommuctl_json('list')['groups']}
        self.assertIsNone(groups[lost.group]['owner'])
        self.assertEqual(groups[lost.group]['state'], 'host')
        self.assertEqual(groups[kept.group]['owner'], 'vm1')

    def test_owned_group_state_changes_alone(self):
        """A device of an owned group that a foreign hand unbinds from vfio-pci: its group stays
        viable, without blockers and owned, but its State becomes 'inconsistent': the batch
        compares the group as a rescan does, and sends exactly one PropertiesChanged for it."""
        owned = self.single_endpoints()[-1]
        self.restart_owned('vm1', [owned])
        path, gpath = object_path(owned.address), f'/org/iommud1/group/{owned.group}'
        signals = self.signals()

        self.testbed.unbind(owned.devpath)
        self.testbed.uevent(owned.devpath, 'unbind')
        signals.wait('PropertiesChanged', path, lambda args: args[1]['Driver'] == '')
        signals.sync()
        changed = [args[1] for p, _, member, args in signals.seen
                   if member == 'PropertiesChanged' and p == gpath]
        self.assertEqual(len(changed), 1, changed)
        self.assertEqual((changed[0]['State'], changed[0]['Owner'], changed[0]['Viable']),
                         ('inconsistent', 'vm1', True))

    def autobind_nic(self):
        """Restarts the daemon with an autobind rule for a NIC whose move to vfio-pci fails
        (umockdev binds nothing, as a driver that refuses the device would). Returns the NIC,
        the policy directory, attempts() (how many autobinds began and failed) and
        bind_by_hand(driver) (a foreign unbind and bind, announced)."""
        nic = next(d for d in self.single_endpoints() if d.driver and d.driver != 'vfio-pci')
        policy_dir = tempfile.mkdtemp(prefix='iommud-autobind.')
        self.addCleanup(shutil.rmtree, policy_dir, True)
        with open(os.path.join(policy_dir, '10-autobind.json'), 'w', encoding='utf-8') as f:
            json.dump({'rules': [{'id': 'nic', 'match': {'address': nic.address},
                                  'guests': ['*'], 'action': 'allow',
                                  'options': {'autobind': True}}]}, f)
        self.harness.daemon.close()
        self.harness.daemon = Daemon(self.testbed, self.harness.bus, policy_dir=policy_dir)
        errors = self.harness.daemon.errors
        path = object_path(nic.address)

        def attempts():
            return (errors().count(f"'nic' ({policy_dir}/10-autobind.json:1) binds "
                                   f"{nic.address} to vfio-pci"),
                    errors().count(f'the autobind of {nic.address} failed; not trying again'))

        def bind_by_hand(driver, devpath=nic.devpath):
            signals = self.signals()
            self.testbed.unbind(devpath)
            self.testbed.uevent(devpath, 'unbind')
            signals.wait('PropertiesChanged', path, lambda args: args[1].get('Driver') == '')
            self.testbed.bind(devpath, driver)
            self.testbed.uevent(devpath, 'bind')
            signals.wait('PropertiesChanged', path, lambda args: args[1].get('Driver') == driver)
            signals.sync()

        return nic, policy_dir, attempts, bind_by_hand

    def test_failed_autobind_is_not_retried(self):
        """An autobind rule for a NIC whose move to vfio-pci fails: one attempt, logged once. A
        foreign driver taking the NIC then tries nothing more; after a policy reload it does,
        but the driver iommud's own move put back does not; re-added, it is a new device, tried
        again."""
        nic, policy_dir, attempts, bind_by_hand = self.autobind_nic()
        errors = self.harness.daemon.errors
        path = object_path(nic.address)

        wait_for(lambda: attempts() == (1, 1), 'the autobind to fail')
        bind_by_hand(NEW_DRIVER)
        self.assertEqual(attempts(), (1, 1), errors())

        self.harness.daemon.process.send_signal(signal.SIGHUP)
        wait_for(lambda: errors().count(f'Policy: 1 rules from {policy_dir}') == 2,
                 'the policy to be reloaded')
        bind_by_hand(nic.driver)
        self.assertEqual(attempts(), (1, 1), errors())
        bind_by_hand(NEW_DRIVER)
        wait_for(lambda: attempts() == (2, 2), 'a foreign driver to be met after the reload')

        self.testbed.remove_device(nic.devpath)
        self.wait_for_objects(lambda o: path not in o, f'{path} to go')
        # As the kernel announces it: in its group already, no driver yet.
        self.testbed.add_group(nic.group, 'DMA', '')
        self.testbed.announce(record(nic.address, 0x8086, 0x15bc, 0x020000), nic.group)
        wait_for(lambda: attempts() == (3, 3), 'the re-added NIC to be tried once')

    def rescan_by_unknown_bridge(self):
        """A device appears below a bridge whose own uevent never came: the model cannot place
        it, so the host is rescanned, which finds both. Returns the device's address."""
        bridge = free_address(self.host)
        child = free_address(self.host, bus=0x3e)
        group_id = max(self.host.groups) + 1
        # umockdev announces every device it adds: the bridge's announcement is made useless
        # by leaving its vendor out (the daemon cannot read it, so it stays unknown), and the
        # vendor is written once it passed.
        batches = self.harness.daemon.errors().count('Hot-plug:')
        bridge_path = self.testbed.add_device(
            record(bridge, 0x8086, 0xa110, 0x060400).replace('A: vendor=0x8086\\n\n', ''))
        wait_for(lambda: self.harness.daemon.errors().count('Hot-plug:') > batches,
                 f'the uevent of {bridge} to be read')
        with open(f'{self.testbed.sys}{bridge_path}/vendor', 'w', encoding='utf-8') as f:
            f.write('0x8086\n')
        self.plug(child, group_id, parent=bridge_path)

        self.wait_for_objects(lambda o: object_path(child) in o and object_path(bridge) in o,
                              f'{child} and its bridge {bridge} to appear')
        return child

    def test_rescan_forgets_a_gone_device(self):
        """A NIC whose removal only a rescan saw: what iommud recorded of it (its failed
        autobind, its own move) is forgotten. What comes back at its address on vfio-pci and
        is then taken by a foreign driver, even the one iommud's move came from, meets the
        autobind rule again."""
        # With a drivers_probe to write, the failed move (umockdev's drivers have no unbind)
        # rolls back cleanly: no recovery reads the NIC again and sees it gone first.
        open(f'{self.testbed.sys}/bus/pci/drivers_probe', 'w', encoding='utf-8').close()
        nic, _, attempts, bind_by_hand = self.autobind_nic()
        path = object_path(nic.address)
        wait_for(lambda: attempts() == (1, 1), 'the autobind to fail')
        # The job's own re-read of the NIC, which would see it gone, is done first.
        errors = self.harness.daemon.errors
        wait_for(lambda: 'Hot-plug:' in errors().split('not trying again')[-1],
                 'the failed job to read the NIC again')
        self.testbed.remove_device(nic.devpath, announce=False)
        self.rescan_by_unknown_bridge()
        self.wait_for_objects(lambda o: path not in o, f'the rescan to find {path} gone')

        self.testbed.add_group(nic.group, 'DMA', '')
        vfio = f'{self.testbed.sys}/bus/pci/drivers/vfio-pci'
        os.makedirs(vfio, exist_ok=True)
        link = os.path.relpath(vfio, self.testbed.sys + nic.devpath)
        devpath = self.testbed.announce(record(nic.address, 0x8086, 0x15bc, 0x020000,
                                               parent=os.path.dirname(nic.devpath))
                                        + f'L: driver={link}\n', nic.group)
        self.testbed.bind(devpath, 'vfio-pci')
        self.wait_for_objects(lambda o: path in o, f'{path} to come back')
        self.assertEqual(attempts(), (1, 1))
        bind_by_hand(nic.driver, devpath)
        wait_for(lambda: attempts() == (2, 2), 'the new NIC to meet the autobind rule')

    def test_unknown_parent_rescans(self):
        """A device below a bridge whose own uevent never came: the model cannot place it, so
        the host is rescanned (and it says so), which finds both. The rescan also notices an
        owned device whose removal was never announced, and closes its claim."""
        owned = self.single_endpoints()[-1]
        self.restart_owned('vm1', [owned])
        signals = self.signals()
        self.testbed.remove_device(owned.devpath, announce=False)

        child = self.rescan_by_unknown_bridge()
        self.assertIn(f'{child} appeared below a PCI device iommud does not know: rescanning',
                      self.harness.daemon.errors())
        self.assertEqual(signals.wait('OwnershipLost'), ('vm1', owned.group, [owned.address],
                                                         'removed'))
        self.assertEqual(self.journal()['claims'], [])
        self.assertIsNone(self.listed(owned.address))


if __name__ == '__main__':
    # umockdev's uevent sender looks devices up through libudev in this very process.
    sys.exit(host_main(HotplugTest, sys.argv, preload=True))
