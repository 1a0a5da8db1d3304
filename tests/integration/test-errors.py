#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iommuctl's failures, through the daemon and --offline: unknown or malformed devices and
groups exit 1 with one message naming the argument; usage errors exit 2 without the help text.
Usage: test-errors.py tests/hosts/NAME (a host with IOMMU groups)."""

import sys
import unittest

import tap
from harness import Harness
from host import Host
from testbed import Testbed

HOST_STEM = None        # set by main()
EXIT_REFUSED, EXIT_USAGE = 1, 2


class ErrorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.host = Host(HOST_STEM)
        cls.testbed = Testbed(cls.host)
        cls.addClassCleanup(cls.testbed.close)
        cls.harness = Harness(cls.testbed)
        cls.addClassCleanup(cls.harness.close)

    def diagnostics(self):
        return self.harness.diagnostics()

    def check_fails(self, args, status, mentions=None):
        for prefix in ([], ['--offline']):
            with self.subTest(args=prefix + args):
                result = self.harness.iommuctl(*prefix, *args)
                self.assertEqual(result.returncode, status, result.stderr)
                self.assertEqual(result.stdout, '', 'a failure prints nothing on stdout')
                lines = result.stderr.splitlines()
                self.assertEqual(len(lines), 1, f'one message expected:\n{result.stderr}')
                self.assertTrue(lines[0].startswith('iommuctl: '), lines[0])
                self.assertNotIn('Usage:', result.stderr)
                if mentions is not None:
                    self.assertIn(mentions, lines[0])

    def absent_address(self):
        present = set(self.host.by_address)
        return next(f'0000:{bus:02x}:1f.7' for bus in range(0x80, 0x100)
                    if f'0000:{bus:02x}:1f.7' not in present)

    def test_show_malformed_address(self):
        self.check_fails(['show', '99:99.9'], EXIT_REFUSED, '99:99.9')

    def test_show_nonsense(self):
        self.check_fails(['show', 'nonsense'], EXIT_REFUSED, 'nonsense')

    def test_show_absent_device(self):
        address = self.absent_address()
        self.check_fails(['show', address], EXIT_REFUSED, address)

    def test_show_unknown_group(self):
        group = str(max(self.host.groups) + 1000)
        self.check_fails(['show', group], EXIT_REFUSED, group)

    def test_usage_errors(self):
        for args in ([], ['show'], ['show', '1', '2'], ['list', 'extra'], ['frobnicate'],
                     ['--frobnicate', 'list']):
            self.check_fails(args, EXIT_USAGE)

    def test_help(self):
        result = self.harness.iommuctl('--help')
        self.assertEqual(result.returncode, 0, result.stderr)
        for verb in ('list', 'show'):
            self.assertIn(verb, result.stdout)


def main(argv):
    global HOST_STEM
    if len(argv) != 2:
        print(f'usage: {argv[0]} tests/hosts/NAME', file=sys.stderr)
        return 2
    HOST_STEM = argv[1]
    return tap.main(ErrorsTest)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
