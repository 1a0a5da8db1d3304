#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The change methods (Assign, Release, Rebind) on a umockdev host, as far as no kernel is
needed to bind drivers (the vm tier proves the binding): dry-run plans of whole groups, every
refusal named and harmless, owners and corrupt journals read at start.
Usage: test-change.py tests/hosts/NAME (a host with a multi-device group and a group of
bridges only, like desktop)."""

import glob
import json
import os
import sys

from harness import BUS_NAME, Harness, HostCase, host_main

EXIT_REFUSED = 1


class ChangeTest(HostCase):
    per_test = True

    # The host's facts the tests need.

    def shared_group(self):
        """A group of several devices, and its first endpoint."""
        group = next(g for g in sorted(self.host.groups) if len(self.host.members(g)) > 1)
        endpoint = next(d for d in self.host.members(group) if not d.is_bridge)
        return group, endpoint.address

    def bridges_only_group_device(self):
        group = next(g for g in sorted(self.host.groups)
                     if all(d.is_bridge for d in self.host.members(g)))
        return self.host.members(group)[0].address

    def overrides(self):
        """Every device's driver_override file in the testbed: the sysfs a change writes."""
        found = {}
        # os.walk does not follow links: sysfs' links lead back up the tree.
        for top, _, files in os.walk(os.path.join(self.testbed.sys, 'devices')):
            if 'driver_override' in files:
                with open(os.path.join(top, 'driver_override'), encoding='utf-8') as f:
                    found[top] = f.read()
        return found

    def mount_behind(self, address, mountpoint):
        """Gives the device at @address a disk with a mounted filesystem, as the kernel shows
        it: a block device below it in sysfs and that device's line in mountinfo."""
        device = self.host.by_address[address]
        self.testbed.add_device(f'P: {device.devpath}/nvme/nvme9/nvme9n1\n'
                                'E: SUBSYSTEM=block\nE: DEVNAME=/dev/nvme9n1\nE: DEVTYPE=disk\n'
                                'A: dev=259:77\n')
        os.makedirs(os.path.join(self.testbed.proc, 'self'), exist_ok=True)
        with open(os.path.join(self.testbed.proc, 'self', 'mountinfo'), 'w',
                  encoding='utf-8') as f:
            f.write(f'36 25 259:77 / {mountpoint} rw,relatime shared:1 - ext4 /dev/nvme9n1 rw\n')

    def journal(self):
        try:
            with open(self.harness.daemon.journal, encoding='utf-8') as f:
                return f.read()
        except FileNotFoundError:
            return None

    def refused(self, args, error, mention):
        before = (self.overrides(), self.journal())
        result = self.harness.iommuctl(*args)
        with self.subTest(args=args):
            self.assertEqual(result.returncode, EXIT_REFUSED, result.stderr)
            self.assertIn(f'({error})', result.stderr)
            self.assertIn(mention, result.stderr)
            self.assertEqual((self.overrides(), self.journal()), before,
                             'a refused change wrote to sysfs or the journal')

    # The tests.

    def test_dry_run_plans_the_whole_group(self):
        group, named = self.shared_group()
        before = self.overrides()
        plan = self.harness.iommuctl_json('--dry-run', 'assign', 'win11', named)
        self.assertTrue(plan['dry_run'])
        expected = sorted(d.address for d in self.host.members(group)
                          if not d.is_bridge or self.host.blocks(d))
        self.assertEqual(sorted(row['address'] for row in plan['plan']), expected)
        for row in plan['plan']:
            self.assertEqual(row['reason'],
                             {'kind': 'named', 'of': None} if row['address'] == named
                             else {'kind': 'peer', 'of': named})
            device = self.host.by_address[row['address']]
            self.assertEqual(row['from'], device.driver)
            self.assertEqual(row['to'], None if device.is_bridge else 'vfio-pci')
        self.assertEqual(self.overrides(), before, 'a dry run wrote to sysfs')
        self.assertIsNone(self.journal(), 'a dry run wrote a journal')
        table = self.harness.iommuctl('--dry-run', 'assign', 'win11', named)
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn('Dry run: nothing was changed', table.stdout)
        # The table words the reason; the bus carries it as data, (kind, of) per step.
        peers = [row['address'] for row in plan['plan'] if row['address'] != named]
        self.assertEqual(table.stdout.count(f'group peer of {named}'), len(peers), table.stdout)
        reply = self.harness.bus.busctl_json('call', BUS_NAME, '/org/iommud1',
                                             'org.iommud1.Manager', 'Assign', 'sasa{sv}', 'win11',
                                             '1', named, '1', 'dry-run', 'b', 'true')
        self.assertEqual(reply['type'], 'a(sss(ss)(ssu)(sss))')
        self.assertEqual({step[0]: step[3] for step in reply['data'][0]},
                         {row['address']: ['named', ''] if row['address'] == named
                          else ['peer', named] for row in plan['plan']})

    def test_dry_run_refuses_as_the_real_call(self):
        """A dry run runs the real call's checks, the in-use scan included: the same refusal,
        word for word, and nothing written by either."""
        _, named = self.shared_group()
        self.mount_behind(named, '/srv/data')
        real = self.harness.iommuctl('assign', 'win11', named)
        self.refused(['assign', 'win11', named], 'InUse', 'is mounted at /srv/data')
        dry = self.harness.iommuctl('--dry-run', 'assign', 'win11', named)
        self.assertEqual((dry.returncode, dry.stderr, dry.stdout),
                         (real.returncode, real.stderr, real.stdout))
        self.refused(['--dry-run', 'assign', 'win11', named], 'InUse', 'is mounted at /srv/data')
        self.refused(['--dry-run', 'rebind', named, 'vfio-pci'], 'InUse',
                     'is mounted at /srv/data')

    def test_missing_driver_is_refused_first(self):
        _, named = self.shared_group()
        for dry in ([], ['--dry-run']):
            self.refused([*dry, 'rebind', named, 'nosuchdriver'], 'NotFound',
                         "no driver 'nosuchdriver' is registered on the PCI bus")

    def test_rebind_driver_spelling(self):
        _, named = self.shared_group()
        before = (self.overrides(), self.journal())
        result = self.harness.iommuctl('rebind', named, '')
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("the driver name is empty; write 'none'", result.stderr)
        self.assertEqual((self.overrides(), self.journal()), before)
        # The bus refuses it as well: an empty string never means "no driver".
        bus = self.harness.bus.busctl('call', BUS_NAME, '/org/iommud1', 'org.iommud1.Manager',
                                      'Rebind', 'ssa{sv}', named, '', '0', check=False)
        self.assertNotEqual(bus.returncode, 0)
        self.assertIn('the driver name is empty', bus.stderr)
        plan = self.harness.iommuctl_json('--dry-run', 'rebind', named, 'none')
        self.assertEqual([(row['address'], row['to']) for row in plan['plan']], [(named, None)])

    def test_refusals(self):
        _, named = self.shared_group()
        absent = next(f'0000:{bus:02x}:1f.7' for bus in range(0x80, 0x100)
                      if f'0000:{bus:02x}:1f.7' not in self.host.by_address)
        cases = [
                (['assign', 'win11', absent], 'NotFound', f'no PCI device at {absent}'),
                (['assign', 'win11', 'zz:zz.z'], 'InvalidArgument', 'is not a PCI address'),
                (['assign', '', named], 'InvalidArgument', 'the owner name is empty'),
                (['assign', 'a/b', named], 'InvalidArgument', "contains '/'"),
                (['assign', 'a\tb', named], 'InvalidArgument', 'control character'),
                (['assign', 'win\u200b11', named], 'InvalidArgument',
                 'invisible format character U+200B at byte 4'),
                (['assign', ' win11', named], 'InvalidArgument', 'starts with a blank U+0020'),
                (['assign', 'uid:root', named], 'InvalidArgument', 'numeric user id'),
                (['assign', 'win11', self.bridges_only_group_device()], 'NotViable',
                 'holds only bridges'),
                (['release', 'win11'], 'NotFound', "'win11' owns no IOMMU group"),
                (['rebind', named, 'a/b'], 'InvalidArgument', "'a/b' is not a driver name"),
                (['rebind', named, 'vfio pci'], 'InvalidArgument',
                 "' ' at byte 5 is not a letter, digit"),
        ]
        for args, error, mention in cases:
            self.refused(args, error, mention)

    def test_options_are_checked(self):
        _, named = self.shared_group()
        self.assert_assign_options_refused(named, (
                (['1', 'bogus', 'b', 'true'], "Unknown option 'bogus'"),
                (['1', 'dry-run', 's', 'yes'], "Option 'dry-run' takes a boolean")))
        self.assertIsNone(self.journal())

    def test_owner_from_the_journal(self):
        group, named = self.shared_group()
        members = self.host.members(group)
        self.restart_with_journal(json.dumps({
                'version': 1,
                'claims': [{'group': group, 'owner': 'win11',
                            'devices': [{'address': d.address, 'host_driver': d.driver}
                                        for d in members]}],
                'intents': []}))
        listed = {g['id']: g for g in self.harness.iommuctl_json('list')['groups']}
        self.assertEqual(listed[group]['owner'], 'win11')
        # The devices are still on their host drivers: someone moved them, and it is said.
        self.assertEqual(listed[group]['state'], 'inconsistent')
        self.assertIn('moved by hand', self.harness.daemon.errors())
        self.refused(['assign', 'linux', named], 'Owned', "owned by 'win11'")
        self.refused(['release', 'linux', named], 'NotOwner', "not owned by 'linux'")
        self.refused(['rebind', named, 'vfio-pci'], 'Owned', 'release it first')

    def test_corrupt_journal_is_moved_aside(self):
        self.restart_with_journal('{"version": 1, "claims": [')
        self.assertIn('The journal is corrupt', self.harness.daemon.errors())
        aside = glob.glob(self.harness.daemon.journal + '.corrupt-*')
        self.assertEqual(len(aside), 1, 'the corrupt journal was not kept aside')
        with open(aside[0], encoding='utf-8') as f:
            self.assertEqual(f.read(), '{"version": 1, "claims": [')
        self.assertEqual(self.harness.iommuctl_json('list')['source'], 'daemon')

    def test_journal_json_c_alone_would_take_is_corrupt(self):
        group, _ = self.shared_group()
        claim = {'group': group, 'owner': 'win11', 'devices': []}
        good = json.dumps({'version': 1, 'claims': [claim], 'intents': []})
        for text, why in ((good + ' }', 'unexpected content after the JSON document'),
                          (good[:-1] + ', "claims": []}', "duplicate key 'claims'")):
            with self.subTest(text=text):
                for old in glob.glob(self.harness.daemon.journal + '.corrupt-*'):
                    os.unlink(old)
                self.restart_with_journal(text)
                self.assertIn(why, self.harness.daemon.errors())
                self.assertEqual(len(glob.glob(self.harness.daemon.journal + '.corrupt-*')), 1)
                listed = {g['id']: g for g in self.harness.iommuctl_json('list')['groups']}
                self.assertFalse(listed[group].get('owner'), 'a corrupt journal was believed')


if __name__ == '__main__':
    sys.exit(host_main(ChangeTest, sys.argv))
