#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iommud as a process: it leaves on SIGTERM with status 0 and gives the name back, refuses
to start a second time on one bus, says why when it cannot start at all, and exits with a
failure when it loses the bus (so that systemd's Restart=on-failure brings it back).
Usage: test-daemon.py tests/hosts/NAME"""

import os
import signal
import subprocess
import sys

from harness import BUS_NAME, COMMAND_TIMEOUT, HostCase, build_path, host_main, plain_env, \
    wait_for


class DaemonTest(HostCase):
    per_test = True     # each test stops or competes with its daemon

    def run_daemon(self, *args, env=None):
        return subprocess.run([build_path('IOMMUD'), *args], capture_output=True, text=True,
                              env=env or self.harness.bus.env(self.testbed.env(plain_env())),
                              timeout=COMMAND_TIMEOUT)

    def test_sigterm_exits_cleanly(self):
        process = self.harness.daemon.process
        process.send_signal(signal.SIGTERM)
        self.assertEqual(process.wait(timeout=COMMAND_TIMEOUT), 0,
                         self.harness.daemon.errors())
        wait_for(lambda: not self.harness.bus.has_owner(BUS_NAME),
                 f'{BUS_NAME} to lose its owner')

    def assertLastLine(self, text, line):
        """The last line of @text is @line: the message a failing daemon leaves with (the
        lines before it report the start, which depends on the machine's policy directory)."""
        self.assertTrue(text.endswith('\n'), text)
        self.assertEqual(text.splitlines()[-1], line, text)

    def test_lost_bus_exits_with_failure(self):
        process = self.harness.daemon.process
        self.harness.bus.process.kill()
        self.assertEqual(process.wait(timeout=COMMAND_TIMEOUT), 1, self.harness.daemon.errors())
        self.assertLastLine(self.harness.daemon.errors(),
                            'iommud: Lost the connection to the bus, exiting.')

    def test_second_instance_refused(self):
        result = self.run_daemon(f'--journal={self.harness.daemon.journal}.2')
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(result.stdout, '')
        self.assertLastLine(result.stderr,
                            f'iommud: Failed to take the bus name {BUS_NAME}: File exists')
        self.assertIsNone(self.harness.daemon.process.poll(), 'the first one must go on')

    def test_no_bus(self):
        env = self.testbed.env(plain_env())
        env['DBUS_SYSTEM_BUS_ADDRESS'] = f'unix:path={self.testbed.proc}/no-such-socket'
        result = self.run_daemon(f'--journal={self.harness.daemon.journal}.2', env=env)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(result.stdout, '')
        self.assertLastLine(result.stderr,
                            'iommud: Failed to connect to the system bus: No such file or '
                            'directory')

    def test_version_and_usage(self):
        result = self.run_daemon('--version')
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, f'iommud {os.environ["IOMMUD_VERSION"]}\n')
        self.assertEqual(result.stderr, '')
        for args, message in (
                (['--frobnicate'], f"{build_path('IOMMUD')}: unrecognized option '--frobnicate'"),
                (['extra'], "iommud: unexpected argument 'extra'")):
            with self.subTest(args=args):
                result = self.run_daemon(*args)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertEqual(result.stdout, '')
                self.assertEqual(result.stderr, f'{message}\n')


if __name__ == '__main__':
    sys.exit(host_main(DaemonTest, sys.argv))
