#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iommud-libvirt-hook driven exactly as libvirt drives it (argv GUEST OP SUB-OP -, the domain
XML of tests/libvirt/ on stdin) against the real iommud on a umockdev host: guests without PCI
devices never need the daemon, a denied guest exits 1 naming the rule and nothing moves,
hostile XML is refused naming the place, release agrees with a libvirt that already put
managed='yes' devices home (also before iommud read the uevents), reconnect only reports. (Binding for real is the vm tier's
vm-hook.)
Usage: test-hook.py tests/hosts/NAME (desktop: 0000:01:00.0 and .1 share group 1)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from harness import BUS_NAME, COMMAND_TIMEOUT, Daemon, HostCase, build_path, host_main

HERE = os.path.dirname(os.path.abspath(__file__))
LIBVIRT = os.path.join(HERE, '..', 'libvirt')
GROUP = 1
GPU, AUDIO = '0000:01:00.0', '0000:01:00.1'
UUID = '4a9b3f53-fa2a-47f3-a757-dd87720d9d1d'


def domain_xml(name):
    with open(os.path.join(LIBVIRT, name), encoding='utf-8') as f:
        return f.read()


class HookTest(HostCase):
    per_test = True

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix='iommud-hook.')
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.config = os.path.join(self.dir, 'hook.conf')

    def hook(self, guest, op, sub, xml, bus=None):
        """Runs the hook as libvirt does: the domain XML on stdin, a clean environment but for
        the bus (@bus overrides it) and the hook's settings."""
        env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
               'DBUS_SYSTEM_BUS_ADDRESS': bus or self.harness.bus.address,
               'IOMMUD_HOOK_CONFIG': self.config}
        return subprocess.run([build_path('IOMMUD_HOOK'), guest, op, sub, '-'],
                              input=xml.encode() if isinstance(xml, str) else xml,
                              capture_output=True, env=env, timeout=COMMAND_TIMEOUT)

    def sysfs(self):
        """Every device's driver link and driver_override in the testbed, and the journal."""
        state = {}
        for top, dirs, files in os.walk(os.path.join(self.testbed.sys, 'devices')):
            if 'driver_override' in files:
                with open(os.path.join(top, 'driver_override'), encoding='utf-8') as f:
                    state[top] = [f.read()]
            if os.path.islink(os.path.join(top, 'driver')):
                state.setdefault(top, []).append(os.readlink(os.path.join(top, 'driver')))
        try:
            with open(self.harness.daemon.journal, encoding='utf-8') as f:
                journal = f.read()
        except (FileNotFoundError, AttributeError):
            journal = None
        return state, journal

    def refused(self, guest, xml, *mentions, op='prepare', sub='begin'):
        before = self.sysfs()
        result = self.hook(guest, op, sub, xml)
        stderr = result.stderr.decode()
        self.assertEqual(result.returncode, 1, stderr)
        for text in mentions:
            self.assertIn(text, stderr)
        self.assertEqual(self.sysfs(), before, 'a refused hook call changed sysfs or the journal')
        return stderr

    def restart(self, policy_dir=None, journal=None):
        self.harness.daemon.close()
        if journal is not None:
            with open(self.harness.daemon.journal, 'w', encoding='utf-8') as f:
                json.dump(journal, f)
        kwargs = {'policy_dir': policy_dir} if policy_dir else {}
        self.harness.daemon = Daemon(self.testbed, self.harness.bus, **kwargs)

    def own_group(self, uuid=UUID, recorded=None):
        """A daemon whose journal says win11 holds group 1, the devices back on their host
        drivers with no driver_override: what libvirt leaves behind a managed='yes' guest
        when it has reattached the devices itself before `release end`. The journal records
        the devices' drivers as @recorded, else as they are."""
        claim = {'group': GROUP, 'owner': 'win11',
                 'devices': [{'address': d.address, 'host_driver': recorded or d.driver}
                             for d in self.host.members(GROUP)]}
        if uuid:
            claim['uuid'] = uuid
        self.restart(journal={'version': 1, 'claims': [claim], 'intents': []})

    def group_property(self, name):
        objects = self.harness.managed_objects()
        return objects[f'/org/iommud1/group/{GROUP}']['org.iommud1.Group'][name]

    # The tests.

    def test_no_pci_device_needs_no_daemon(self):
        for name, guest in (('plain.xml', 'plain'), ('usb-only.xml', 'kiosk')):
            for op, sub in (('prepare', 'begin'), ('release', 'end'), ('reconnect', 'begin')):
                result = self.hook(guest, op, sub, domain_xml(name),
                                   bus='unix:path=/nonexistent/bus')
                with self.subTest(name=name, op=op):
                    self.assertEqual(result.returncode, 0, result.stderr.decode())
        # The USB, mdev and SCSI host devices are named in the log, not passed on.
        self.assertIn(b"ignoring <hostdev> #2 (mode 'subsystem', type 'mdev', line 17)",
                      result.stderr)

    def test_other_operations_do_nothing(self):
        before = self.sysfs()
        for op, sub in (('start', 'begin'), ('started', 'begin'), ('stopped', 'end'),
                        ('migrate', 'begin'), ('restore', 'begin'), ('attach', 'begin')):
            result = self.hook('win11', op, sub, domain_xml('win11.xml'))
            with self.subTest(op=op):
                self.assertEqual(result.returncode, 0, result.stderr.decode())
        self.assertEqual(self.sysfs(), before)

    def test_denied_guest_names_the_rule(self):
        policy = os.path.join(self.dir, 'policy.d')
        os.makedirs(policy)
        with open(os.path.join(policy, '10-gpu.json'), 'w', encoding='utf-8') as f:
            json.dump({'rules': [
                    {'id': 'no-gpu-for-win11', 'match': {'address': '0000:01:00.*'},
                     'guests': ['win11'], 'action': 'deny'},
                    {'id': 'the-rest', 'match': {}, 'guests': ['*'], 'action': 'allow'}]}, f)
        self.restart(policy_dir=policy)
        self.refused('win11', domain_xml('win11.xml'), "iommud refused 'win11'",
                     "rule 'no-gpu-for-win11'", '(PolicyDenied)')
        self.assertEqual(self.group_property('Owner'), '')

    def test_default_deny(self):
        empty = os.path.join(self.dir, 'empty')
        os.makedirs(empty)
        self.restart(policy_dir=empty)
        self.refused('router', domain_xml('router.xml'), "'router' may not have 0000:03:00.0",
                     'default deny', '(PolicyDenied)')

    def test_hostile_xml(self):
        bomb = self.refused('&h;', domain_xml('entity-bomb.xml'),
                            '<!DOCTYPE> is not allowed in domain XML')
        self.assertNotIn('aaaa', bomb)
        cases = [
                ('badaddr', domain_xml('bad-address.xml'),
                 "line 15: <hostdev> #2: <source><address bus='0x100'>: bus 0x100 is larger "
                 'than 0xff'),
                ('broken', domain_xml('malformed.xml'),
                 'line 8: not well-formed XML: Opening and ending tag mismatch'),
                ('win11', b'\x00\x01\x02 not XML at all', 'not well-formed XML'),
                ('win11', b' ' * (100 * 1024 * 1024),
                 'the domain XML on stdin is larger than 16777216 bytes'),
                ('linux', domain_xml('win11.xml'), "the domain XML is for 'win11', not 'linux'"),
                ('ghost', domain_xml('absent.xml'), 'no PCI device at 0000:fe:1f.7',
                 '(NotFound)'),
        ]
        for guest, xml, *mentions in cases:
            with self.subTest(guest=guest, mentions=mentions):
                self.refused(guest, xml, *mentions)

    def test_without_the_daemon_prepare_fails_closed(self):
        self.harness.daemon.close()
        self.harness.daemon = None
        result = self.refused('win11', domain_xml('win11.xml'), 'iommud is not running',
                              "'win11' has 2 PCI devices", 'refusing to start it')
        self.assertIn('fail_open = no', result)
        with open(self.config, 'w', encoding='utf-8') as f:
            f.write('# start guests even without iommud\nfail_open = yes\n')
        result = self.hook('win11', 'prepare', 'begin', domain_xml('win11.xml'))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(b'starting it anyway (fail_open = yes)', result.stderr)
        with open(self.config, 'w', encoding='utf-8') as f:
            f.write('fail_open = maybe\n')
        self.refused('win11', domain_xml('win11.xml'),
                     f'{self.config}:1: fail_open: expected yes or no')

    def test_reconnect_confirms_and_moves_nothing(self):
        self.own_group()
        self.assertEqual(self.group_property('OwnerUuid'), UUID)
        before = self.sysfs()
        result = self.hook('win11', 'reconnect', 'begin', domain_xml('win11.xml'))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(b'win11: 2 PCI devices, 0 not held for it by iommud', result.stdout)
        # libvirtd says 'storage' runs with the NVMe, which iommud has for no one: reported.
        result = self.hook('storage', 'reconnect', 'begin', domain_xml('storage.xml'))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(b"'storage' uses 0000:02:00.0, which iommud has for no guest",
                      result.stderr)
        self.assertEqual(self.sysfs(), before, 'reconnect changed sysfs or the journal')

    def release_finds_them_home(self):
        """`release end` of win11 once libvirt put group 1 back on its host drivers: no second
        unbind, nothing written to sysfs, the ownership closed."""
        state, _ = self.sysfs()
        result = self.hook('win11', 'release', 'end', domain_xml('win11.xml'))
        self.assertEqual(result.returncode, 0, result.stderr)
        # The plan is worded from iommud's data: the device named, and its peer.
        self.assertIn(f'win11: {GPU} amdgpu -> amdgpu (named)\n'.encode(), result.stdout)
        self.assertIn(f'win11: {AUDIO} snd_hda_intel -> snd_hda_intel (group peer of {GPU})\n'
                      .encode(), result.stdout)
        self.assertEqual(self.sysfs()[0], state)
        self.assertEqual(self.group_property('Owner'), '')

    def test_release_after_libvirt_reattached(self):
        self.own_group()
        self.release_finds_them_home()
        self.assertEqual(self.group_property('OwnerUuid'), '')
        with open(self.harness.daemon.journal, encoding='utf-8') as f:
            self.assertEqual(json.load(f)['claims'], [])
        # A second release end (libvirt retries, or the guest never got its devices): fine.
        result = self.hook('win11', 'release', 'end', domain_xml('win11.xml'))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(b"'win11' owns no IOMMU group", result.stdout)

    def test_release_leaves_what_libvirt_reattached_where_it_is(self):
        # Adopted while libvirt had them on vfio-pci (managed='yes' without the hook), the
        # devices' recorded driver is vfio-pci; libvirt reattached them before the release:
        # they stay on their host drivers.
        self.own_group(recorded='vfio-pci')
        state, _ = self.sysfs()
        result = self.hook('win11', 'release', 'end', domain_xml('win11.xml'))
        self.assertEqual(result.returncode, 0, result.stderr)
        # The reply says where they stay, not where the journal would have sent them.
        self.assertIn(f'win11: {GPU} amdgpu -> amdgpu (named)\n'.encode(), result.stdout)
        self.assertEqual(self.sysfs()[0], state)
        self.assertEqual(self.group_property('Owner'), '')
        self.assertIn(f'IOMMU group {GROUP}: {GPU} is back on amdgpu already; left there.',
                      self.harness.daemon.errors())

    def test_release_starts_from_sysfs_not_a_lagging_inventory(self):
        # libvirt reattached the devices (unbind, then drivers_probe) right before `release
        # end`, and iommud has not read the bind's uevent yet: its inventory still has them
        # unbound. The release starts from what sysfs shows and says so.
        members = self.host.members(GROUP)
        for d in members:
            self.testbed.unbind(d.devpath)
        self.own_group()
        for d in members:
            self.testbed.bind(d.devpath, d.driver)  # no uevent: the inventory lags
        self.release_finds_them_home()

    def test_uuid_option_is_checked(self):
        self.assert_assign_options_refused(GPU, (
                (['1', 'uuid', 's', 'nonsense'], "'nonsense' is not a UUID"),
                (['1', 'uuid', 'b', 'true'], "Option 'uuid' takes a string")))
        result = self.harness.bus.busctl(
                'call', BUS_NAME, '/org/iommud1', 'org.iommud1.Manager', 'Release',
                'sasa{sv}', 'win11', '0', '1', 'uuid', 's', UUID, check=False)
        self.assertIn("Option 'uuid' goes with Assign only", result.stderr)


if __name__ == '__main__':
    sys.exit(host_main(HookTest, sys.argv))
