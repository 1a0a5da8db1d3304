#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Authorization: an unprivileged caller's change is asked of polkit (a python-dbusmock
polkitd on the private bus): denied, it is AccessDenied and nothing happens; allowed, the
dry run answers; force stays the administrator's whatever polkit says. Root needs no polkit.
Usage: test-auth.py tests/hosts/NAME (a host with 0000:01:00.0, like desktop)."""

import os
import subprocess
import sys

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

    def as_nobody(self, *args):
        # The daemon's side is what is tested: the caller needs the bus, not the testbed.
        env = self.harness.bus.env(plain_env())
        return subprocess.run([build_path('IOMMUCTL'), *args], capture_output=True, text=True,
                              env=env, timeout=60, user=NOBODY, group=NOBODY)

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

    def test_reading_needs_no_authorization(self):
        self.allow()
        result = self.as_nobody('--json', 'list')
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('"source": "daemon"', result.stdout)
        result = self.as_nobody('policy', 'reload')
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn('org.iommud1.policy', result.stderr)


if __name__ == '__main__':
    sys.exit(host_main(AuthTest, sys.argv))
