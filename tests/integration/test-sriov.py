#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""SetVFs and `iommuctl sriov` on a umockdev host with an SR-IOV PF (its VFs enabled): every
refusal named and harmless, the dry run, and the writes in the order the kernel needs them
(sriov_drivers_autoprobe 0 before sriov_numvfs when the policy gives the VFs to vfio-pci, 0
before a new count, autoprobe set back), watched with inotify as they land in the testbed;
the policy's sriov_numvfs at start. umockdev makes no VFs from a write: the vm tier (the
sriov scenario) proves what the kernel does with them.
Usage: test-sriov.py tests/hosts/NAME (a host with an SR-IOV PF, VFs enabled)."""

import ctypes
import json
import os
import struct
import sys
import tempfile
import unittest

from harness import BUS_NAME, Daemon, Harness, host_main, wait_for
from host import Host
from testbed import Testbed

EXIT_REFUSED = 1
EXIT_USAGE = 2
IN_MODIFY = 0x2
IN_CLOSE_WRITE = 0x8
SRIOV_FILES = ('sriov_drivers_autoprobe', 'sriov_numvfs')


class Inotify:
    """The files written in some directories, in order: (directory label, file). It watches
    IN_MODIFY too: the kernel merges an event with the identical one before it, and two
    writes of one file in a row would otherwise show as one."""

    def __init__(self, dirs):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), 'inotify_init1')
        self.labels = {}
        for label, path in dirs.items():
            wd = self.libc.inotify_add_watch(self.fd, path.encode(),
                                             IN_MODIFY | IN_CLOSE_WRITE)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f'inotify_add_watch {path}')
            self.labels[wd] = label

    def events(self):
        found = []
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return found
        offset = 0
        while offset < len(data):
            wd, mask, _, length = struct.unpack_from('iIII', data, offset)
            name = data[offset + 16:offset + 16 + length].rstrip(b'\0').decode()
            if mask & IN_CLOSE_WRITE:
                found.append((self.labels[wd], name))
            offset += 16 + length
        return found

    def close(self):
        os.close(self.fd)


class SriovTest(unittest.TestCase):
    host_stem = None

    def setUp(self):
        self.host = Host(self.host_stem)
        self.pf = next(d for d in self.host.devices if 'sriov_totalvfs' in d.attributes)
        self.vfs = sorted(d.address for d in self.host.devices
                          if d.link_target('physfn') and
                          os.path.basename(d.link_target('physfn')) == self.pf.address)
        self.testbed = Testbed(self.host)
        self.addCleanup(self.testbed.close)
        # The VFs sit on vfio-pci already: the policy's autobind has nothing to do with them
        # at start, and umockdev could not bind them anyway.
        for vf in self.vfs:
            self.testbed.bind(self.host.by_address[vf].devpath, 'vfio-pci')
        self.write(self.pf.address, 'sriov_drivers_autoprobe', '1\n')
        self.policy_dir = tempfile.mkdtemp(prefix='iommud-sriov-policy.')
        self.harness = None

    def tearDown(self):
        if self.harness:
            self.harness.close()
        for name in os.listdir(self.policy_dir):
            os.unlink(os.path.join(self.policy_dir, name))
        os.rmdir(self.policy_dir)

    def diagnostics(self):
        return self.harness.diagnostics() if self.harness else ''

    def sysfs_dir(self, address):
        return self.testbed.sys + self.host.by_address[address].devpath

    def read(self, address, name):
        with open(os.path.join(self.sysfs_dir(address), name), encoding='utf-8') as f:
            return f.read().strip()

    def write(self, address, name, value):
        with open(os.path.join(self.sysfs_dir(address), name), 'w', encoding='utf-8') as f:
            f.write(value)

    def start(self, rules=()):
        with open(os.path.join(self.policy_dir, 'test.json'), 'w', encoding='utf-8') as f:
            json.dump({'rules': [
                {'id': 'allow-all', 'match': {}, 'guests': ['*'], 'action': 'allow'},
                *rules]}, f)
        self.harness = Harness(self.testbed, start_daemon=False)
        self.harness.daemon = Daemon(self.testbed, self.harness.bus, policy_dir=self.policy_dir)

    def vfio_rule(self):
        return {'id': 'vfs-to-vfio', 'match': {'vfs_of': self.pf.address}, 'guests': ['vm'],
                'action': 'allow', 'options': {'autobind': True}}

    def state(self):
        return ([self.read(self.pf.address, n) for n in SRIOV_FILES],
                [self.read(vf, 'driver_override') for vf in self.vfs])

    def refused(self, args, error, mention, code=EXIT_REFUSED):
        before = self.state()
        result = self.harness.iommuctl(*args)
        with self.subTest(args=args):
            self.assertEqual(result.returncode, code, result.stderr)
            if error:
                self.assertIn(f'({error})', result.stderr)
            self.assertIn(mention, result.stderr)
            self.assertEqual(self.state(), before, 'a refused change wrote to sysfs')

    # The tests.

    def test_refusals_are_named_and_write_nothing(self):
        self.start([self.vfio_rule()])
        pf = self.pf.address
        self.refused(['sriov', pf, '3'], 'InvalidArgument', 'at most 2 VFs (sriov_totalvfs)')
        self.refused(['sriov', self.vfs[0], '1'], 'InvalidArgument', f'is a VF')
        not_sriov = next(d.address for d in self.host.devices
                         if d.address != pf and d.address not in self.vfs)
        self.refused(['sriov', not_sriov, '1'], 'InvalidArgument', 'no SR-IOV capability')
        self.refused(['sriov', '0000:7f:1f.7', '1'], 'NotFound', '0000:7f:1f.7')
        self.refused(['sriov', pf, 'two'], None, "'two' is not a number of VFs", EXIT_USAGE)
        self.refused(['sriov', pf, '1x'], None, "'1x' is not a number of VFs", EXIT_USAGE)
        self.refused(['--force', 'sriov', pf, '1'], None, '--force does not apply', EXIT_USAGE)
        for options, message in ((['1', 'force', 'b', 'true'], "'force' does not go with SetVFs"),
                                 (['1', 'uuid', 's', 'x'], "Option 'uuid'"),
                                 (['1', 'bogus', 'b', 'true'], "Unknown option 'bogus'")):
            result = self.harness.bus.busctl('call', BUS_NAME, '/org/iommud1',
                                             'org.iommud1.Manager', 'SetVFs', 'sua{sv}', pf,
                                             '1', *options, check=False)
            with self.subTest(options=options):
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(message, result.stderr)

    def test_owned_vf_refuses_the_change(self):
        vf = self.vfs[0]
        group = self.host.by_address[vf].group
        self.start()
        self.harness.daemon.close()
        with open(self.harness.daemon.journal, 'w', encoding='utf-8') as f:
            json.dump({'version': 1, 'intents': [],
                       'claims': [{'group': group, 'owner': 'win11',
                                   'devices': [{'address': vf, 'host_driver': ''}]}]}, f)
        self.harness.daemon = Daemon(self.testbed, self.harness.bus, policy_dir=self.policy_dir)
        mention = f"{self.pf.address}'s VF {vf} is owned by 'win11'"
        self.refused(['sriov', self.pf.address, '0'], 'Owned', mention)
        self.refused(['--dry-run', 'sriov', self.pf.address, '1'], 'Owned', mention)

    def test_quarantined_vf_refuses_the_change(self):
        # Destroying a quarantined VF would leave a record no release could clear.
        vf = self.vfs[0]
        group = self.host.by_address[vf].group
        self.start()
        self.harness.daemon.close()
        with open(self.harness.daemon.journal, 'w', encoding='utf-8') as f:
            json.dump({'version': 1, 'intents': [], 'claims': [],
                       'quarantined': [{'group': group, 'reason': 'reset failed',
                                        'devices': [{'address': vf, 'host_driver': ''}]}]}, f)
        self.harness.daemon = Daemon(self.testbed, self.harness.bus, policy_dir=self.policy_dir)
        mention = f'{vf} (of {self.pf.address}) is quarantined'
        self.refused(['sriov', self.pf.address, '0'], 'Owned', mention)

    def test_dry_run_answers_the_writes_and_makes_none(self):
        self.start([self.vfio_rule()])
        before = self.state()
        result = self.harness.iommuctl_json('--dry-run', 'sriov', self.pf.address, '1')
        base = f'/sys/bus/pci/devices/{self.pf.address}'
        self.assertEqual(result['dry_run'], True)
        self.assertEqual([(w['path'], w['value']) for w in result['writes']], [
                (f'{base}/sriov_drivers_autoprobe', '0'),
                (f'{base}/sriov_numvfs', '0'),
                (f'{base}/sriov_numvfs', '1'),
                (f'/sys/bus/pci/devices/{self.vfs[0]}/driver_override', 'vfio-pci'),
                (f'{base}/sriov_drivers_autoprobe', '1')])
        self.assertEqual(self.state(), before, 'a dry run wrote to sysfs')
        human = self.harness.iommuctl('--dry-run', 'sriov', self.pf.address, '1')
        self.assertEqual(human.returncode, 0, human.stderr)
        self.assertIn('Dry run: nothing was changed', human.stdout)

    def test_writes_in_the_order_the_kernel_needs(self):
        self.start([self.vfio_rule()])
        watch = Inotify({'pf': self.sysfs_dir(self.pf.address),
                         'vf': self.sysfs_dir(self.vfs[0])})
        self.addCleanup(watch.close)
        result = self.harness.iommuctl('sriov', self.pf.address, '1')
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('Written, in this order:', result.stdout)
        events = [e for e in watch.events() if e[1] in (*SRIOV_FILES, 'driver_override')]
        self.assertEqual(events, [('pf', 'sriov_drivers_autoprobe'), ('pf', 'sriov_numvfs'),
                                  ('pf', 'sriov_numvfs'), ('vf', 'driver_override'),
                                  ('pf', 'sriov_drivers_autoprobe')])
        self.assertEqual(self.state(), (['1', '1'], ['vfio-pci', '(null)']))
        # The same count again writes nothing.
        again = self.harness.iommuctl_json('sriov', self.pf.address, '1')
        self.assertEqual(again['writes'], [])

    def test_without_vfio_autoprobe_is_left_alone(self):
        self.start()
        result = self.harness.iommuctl_json('sriov', self.pf.address, '1')
        base = f'/sys/bus/pci/devices/{self.pf.address}'
        self.assertEqual([(w['path'], w['value']) for w in result['writes']],
                         [(f'{base}/sriov_numvfs', '0'), (f'{base}/sriov_numvfs', '1')])
        self.assertEqual(self.state(), (['1', '1'], ['(null)', '(null)']))

    def test_policy_makes_vfs_at_start(self):
        self.start([{'id': 'pf-vfs', 'match': {'address': self.pf.address}, 'guests': ['*'],
                     'action': 'deny', 'options': {'sriov_numvfs': 1}}])
        wait_for(lambda: self.read(self.pf.address, 'sriov_numvfs') == '1',
                 'the policy to give the PF 1 VF')
        self.assertIn(f"rule 'pf-vfs'", self.harness.daemon.errors())
        self.assertIn(f'gives {self.pf.address} 1 VFs', self.harness.daemon.errors())

    def test_policy_option_is_validated(self):
        self.start()
        cases = (({'address': self.pf.address}, 0, 'must be 1-65535'),
                 ({'address': self.pf.address}, 'two', 'a whole number'),
                 ({'vfs_of': self.pf.address}, 2, 'a rule matching VFs (vfs_of) cannot make VFs'))
        for match, count, message in cases:
            path = os.path.join(self.policy_dir, 'check.json')
            with open(path, 'w', encoding='utf-8') as f:
                json.dump({'rules': [{'id': 'x', 'match': match, 'guests': ['*'],
                                      'action': 'deny', 'options': {'sriov_numvfs': count}}]}, f)
            result = self.harness.iommuctl('policy', 'check', path)
            os.unlink(path)
            with self.subTest(count=count):
                self.assertEqual(result.returncode, EXIT_REFUSED, result.stderr)
                self.assertIn(message, result.stdout + result.stderr)


if __name__ == '__main__':
    sys.exit(host_main(SriovTest, sys.argv))
