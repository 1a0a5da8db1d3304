#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iommuctl's failures, through the daemon and --offline: unknown or malformed devices and
groups exit 1, usage errors exit 2, each with exactly one known message on stderr (naming the
argument, never the help text) and nothing on stdout; every verb that needs the daemon, without
one, says so in one line and how to start it.
Usage: test-errors.py tests/hosts/NAME (a host with IOMMU groups)."""

import os
import sys

from harness import Bus, HostCase, host_main, plain_env
EXIT_REFUSED, EXIT_USAGE = 1, 2
UNREACHABLE = ("{what}: iommud is not running or not reachable on the system bus ({detail}): "
               "start it with 'systemctl start iommud'")


class ErrorsTest(HostCase):
    def assert_fails(self, result, status, message):
        """@result exited with @status, printed nothing on stdout and exactly
        'iommuctl: @message' on stderr."""
        self.assertEqual(result.returncode, status, result.stderr)
        self.assertEqual(result.stdout, '', 'a failure prints nothing on stdout')
        self.assertEqual(result.stderr, f'iommuctl: {message}\n')

    def check_fails(self, args, status, message):
        """iommuctl ARGS fails so through the daemon and --offline."""
        for prefix in ([], ['--offline']):
            with self.subTest(args=prefix + args):
                self.assert_fails(self.harness.iommuctl(*prefix, *args), status, message)

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
                (['--frobnicate', 'list'], "unknown option '--frobnicate'"),
                (['-o', 'out.json', 'list'], '--output goes with export, not list'),
                (['--from-quarantine', 'assign', 'lab', '1'],
                 '--from-quarantine goes with release, not assign')):
            self.check_fails(args, EXIT_USAGE, message)

    def without_daemon(self, *args):
        """Runs iommuctl on a bus where nobody serves org.iommud1, and with no bus at all."""
        bus = Bus()
        try:
            on_bus = self.harness.iommuctl(*args, env=bus.env(self.testbed.env(plain_env())))
        finally:
            bus.close()
        env = self.testbed.env(plain_env())
        env['DBUS_SYSTEM_BUS_ADDRESS'] = f'unix:path={self.testbed.proc}/no-such-socket'
        return on_bus, self.harness.iommuctl(*args, env=env)

    def test_daemon_not_running(self):
        device = next(d.address for d in self.host.devices if d.group is not None)
        for what, args in (('explain', ['explain', device]),
                           ('explain', ['explain', device, '--guest', 'win11']),
                           ('assign', ['assign', 'win11', device]),
                           ('release', ['release', 'win11']),
                           ('rebind', ['rebind', device, 'vfio-pci']),
                           ('policy show', ['policy', 'show']),
                           ('policy reload', ['policy', 'reload']),
                           ('space list', ['space', 'list']),
                           ('space show', ['space', 'show', '1']),
                           ('space translate', ['space', 'translate', '1', '0x1000'])):
            on_bus, no_bus = self.without_daemon(*args)
            with self.subTest(args=args):
                self.assert_fails(on_bus, EXIT_REFUSED, UNREACHABLE.format(
                    what=what,
                    detail='The name org.iommud1 was not provided by any .service files'))
                self.assert_fails(no_bus, EXIT_REFUSED, UNREACHABLE.format(
                    what=what, detail='No such file or directory'))

    def test_option_without_value(self):
        self.check_fails(['explain', '0000:00:00.0', '--guest'], EXIT_USAGE,
                         "option '--guest' needs a value")

    def test_verb_usage_errors(self):
        for args, message in (
                (['space', 'translate', '1', '0x1000', 'exec'],
                 "the access is read, write or rw, not 'exec'"),
                (['space', 'frobnicate'], 'usage: iommuctl space list | space show ID | '
                 'space translate ID IOVA [read|write|rw]'),
                (['policy', 'frobnicate'], "unknown policy command 'frobnicate'; usage: "
                 'iommuctl policy check [FILE...] | policy reload | policy show'),
                (['policy', 'show', 'extra'], 'policy show takes no arguments'),
                (['rebind', '0000:00:00.0', ''], "rebind: the driver name is empty; write "
                 "'none' to leave the device without a driver")):
            self.check_fails(args, EXIT_USAGE, message)

    def test_refusal_names_the_error(self):
        address = self.absent_address()
        self.assert_fails(self.harness.iommuctl('--dry-run', 'rebind', address, 'vfio-pci'),
                          EXIT_REFUSED, f'rebind refused (NotFound): no PCI device at {address}')

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
