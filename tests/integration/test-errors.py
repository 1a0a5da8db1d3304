#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iommuctl's failures, through the daemon and --offline: unknown or malformed devices and
groups exit 1 with one message naming the argument; usage errors exit 2 without the help text.
Usage: test-errors.py tests/hosts/NAME (a host with IOMMU groups)."""

import sys

from harness import HostCase, host_main
EXIT_REFUSED, EXIT_USAGE = 1, 2


class ErrorsTest(HostCase):
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


if __name__ == '__main__':
    sys.exit(host_main(ErrorsTest, sys.argv))
