#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iommuctl's failures, through the daemon and --offline: unknown or malformed devices and
groups exit 1, usage errors exit 2, each with exactly one known message on stderr (naming the
argument, never the help text) and nothing on stdout.
Usage: test-errors.py tests/hosts/NAME (a host with IOMMU groups)."""

import sys

from harness import HostCase, host_main
EXIT_REFUSED, EXIT_USAGE = 1, 2


class ErrorsTest(HostCase):
    def check_fails(self, args, status, message):
        """iommuctl ARGS, through the daemon and --offline, exits with @status, prints nothing
        on stdout and exactly 'iommuctl: @message' on stderr."""
        for prefix in ([], ['--offline']):
            with self.subTest(args=prefix + args):
                result = self.harness.iommuctl(*prefix, *args)
                self.assertEqual(result.returncode, status, result.stderr)
                self.assertEqual(result.stdout, '', 'a failure prints nothing on stdout')
                self.assertEqual(result.stderr, f'iommuctl: {message}\n')

    def absent_address(self):
        present = set(self.host.by_address)
        return next(f'0000:{bus:02x}:1f.7' for bus in range(0x80, 0x100)
                    if f'0000:{bus:02x}:1f.7' not in present)

    def test_show_malformed_address(self):
        self.check_fails(['show', '99:99.9'], EXIT_REFUSED,
                         "'99:99.9' is not a PCI address: the slot (device) must be 00-1f")

    def test_show_nonsense(self):
        self.check_fails(['show', 'nonsense'], EXIT_REFUSED,
                         "'nonsense' is not a PCI address: expected hexadecimal digits, as in "
                         '0000:01:00.0')

    def test_show_absent_device(self):
        address = self.absent_address()
        self.check_fails(['show', address], EXIT_REFUSED, f'no PCI device at {address}')

    def test_show_unknown_group(self):
        group = str(max(self.host.groups) + 1000)
        self.check_fails(['show', group], EXIT_REFUSED, f"'{group}': no such IOMMU group")

    def test_usage_errors(self):
        for args, message in (
                ([], "a command is needed; see 'iommuctl --help'"),
                (['show'], 'missing arguments; usage: iommuctl show DEVICE|GROUP'),
                (['show', '1', '2'], 'too many arguments; usage: iommuctl show DEVICE|GROUP'),
                (['list', 'extra'], 'too many arguments; usage: iommuctl list'),
                (['frobnicate'], "unknown command 'frobnicate'; see 'iommuctl --help'"),
                (['--frobnicate', 'list'], "unknown option '--frobnicate'")):
            self.check_fails(args, EXIT_USAGE, message)

    def test_help(self):
        result = self.harness.iommuctl('--help')
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, '')
        lines = result.stdout.splitlines()
        self.assertEqual(lines[0], 'Usage: iommuctl [OPTIONS] COMMAND ...')
        for verb in ('list', 'show DEVICE|GROUP'):
            self.assertTrue(any(line.startswith(f'  {verb} ') for line in lines), verb)


if __name__ == '__main__':
    sys.exit(host_main(ErrorsTest, sys.argv))
