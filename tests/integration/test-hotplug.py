#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iommud follows the host: a device that appears (uevent add), a group rebound to vfio-pci
(unbind/bind, announced by PropertiesChanged with every changing property of the device and
the group) and a device that disappears (remove) show in its D-Bus objects and in iommuctl,
without a restart. Usage: test-hotplug.py tests/hosts/NAME (a host with groups
where at least one group has a driver-bound endpoint)."""

import struct
import sys

from gi.repository import Gio

from bus_client import Client
from harness import BUS_NAME, HostCase, host_main, object_path, wait_for
NEW_DRIVER = 'e1000e'


def record(address, vendor, device, pci_class):
    """A umockdev record of a plain endpoint with a 64-byte config space."""
    config = bytearray(64)
    struct.pack_into('<HHHHI', config, 0, vendor, device, 0x0406, 0x0010,
                     pci_class << 8 | 0x10)
    return (f'P: /devices/pci0000:00/{address}\n'
            'E: SUBSYSTEM=pci\n'
            f'E: PCI_SLOT_NAME={address}\n'
            f'A: vendor=0x{vendor:04x}\\n\n'
            f'A: device=0x{device:04x}\\n\n'
            f'A: class=0x{pci_class:06x}\\n\n'
            'A: driver_override=(null)\\n\n'
            f'H: config={config.hex().upper()}\n')


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

    def test_device_added(self):
        address = next(a for a in (f'0000:00:{slot:02x}.0' for slot in range(0x1f, 0, -1))
                       if a not in self.host.by_address)
        group_id = max(self.host.groups) + 1
        devpath = self.testbed.add_device(record(address, 0x8086, 0x15bc, 0x020000))
        self.testbed.add_group(group_id, 'DMA', '')
        self.testbed.join_group(devpath, group_id)
        self.testbed.bind(devpath, NEW_DRIVER)
        self.testbed.uevent(devpath, 'add')

        path = object_path(address)
        objects = self.wait_for_objects(lambda o: path in o, f'{path} to appear')
        device = objects[path]['org.iommud1.Device']
        self.assertEqual((device['IommuGroup'], device['Driver']), (group_id, NEW_DRIVER))
        group = objects[f'/org/iommud1/group/{group_id}']['org.iommud1.Group']
        self.assertEqual(group['Devices'], [path])
        self.assertFalse(group['Viable'])
        listed = self.listed(address)
        self.assertEqual((listed['group'], listed['driver']), (group_id, NEW_DRIVER))

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
                                                  'OwnerUuid', 'OwnerState', 'State'},
                            'org.iommud1.Device': {'Driver', 'DriverOverride', 'HostDriver',
                                                   'Owner', 'State', 'SriovNumVfs'}}[interface]
                self.assertEqual(set(values), expected)
        last = {path: values for path, interface, values in changed
                if interface == 'org.iommud1.Device'}
        for device in members:
            self.assertEqual(last[object_path(device.address)]['Driver'], 'vfio-pci')

    def test_device_removed(self):
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


if __name__ == '__main__':
    # umockdev's uevent sender looks devices up through libudev in this very process.
    sys.exit(host_main(HotplugTest, sys.argv, preload=True))
