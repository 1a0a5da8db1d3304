#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Authorization: an unprivileged caller's change is asked of polkit (a python-dbusmock
polkitd on the private bus): denied, it is AccessDenied and nothing happens; allowed, the
dry run answers; force stays the administrator's whatever polkit says; Rebind has its own
action. Root needs no polkit. The question is asked before the arguments are read (a call
with 10^6 names is refused at once) and without blocking the daemon (a hanging polkit holds
up only its caller), with interaction when the caller allows it. A space's layout is its
creator's: a stranger's write translation marks nothing dirty.
Usage: test-auth.py tests/hosts/NAME (a host with 0000:01:00.0, like desktop)."""

import json
import os
import subprocess
import sys
import threading
import time

from harness import HostCase, build_path, host_main, plain_env, stop, wait_for

DEVICE = '0000:01:00.0'
NOBODY = 65534


class AuthTest(HostCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.harness.bus.env(plain_env())
        cls.polkitd = subprocess.Popen(['/usr/bin/python3', '-m', 'dbusmock', '--system',
                                        '--template', 'polkitd'], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        cls.addClassCleanup(stop, cls.polkitd)
        wait_for(lambda: cls.harness.bus.has_owner('org.freedesktop.PolicyKit1'),
                 'the mock polkitd to own its name')
        # The unprivileged caller must reach the bus socket (mkdtemp made its directory 0700).
        os.chmod(cls.harness.bus.dir, 0o755)

    def allow(self, *actions):
        self.harness.bus.busctl('call', 'org.freedesktop.PolicyKit1',
                                '/org/freedesktop/PolicyKit1/Authority',
                                'org.freedesktop.DBus.Mock', 'SetAllowed', 'as',
                                str(len(actions)), *actions)

    def polkit(self, method, signature='', *args):
        self.harness.bus.busctl('call', 'org.freedesktop.PolicyKit1',
                                '/org/freedesktop/PolicyKit1/Authority',
                                'org.freedesktop.DBus.Mock', method, signature, *args)

    def tearDown(self):
        self.polkit('SimulateHang', 'b', 'false')
        self.polkit('ReleaseHangingCalls')

    def run_as_nobody(self, program, *args):
        # The daemon's side is what is tested: the caller needs the bus, not the testbed.
        env = self.harness.bus.env(plain_env())
        return subprocess.run([program, *args], capture_output=True, text=True, env=env,
                              timeout=60, user=NOBODY, group=NOBODY)

    def as_nobody(self, *args):
        return self.run_as_nobody(build_path('IOMMUCTL'), *args)

    def checks_asked(self):
        """The flags of every CheckAuthorization the mock polkitd answered, in order."""
        out = self.harness.bus.busctl('--json=short', 'call', 'org.freedesktop.PolicyKit1',
                                      '/org/freedesktop/PolicyKit1/Authority',
                                      'org.freedesktop.DBus.Mock', 'GetMethodCalls', 's',
                                      'CheckAuthorization').stdout
        return [(call[1][1]['data'], call[1][3]['data']) for call in json.loads(out)['data'][0]]

    def test_denied_unless_polkit_allows(self):
        self.allow()
        result = self.as_nobody('--dry-run', 'assign', 'win11', DEVICE)
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn('AccessDenied', result.stderr)
        self.assertIn('org.iommud1.manage', result.stderr)
        self.allow('org.iommud1.manage')
        result = self.as_nobody('--dry-run', 'assign', 'win11', DEVICE)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('Dry run: nothing was changed', result.stdout)

    def test_force_is_for_administrators(self):
        self.allow('org.iommud1.manage')
        result = self.as_nobody('--dry-run', '--force', 'assign', 'win11', DEVICE)
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn('Only an administrator may force a change', result.stderr)
        # Root may: the daemon learnt who called from the bus before the call went through.
        result = self.harness.iommuctl('--dry-run', '--force', 'assign', 'win11', DEVICE)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_reading_needs_no_authorization(self):
        self.allow()
        result = self.as_nobody('--json', 'list')
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('"source": "daemon"', result.stdout)
        # Export shows what GetManagedObjects shows, arranged for orchestrators.
        result = self.as_nobody('export', 'prometheus')
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('iommud_groups ', result.stdout)
        result = self.as_nobody('policy', 'reload')
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn('org.iommud1.policy', result.stderr)

    def test_rebind_has_its_own_action(self):
        self.allow('org.iommud1.manage')
        result = self.as_nobody('--dry-run', 'rebind', DEVICE, 'vfio-pci')
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn('Not authorized for org.iommud1.rebind', result.stderr)
        self.allow('org.iommud1.rebind')
        result = self.as_nobody('--dry-run', 'rebind', DEVICE, 'vfio-pci')
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_huge_call_refused_before_it_is_read(self):
        self.allow()
        result = self.run_as_nobody(build_path('CALL_FLOOD'), '1000000',
                                    str(self.harness.daemon.process.pid))
        self.assertEqual(result.returncode, 0, result.stderr)
        answer = json.loads(result.stdout)
        print(f'# 10^6 names: AccessDenied after {answer["ms"]} ms, {answer["cpu_ms"]} ms of the '
              f'daemon\'s CPU; Ping with the same bytes {answer["baseline_ms"]} ms, '
              f'{answer["baseline_cpu_ms"]} ms of CPU; a bystander answered after '
              f'{answer["other_ms"]} ms')
        self.assertEqual(answer['error'], 'org.freedesktop.DBus.Error.AccessDenied')
        # What the daemon adds to receiving the bytes: the names are never read. (The wall
        # clock is mostly dbus-daemon copying 20 MB, and the machine's load.)
        self.assertLess(answer['cpu_ms'], 100)
        self.assertLess(answer['cpu_ms'] - answer['baseline_cpu_ms'], 30)

    def test_polkit_is_asked_without_blocking(self):
        self.allow('org.iommud1.manage')
        self.polkit('SimulateHang', 'b', 'true')
        result = {}
        caller = threading.Thread(target=lambda: result.update(
            done=self.as_nobody('--dry-run', 'assign', 'win11', DEVICE)))
        caller.start()
        wait_for(lambda: self.polkit_hanging(), 'the daemon to ask polkit')
        # polkit has not answered: the daemon serves everyone else meanwhile.
        start = time.monotonic()
        explained = self.as_nobody('explain', DEVICE, '--guest', 'win11')
        self.assertEqual(explained.returncode, 0, explained.stderr)
        self.assertLess(time.monotonic() - start, 10)
        self.assertTrue(caller.is_alive(), 'the caller was answered before polkit was')
        self.polkit('ReleaseHangingCalls')
        caller.join(60)
        self.assertEqual(result['done'].returncode, 0, result['done'].stderr)
        self.assertIn('Dry run: nothing was changed', result['done'].stdout)

    def polkit_hanging(self):
        out = self.harness.bus.busctl('call', 'org.freedesktop.PolicyKit1',
                                      '/org/freedesktop/PolicyKit1/Authority',
                                      'org.freedesktop.DBus.Mock', 'HaveHangingCalls').stdout
        return out.strip() == 'b true'

    def test_interaction_is_passed_through(self):
        self.allow('org.iommud1.manage')
        self.as_nobody('--dry-run', 'assign', 'win11', DEVICE)
        self.as_nobody('--no-ask-password', '--dry-run', 'assign', 'win11', DEVICE)
        interactive = subprocess.run(
            ['script', '-qec', ' '.join([build_path('IOMMUCTL'), '--dry-run', 'assign',
                                          'win11', DEVICE]), '/dev/null'],
            capture_output=True, text=True, timeout=60, user=NOBODY, group=NOBODY,
            env=self.harness.bus.env(plain_env()), stdin=subprocess.DEVNULL)
        self.assertEqual(interactive.returncode, 0, interactive.stdout + interactive.stderr)
        self.assertEqual(self.checks_asked()[-3:], [('org.iommud1.manage', 0),
                                                    ('org.iommud1.manage', 0),
                                                    ('org.iommud1.manage', 1)])


if __name__ == '__main__':
    sys.exit(host_main(AuthTest, sys.argv))
