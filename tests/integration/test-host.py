#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real iommud and iommuctl against one host of tests/hosts/: every group, member,
driver and viability they report must be the recording's, computed here from its files.
Usage: test-host.py tests/hosts/NAME (meson runs it once per host, in TAP)."""

import json
import os
import re
import sys

from harness import Bus, HostCase, host_main, object_path


class HostTest(HostCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.list = cls.harness.iommuctl_json('list')

    # iommuctl --json list

    def check_list(self, listing, source):
        host = self.host
        self.assertEqual(listing['source'], source)
        self.assertEqual([g['id'] for g in listing['groups']], sorted(host.groups))
        for g in listing['groups']:
            expected = host.expected_group(g['id'])
            with self.subTest(group=g['id']):
                self.assertEqual(g['devices'], expected['devices'])
                self.assertEqual(g['type'], expected['type'])
                self.assertEqual(g['viable'], expected['viable'])
                self.assertEqual([(b['address'], b['driver']) for b in g['blockers']],
                                 [(b['address'], b['driver']) for b in expected['blockers']])
                self.assertEqual(g['reserved_regions'], expected['reserved_regions'])
        self.assertEqual([d['address'] for d in listing['devices']],
                         [d.address for d in host.devices])
        for d in listing['devices']:
            expected = host.expected_device(host.by_address[d['address']])
            with self.subTest(device=d['address']):
                self.assertEqual({k: d.get(k) for k in expected}, expected)
        iommu = listing['iommu']
        self.assertEqual({k: iommu.get(k) for k in host.expected_iommu()},
                         host.expected_iommu())
        for word in host.iommu_parameters():
            self.assertIn(word, iommu['kernel_parameters'])

    def test_list_json_from_daemon(self):
        self.check_list(self.list, 'daemon')

    def test_list_json_offline(self):
        self.check_list(self.harness.iommuctl_json('--offline', 'list'), 'host')

    def test_daemon_and_host_agree(self):
        """Everything iommuctl prints from the daemon, it prints alike from the host."""
        def without_source(document):
            return {k: v for k, v in document.items() if k != 'source'}

        offline = self.harness.iommuctl_json('--offline', 'list')
        self.assertEqual(without_source(offline), without_source(self.list))
        devices, groups = self.host.sample(), self.host.sample_groups()
        if self.host.scale:
            # Each offline show scans every function (2 s on big-sriov): a few suffice.
            devices, groups = devices[::5], groups[::5]
        for name in [d.address for d in devices] + [str(g) for g in groups]:
            with self.subTest(show=name):
                self.assertEqual(
                    without_source(self.harness.iommuctl_json('--offline', 'show', name)),
                    without_source(self.harness.iommuctl_json('show', name)))

    def test_notice_only_without_groups(self):
        notice = self.list['iommu']['notice']
        if self.host.groups:
            self.assertIsNone(notice)
            return
        self.assertTrue(notice)
        for word in self.host.cmdline.split():
            if re.match(r'^(intel_iommu|amd_iommu|iommu)=off$', word):
                self.assertIn(word, notice, 'the notice must name the parameter that turned '
                              'the IOMMU off')

    # iommuctl list (table)

    def test_list_table(self):
        result = self.harness.iommuctl('list')
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = {}
        for line in result.stdout.splitlines():
            for field in line.split():
                if field in self.host.by_address:
                    rows[field] = line
        self.assertEqual(sorted(rows), [d.address for d in self.host.devices])
        for address, row in rows.items():
            device = self.host.by_address[address]
            fields = row.split()
            with self.subTest(device=address):
                self.assertEqual(fields[0], '-' if device.group is None else str(device.group))
                self.assertEqual(fields[-3], device.driver or '-')
                viable = '-' if device.group is None else \
                    ('yes' if self.host.expected_group(device.group)['viable'] else 'no')
                self.assertEqual(fields[-2], viable)
                self.assertEqual(fields[-1], '-')  # the owner: nothing is assigned here
        if not self.host.groups:
            self.assertIn(self.list['iommu']['notice'], result.stdout)

    # iommuctl show

    def test_show_device_json(self):
        for device in self.host.sample():
            for spelling in (device.address, device.address[5:].upper()):
                with self.subTest(device=spelling):
                    shown = self.harness.iommuctl_json('show', spelling)
                    self.assertEqual(shown['device']['address'], device.address)
                    self.assertEqual(shown['device']['driver'], device.driver)
                    if device.group is None:
                        self.assertIsNone(shown['group'])
                        self.assertEqual(shown['peers'], [])
                        continue
                    self.assertEqual(shown['group']['id'], device.group)
                    self.assertEqual(shown['peers'],
                                     [d.address for d in self.host.members(device.group)
                                      if d is not device])

    def test_show_by_vendor_device_id(self):
        ids = {}
        for device in self.host.devices:
            expected = self.host.expected_device(device)
            ids.setdefault(f'{expected["vendor_id"]:04x}:{expected["device_id"]:04x}',
                           []).append(device)
        for vendor_device, devices in ids.items():
            with self.subTest(id=vendor_device):
                result = self.harness.iommuctl('--json', 'show', vendor_device)
                if len(devices) == 1:
                    self.assertEqual(result.returncode, 0, result.stderr)
                    self.assertEqual(json.loads(result.stdout)['device']['address'],
                                     devices[0].address)
                else:
                    self.assertEqual(result.returncode, 1, 'an ambiguous id must be refused')
                    self.assertIn(vendor_device, result.stderr)

    def test_show_device_names_group_peers(self):
        for device in self.host.sample():
            result = self.harness.iommuctl('show', device.address)
            with self.subTest(device=device.address):
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertIn(device.address, result.stdout)
                if device.group is None:
                    continue
                self.assertRegex(result.stdout, rf'IOMMU group:\s+{device.group}\b')
                for peer in self.host.members(device.group):
                    self.assertIn(peer.address, result.stdout)

    def test_show_group(self):
        for group_id in self.host.sample_groups():
            expected = self.host.expected_group(group_id)
            with self.subTest(group=group_id):
                shown = self.harness.iommuctl_json('show', str(group_id))
                self.assertEqual(shown['group']['id'], group_id)
                self.assertEqual(shown['group']['viable'], expected['viable'])
                self.assertEqual([d['address'] for d in shown['devices']], expected['devices'])
                table = self.harness.iommuctl('show', str(group_id))
                self.assertEqual(table.returncode, 0, table.stderr)
                for address in expected['devices']:
                    self.assertIn(address, table.stdout)

    # D-Bus

    def test_busctl_tree(self):
        result = self.harness.bus.busctl('--list', 'tree', 'org.iommud1')
        paths = set(result.stdout.split())
        expected = {f'/org/iommud1/group/{g}' for g in self.host.groups}
        expected |= {object_path(d.address) for d in self.host.devices}
        self.assertIn('/org/iommud1', paths)
        self.assertEqual({p for p in paths if re.match(r'^/org/iommud1/(group|device)/', p)},
                         expected)

    def test_get_managed_objects(self):
        objects = self.harness.managed_objects()
        # The manager itself is not below /org/iommud1: the ObjectManager does not list it.
        reply = self.harness.bus.busctl_json(
            'call', 'org.iommud1', '/org/iommud1', 'org.freedesktop.DBus.Properties', 'GetAll',
            's', 'org.iommud1.Manager')
        manager = {name: v['data'] for name, v in reply['data'][0].items()}
        iommu = self.host.expected_iommu()
        self.assertEqual(manager['IommuPresent'], iommu['present'])
        self.assertEqual(manager['InterruptRemapping'], iommu['interrupt_remapping'])
        self.assertEqual(manager['AcsOverride'], iommu['acs_override'])
        self.assertEqual(manager['GroupCount'], len(self.host.groups))
        self.assertEqual(manager['DeviceCount'], len(self.host.devices))
        self.assertEqual(manager['Version'], os.environ['IOMMUD_VERSION'])
        self.assertEqual(manager['Notice'], self.list['iommu']['notice'] or '')
        self.assertEqual(bool(manager['Notice']), not self.host.groups)
        for word in self.host.iommu_parameters():
            self.assertIn(word, manager['KernelParameters'])
        for group_id in self.host.groups:
            expected = self.host.expected_group(group_id)
            with self.subTest(group=group_id):
                group = objects[f'/org/iommud1/group/{group_id}']['org.iommud1.Group']
                self.assertEqual(group['Id'], group_id)
                self.assertEqual(group['Type'], expected['type'])
                self.assertEqual(group['Viable'], expected['viable'])
                self.assertEqual(group['Devices'], [object_path(a) for a in expected['devices']])
                self.assertEqual([b[:2] for b in group['Blockers']],
                                 [[b['address'], b['driver']] for b in expected['blockers']])
                self.assertTrue(all(reason for _, _, reason in group['Blockers']))
                self.assertEqual(group['ReservedRegions'],
                                 [[r['start'], r['end'], r['type']]
                                  for r in expected['reserved_regions']])
        for device in self.host.devices:
            expected = self.host.expected_device(device)
            with self.subTest(device=device.address):
                props = objects[object_path(device.address)]['org.iommud1.Device']
                self.assertEqual(props['Address'], device.address)
                self.assertEqual(props['IommuGroup'], -1 if device.group is None else device.group)
                self.assertEqual(props['Driver'], device.driver or '')
                self.assertEqual(props['VendorId'], expected['vendor_id'])
                self.assertEqual(props['DeviceId'], expected['device_id'])
                self.assertEqual(props['Class'], expected['class'])

    # Without the daemon

    def check_fallback(self, result):
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, f'expected one line on stderr, got:\n{result.stderr}')
        self.assertRegex(lines[0], r'(?i)not reachable|unreachable|reading the host')
        self.check_list(json.loads(result.stdout), 'host')

    def test_fallback_without_bus(self):
        env = self.testbed.env(os.environ)
        env['DBUS_SYSTEM_BUS_ADDRESS'] = f'unix:path={self.testbed.proc}/no-such-socket'
        self.check_fallback(self.harness.iommuctl('--json', 'list', env=env))

    def test_fallback_without_daemon_on_bus(self):
        bus = Bus()
        try:
            env = bus.env(self.testbed.env(os.environ))
            self.check_fallback(self.harness.iommuctl('--json', 'list', env=env))
        finally:
            bus.close()


if __name__ == '__main__':
    sys.exit(host_main(HostTest, sys.argv))
