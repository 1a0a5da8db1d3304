#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Between owners, on a umockdev host whose NIC is on vfio-pci (so that assign and release
run to the end without a kernel): a release resets the device with the policy's method and
says so in the reply, the journal and the Device; disable_d3cold keeps d3cold_allowed at 0
while the guest owns the device, puts back what it was at release, and keeps it 0 when a
release fails after its reset and is undone; a reset that fails, or quarantine_after,
quarantines the group (kept from assign with Quarantined, across a restart) until
`release --from-quarantine`; logind's sleep inhibitor (python-dbusmock's logind on the
private bus) is held while a guest owns a group, dropped at the last release and when the
daemon dies, let go for sleep and taken again at wake-up in "delay" mode, and never taken
with sleep_inhibit "none".
Usage: test-reset.py tests/hosts/vfio."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from harness import BUS_NAME, Daemon, HostCase, host_main, plain_env, stop, wait_for
from json_schema import DOCUMENTS, check

NIC = '0000:01:00.0'
GROUP = 11
EXIT_REFUSED = 1
LOGIND = ('org.freedesktop.login1', '/org/freedesktop/login1', 'org.freedesktop.login1.Manager')


class ResetTest(HostCase):
    per_test = True

    def setUp(self):
        # Removed after the daemon stops (cleanups run last first): it writes there to the end.
        self.metrics_dir = tempfile.mkdtemp(prefix='iommud-metrics.')
        self.addCleanup(shutil.rmtree, self.metrics_dir, True)
        super().setUp()
        self.device_dir = self.testbed.sys + self.host.by_address[NIC].devpath
        # What the kernel has and umockdev leaves out: the reset attribute, drivers_probe,
        # and the group's VFIO node that an assignment waits for.
        with open(f'{self.device_dir}/reset', 'w', encoding='utf-8'):
            pass
        with open(f'{self.device_dir}/d3cold_allowed', 'w', encoding='utf-8') as f:
            f.write('1\n')
        with open(f'{self.testbed.sys}/bus/pci/drivers_probe', 'w', encoding='utf-8'):
            pass
        self.testbed.add_device(f'P: /devices/virtual/vfio/{GROUP}\nN: vfio/{GROUP}\n'
                                f'E: SUBSYSTEM=vfio\nE: DEVNAME=/dev/vfio/{GROUP}\n'
                                f'A: dev=243:{GROUP}\n')
        self.logind = subprocess.Popen(
            ['/usr/bin/python3', '-m', 'dbusmock', '--system', '--template', 'logind'],
            env=self.harness.bus.env(plain_env()), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self.addCleanup(stop, self.logind)
        wait_for(lambda: self.harness.bus.has_owner(LOGIND[0]), 'the mock logind')
        self.policy_dir = tempfile.mkdtemp(prefix='iommud-policy.')
        self.addCleanup(shutil.rmtree, self.policy_dir, True)
        self.restart()

    def restart(self, sleep_inhibit=None, kill=False):
        """(Re)starts iommud on a policy with a rule per guest: win11 gets a FLR, lab is
        quarantined after, bad asks for a method the NIC does not offer, cold keeps D3cold off."""
        rules = [{'id': guest, 'match': {'address': NIC}, 'guests': [guest], 'action': 'allow',
                  'options': options}
                 for guest, options in (('win11', {'reset_method': 'flr'}),
                                        ('lab', {'quarantine_after': True}),
                                        ('bad', {'reset_method': 'pm'}),
                                        ('cold', {'reset_method': 'flr',
                                                  'disable_d3cold': True}))]
        policy = {'rules': rules}
        if sleep_inhibit:
            policy['sleep_inhibit'] = sleep_inhibit
        with open(os.path.join(self.policy_dir, 'policy.json'), 'w', encoding='utf-8') as f:
            json.dump(policy, f)
        if kill:
            self.harness.daemon.process.send_signal(signal.SIGKILL)
        self.harness.daemon.close()
        self.harness.daemon = Daemon(
                self.testbed, self.harness.bus, policy_dir=self.policy_dir,
                args=[f'--metrics-file={self.metrics_dir}/iommud.prom'])

    # What the tests look at.

    def ok(self, *args):
        result = self.harness.iommuctl(*args)
        self.assertEqual(result.returncode, 0, f'iommuctl {args}: {result.stderr}')
        return result.stdout

    def plan(self, *args):
        """The plan of iommuctl --json ARGS, checked against the schema of iommuctl(1)."""
        document = json.loads(self.ok('--json', *args))
        self.assertEqual(check(DOCUMENTS['assign, release, rebind'], document), [], document)
        return document['plan']

    def group(self, name):
        objects = self.harness.managed_objects()
        return objects[f'/org/iommud1/group/{GROUP}']['org.iommud1.Group'][name]

    def device(self, name):
        objects = self.harness.managed_objects()
        return objects['/org/iommud1/device/' + NIC.replace(':', '_').replace('.', '_')][
            'org.iommud1.Device'][name]

    def journal(self):
        with open(self.harness.daemon.journal, encoding='utf-8') as f:
            return json.load(f)

    def attribute(self, name):
        with open(f'{self.device_dir}/{name}', encoding='utf-8') as f:
            return f.read()

    def d3cold(self):
        """d3cold_allowed: the testbed's file keeps the bytes past a shorter write."""
        return self.attribute('d3cold_allowed')[0]

    def quarantined_in_metrics(self):
        """iommud_groups_quarantined in the metrics file the daemon keeps written."""
        with open(f'{self.metrics_dir}/iommud.prom', encoding='utf-8') as f:
            return next(int(line.split()[1]) for line in f
                        if line.startswith('iommud_groups_quarantined '))

    def inhibitors(self):
        reply = self.harness.bus.busctl_json('call', *LOGIND, 'ListInhibitors')
        return [tuple(i[:4]) for i in reply['data'][0]]

    def manager_property(self, name):
        reply = self.harness.bus.busctl_json('get-property', BUS_NAME, '/org/iommud1',
                                             'org.iommud1.Manager', name)
        return reply['data']

    # The tests.

    def test_release_resets_with_the_policys_method(self):
        # explain tells before the assignment what its release will do.
        self.assertIn('a release resets it with flr', self.ok('explain', NIC, '--guest', 'win11'))
        self.assertIn('then quarantines its group', self.ok('explain', NIC, '--guest', 'lab'))
        self.ok('assign', 'win11', NIC)
        self.assertEqual(self.device('ResetMethod'), 'flr')
        self.assertIn('Reset on release:    flr', self.ok('show', NIC))
        plan = self.plan('release', 'win11')
        self.assertEqual([(row['address'], row['reset'], row['quarantine']) for row in plan],
                         [(NIC, {'method': 'flr', 'result': 'ok'}, None)])
        # The kernel was asked: 1 written to reset, and reset_method as it was.
        self.assertEqual(self.attribute('reset'), '1')
        self.assertEqual(self.attribute('reset_method'), 'flr bus\n')
        self.assertEqual(self.journal()['resets'],
                         [{'address': NIC, 'method': 'flr', 'result': 'ok'}])
        self.assertEqual(self.device('LastReset'), ['flr', 'ok'])
        self.assertEqual(self.group('State'), 'host')
        self.assertIn('Last reset:          flr: ok', self.ok('show', NIC))
        # The table says it too.
        self.ok('assign', 'win11', NIC)
        self.assertRegex(self.ok('release', 'win11'), r'flr: ok')

    def test_d3cold_stays_off_while_owned_as_the_policy_says(self):
        self.ok('assign', 'win11', NIC)
        self.assertEqual(self.d3cold(), '1')
        self.assertNotIn('d3cold_was', self.journal()['claims'][0]['devices'][0])
        self.ok('release', 'win11')
        self.ok('assign', 'cold', NIC)
        self.assertEqual(self.d3cold(), '0')
        self.assertEqual(self.journal()['claims'][0]['devices'][0]['d3cold_was'], '1')
        # What it was comes from the journal: a restart between does not lose it.
        self.restart()
        self.ok('release', 'cold')
        self.assertEqual(self.d3cold(), '1')
        self.assertEqual(self.attribute('reset'), '1')
        # Put back as it was found, off included.
        with open(f'{self.device_dir}/d3cold_allowed', 'w', encoding='utf-8') as f:
            f.write('0\n')
        self.ok('assign', 'cold', NIC)
        self.assertEqual(self.journal()['claims'][0]['devices'][0]['d3cold_was'], '0')
        self.ok('release', 'cold')
        self.assertEqual(self.d3cold(), '0')

    def test_a_release_undone_after_its_reset_keeps_d3cold_off(self):
        self.ok('assign', 'cold', NIC)
        self.assertEqual(self.d3cold(), '0')
        # The reset works; the move home after it cannot probe a driver.
        os.unlink(f'{self.testbed.sys}/bus/pci/drivers_probe')
        result = self.harness.iommuctl('release', 'cold')
        self.assertEqual(result.returncode, EXIT_REFUSED, result.stderr)
        self.assertIn('drivers_probe failed', result.stderr)
        self.assertEqual(self.attribute('reset'), '1')
        # The guest keeps the device, and D3cold stays off for it as before.
        self.assertEqual(self.d3cold(), '0')
        self.assertIn('putting it back', self.harness.daemon.errors())

    def test_failed_reset_quarantines_until_an_administrator_lets_go(self):
        self.ok('assign', 'bad', NIC)
        plan = self.plan('release', 'bad')
        self.assertEqual(plan[0]['reset']['method'], 'pm')
        self.assertIn("does not offer 'pm'", plan[0]['reset']['result'])
        self.assertIn("does not offer 'pm'", plan[0]['quarantine'])
        self.assertEqual(plan[0]['to'], 'vfio-pci')
        # It stays on vfio-pci with its override, owned by no one.
        self.assertEqual(self.attribute('driver_override'), 'vfio-pci\n')
        self.assertEqual((self.group('State'), self.group('Owner')), ('quarantined', ''))
        self.assertIn("does not offer 'pm'", self.group('QuarantineReason'))
        # The metrics file counts it within the second export promises.
        wait_for(lambda: self.quarantined_in_metrics() == 1, 'the quarantine in the metrics',
                 deadline=1.0)
        for guest in ('bad', 'win11'):
            result = self.harness.iommuctl('assign', guest, NIC)
            self.assertEqual(result.returncode, EXIT_REFUSED, result.stderr)
            self.assertIn('(Quarantined)', result.stderr)
            self.assertIn('release --from-quarantine', result.stderr)
        explained = self.harness.iommuctl('--json', 'explain', NIC, '--guest', 'win11')
        self.assertEqual(explained.returncode, EXIT_REFUSED, explained.stderr)
        self.assertEqual([r['kind'] for r in json.loads(explained.stdout)['reasons']],
                         ['quarantine'])
        listing = self.harness.iommuctl_json('list')
        self.assertEqual(check(DOCUMENTS['list'], listing), [])
        group = next(g for g in listing['groups'] if g['id'] == GROUP)
        self.assertEqual(group['state'], 'quarantined')
        self.assertIn("does not offer 'pm'", group['quarantine'])
        device = self.harness.iommuctl_json('show', NIC)
        self.assertEqual(check(DOCUMENTS['show DEVICE'], device), [])
        self.assertEqual(device['device']['last_reset']['method'], 'pm')
        # A restart keeps it.
        self.restart()
        self.assertEqual(self.group('State'), 'quarantined')
        self.assertEqual(self.journal()['claims'], [])
        self.assertEqual([q['group'] for q in self.journal()['quarantined']], [GROUP])
        # A release names a guest's group, never a quarantined one.
        result = self.harness.iommuctl('release', '--from-quarantine', 'bad', NIC)
        self.assertEqual(result.returncode, 2, result.stderr)
        # The administrator's release resets in the kernel's order, then lets it go home.
        plan = self.plan('release', '--from-quarantine', NIC)
        self.assertEqual(plan[0]['reset'], {'method': 'default', 'result': 'ok'})
        self.assertIsNone(plan[0]['quarantine'])
        self.assertEqual(self.group('State'), 'host')
        self.assertNotIn('quarantined', self.journal())
        wait_for(lambda: self.quarantined_in_metrics() == 0, 'the metrics without it',
                 deadline=1.0)
        result = self.harness.iommuctl('release', '--from-quarantine', NIC)
        self.assertEqual(result.returncode, EXIT_REFUSED)
        self.assertIn('(NotOwner)', result.stderr)

    def test_no_working_reset_keeps_the_quarantine_unless_forced(self):
        self.ok('assign', 'lab', NIC)
        plan = self.plan('release', 'lab')
        self.assertEqual(plan[0]['reset'], {'method': 'default', 'result': 'ok'})
        self.assertIn('quarantine_after', plan[0]['quarantine'])
        self.assertEqual(self.group('State'), 'quarantined')
        os.unlink(f'{self.device_dir}/reset')
        result = self.harness.iommuctl('release', '--from-quarantine', NIC)
        self.assertEqual(result.returncode, EXIT_REFUSED)
        self.assertIn('(Failed)', result.stderr)
        self.assertIn('offers no reset method', result.stderr)
        self.assertEqual(self.group('State'), 'quarantined')
        self.assertIn('offers no reset method', self.journal()['resets'][0]['result'],
                      self.journal())
        self.ok('--force', 'release', '--from-quarantine', NIC)
        self.assertEqual(self.group('State'), 'host')

    def release_after_the_host_took_it(self, announce):
        """libvirt's managed='yes' reattach puts the device on its host driver before the
        release: the release leaves it there, not reset from under that driver, and keeps no
        quarantine, whether iommud has seen the move (its uevent, @announce) or not yet."""
        self.ok('assign', 'lab', NIC)
        devpath = self.host.by_address[NIC].devpath
        self.testbed.unbind(devpath)
        self.testbed.bind(devpath, 'e1000e')
        if announce:
            self.testbed.uevent(devpath, 'bind')
            wait_for(lambda: self.device('Driver') == 'e1000e', 'iommud to see e1000e')
        plan = self.plan('release', 'lab')
        self.assertEqual([(row['reset'], row['quarantine']) for row in plan], [(None, None)])
        self.assertEqual(self.attribute('reset'), '')
        self.assertIn(f'{NIC}: back on e1000e already, not reset.', self.harness.daemon.errors())
        self.assertEqual((self.group('Owner'), self.group('State')), ('', 'host'))
        self.assertEqual(self.journal().get('quarantined', []), [])

    def test_no_reset_for_a_device_back_on_a_host_driver(self):
        self.release_after_the_host_took_it(announce=False)

    def test_no_reset_for_a_device_iommud_saw_back_on_a_host_driver(self):
        self.release_after_the_host_took_it(announce=True)

    def test_sleep_inhibitor_follows_ownership(self):
        self.assertEqual(self.inhibitors(), [])
        self.assertEqual(self.manager_property('SleepInhibitor'), '')
        self.ok('assign', 'win11', NIC)
        wait_for(lambda: self.inhibitors(), 'the inhibitor')
        [(what, who, _, mode)] = self.inhibitors()
        self.assertEqual((what, who, mode), ('sleep', 'iommud', 'block'))
        self.assertEqual(self.manager_property('SleepInhibitor'), 'block')
        self.assertIn("holds logind's sleep inhibitor (block)", self.ok('list'))
        self.assertEqual(self.harness.iommuctl_json('list')['iommu']['sleep_inhibitor'],
                         'block')
        self.ok('release', 'win11')
        wait_for(lambda: not self.inhibitors(), 'the inhibitor to go')
        self.assertEqual(self.manager_property('SleepInhibitor'), '')
        self.assertNotIn('sleep inhibitor', self.ok('list'))

    def test_sleep_inhibitor_dies_with_the_daemon(self):
        self.ok('assign', 'win11', NIC)
        wait_for(lambda: self.inhibitors(), 'the inhibitor')
        # A restart of a daemon whose guest still owns the group takes it again, in the
        # policy's new mode; a crash drops it (the descriptor closes with the process).
        self.restart(sleep_inhibit='delay', kill=True)
        wait_for(lambda: [i[3] for i in self.inhibitors()] == ['delay'], 'a delay inhibitor')
        self.harness.daemon.process.send_signal(signal.SIGKILL)
        self.harness.daemon.process.wait()
        wait_for(lambda: not self.inhibitors(), 'the inhibitor to go with the daemon')

    def test_delay_lock_lets_go_for_sleep(self):
        """A delay lock is let go at PrepareForSleep(true), as logind asks, and taken again
        when the host wakes."""
        self.restart(sleep_inhibit='delay')
        self.ok('assign', 'win11', NIC)
        wait_for(lambda: [i[3] for i in self.inhibitors()] == ['delay'], 'a delay inhibitor')
        for sleeping, held in (('true', []), ('false', ['delay'])):
            self.harness.bus.busctl('call', LOGIND[0], LOGIND[1], 'org.freedesktop.DBus.Mock',
                                    'EmitSignal', 'sssav', LOGIND[2], 'PrepareForSleep', 'b',
                                    '1', 'b', sleeping)
            wait_for(lambda: [i[3] for i in self.inhibitors()] == held,
                     f'the inhibitors to be {held} after PrepareForSleep({sleeping})')
        self.assertIn('going to sleep while a guest owns a group', self.harness.daemon.errors())

    def test_without_logind(self):
        """A host without logind (a container) assigns all the same, with one warning."""
        stop(self.logind)
        wait_for(lambda: not self.harness.bus.has_owner(LOGIND[0]), 'the mock logind to go')
        self.ok('assign', 'win11', NIC)
        wait_for(lambda: "Cannot take logind's sleep inhibitor" in self.harness.daemon.errors(),
                 'the warning')
        self.ok('policy', 'reload')  # asks for the inhibitor it wants again
        self.assertEqual(self.manager_property('SleepInhibitor'), '')
        self.assertEqual(self.harness.daemon.errors().count("Cannot take logind's"), 1,
                         self.harness.daemon.errors())

    def test_sleep_inhibit_none_takes_nothing(self):
        self.restart(sleep_inhibit='none')
        self.ok('assign', 'win11', NIC)
        self.assertEqual(self.group('Owner'), 'win11')
        self.assertEqual(self.inhibitors(), [])
        self.assertEqual(self.manager_property('SleepInhibitor'), '')


if __name__ == '__main__':
    sys.exit(host_main(ResetTest, sys.argv, preload=True))
