# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the real iommud on a private dbus-daemon against a testbed, and the real iommuctl
and busctl against it. Everything started is killed again, also when a test fails; the
children die with the test process (PR_SET_PDEATHSIG) if it is killed itself."""

import ctypes
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import tap
from host import Host
from testbed import Testbed, preload_self

HERE = os.path.dirname(os.path.abspath(__file__))
BUS_NAME = 'org.iommud1'
DEADLINE = 20.0          # seconds for a child to come up: generous, the CI has 2 busy cores
COMMAND_TIMEOUT = 60.0
PR_SET_PDEATHSIG = 1


class HarnessError(Exception):
    """A helper (dbus-daemon, iommud) did not come up; the message carries its stderr."""


def object_path(address):
    """The D-Bus object of a PCI device: /org/iommud1/device/0000_01_00_0."""
    return '/org/iommud1/device/' + address.replace(':', '_').replace('.', '_')


def wait_for(predicate, what, deadline=DEADLINE):
    """Polls @predicate until it returns something true; fails naming @what after @deadline."""
    end = time.monotonic() + deadline
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise HarnessError(f'timed out after {deadline:.0f} s waiting for {what}')
        time.sleep(0.05)


def build_path(variable):
    """A build output named by the environment meson gives the tests."""
    path = os.environ.get(variable)
    if not path:
        raise HarnessError(f'${variable} is not set: run the tests through meson test')
    return path


def die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def plain_env():
    """The environment of a process that must see the real machine."""
    env = dict(os.environ)
    for name in ('UMOCKDEV_DIR', 'LD_PRELOAD', 'DBUS_SYSTEM_BUS_ADDRESS'):
        env.pop(name, None)
    return env


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Bus:
    """A private dbus-daemon configured like a system bus (system-bus.conf.in)."""

    def __init__(self):
        with open(os.path.join(HERE, 'system-bus.conf.in'), encoding='utf-8') as f:
            template = f.read()
        policy = build_path('IOMMUD_BUS_POLICY')
        # The daemon's journal goes here too: one directory holds all a test leaves behind.
        self.dir = tempfile.mkdtemp(prefix='iommud-bus.')
        self.process = None
        self.stderr = open(os.path.join(self.dir, 'stderr'), 'w+', encoding='utf-8')
        try:
            self.config = os.path.join(self.dir, 'system-bus.conf')
            with open(self.config, 'w', encoding='utf-8') as f:
                f.write(template.replace('@LISTEN@', f'unix:path={self.dir}/system_bus_socket')
                                .replace('@POLICY@', policy)
                                .replace('@USER@', str(os.getuid())))
            self.process = subprocess.Popen(
                ['dbus-daemon', f'--config-file={self.config}', '--nofork', '--print-address=1'],
                stdout=subprocess.PIPE, stderr=self.stderr, env=plain_env(),
                preexec_fn=die_with_parent)
            self.address = self._read_address()
        except BaseException:
            self.close()
            raise

    def _read_address(self):
        end = time.monotonic() + DEADLINE
        line = b''
        while not line.endswith(b'\n'):
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.process.stdout], [], [], left)[0]:
                raise HarnessError('dbus-daemon printed no address within '
                                   f'{DEADLINE:.0f} s:\n{self.errors()}')
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                raise HarnessError(f'dbus-daemon exited:\n{self.errors()}')
            line += chunk
        return line.decode().strip()

    def errors(self):
        self.stderr.seek(0)
        return self.stderr.read()

    def env(self, base):
        env = dict(base)
        env['DBUS_SYSTEM_BUS_ADDRESS'] = self.address
        return env

    def busctl(self, *args, check=True):
        result = subprocess.run(['busctl', f'--address={self.address}', *args],
                                capture_output=True, text=True, env=plain_env(),
                                timeout=COMMAND_TIMEOUT)
        if check and result.returncode != 0:
            raise HarnessError(f'busctl {" ".join(args)} failed ({result.returncode}):\n'
                               f'{result.stderr}')
        return result

    def busctl_json(self, *args):
        return json.loads(self.busctl('--json=short', *args).stdout)

    def has_owner(self, name):
        reply = self.busctl_json('call', 'org.freedesktop.DBus', '/org/freedesktop/DBus',
                                 'org.freedesktop.DBus', 'NameHasOwner', 's', name)
        return reply['data'][0]

    def close(self):
        if self.process:
            stop(self.process)
            self.process.stdout.close()
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# The policy the tiers run iommud with unless a test brings its own: everything allowed.
ALLOW_ALL_POLICY = os.path.join(HERE, '..', 'policy', 'allow-all')


class Daemon:
    """The real iommud, under the testbed, on the bus; ready when it owns org.iommud1."""

    def __init__(self, testbed, bus, policy_dir=ALLOW_ALL_POLICY, libvirt_uri='none',
                 args=()):
        self.bus = bus
        # Its start scans the host: 2078 functions under umockdev take seconds of CPU.
        self.deadline = DEADLINE + len(testbed.host.devices) / 20
        self.stderr = tempfile.TemporaryFile(mode='w+', prefix='iommud-stderr.')
        # Each daemon gets a state journal of its own, never the machine's, and follows no
        # libvirt unless a test gives it one (never the machine's either).
        self.journal = os.path.join(bus.dir, 'state.json')
        self.process = subprocess.Popen(
            [build_path('IOMMUD'), '--verbose', f'--journal={self.journal}',
             f'--policy-dir={policy_dir}', f'--libvirt-uri={libvirt_uri}', *args],
            stdin=subprocess.DEVNULL,
            stdout=self.stderr, stderr=self.stderr, env=bus.env(testbed.env(plain_env())),
            preexec_fn=die_with_parent)
        try:
            self._wait_for_name()
        except BaseException:
            self.close()
            raise

    def _wait_for_name(self):
        def owned():
            if self.process.poll() is not None:
                raise HarnessError(f'iommud exited with status {self.process.returncode} '
                                   f'before owning {BUS_NAME}:')
            return self.bus.has_owner(BUS_NAME)

        try:
            wait_for(owned, f'iommud to own {BUS_NAME}', self.deadline)
        except HarnessError as e:
            raise HarnessError(f'{e}\n{self.errors()}') from None

    def errors(self):
        self.stderr.seek(0)
        return self.stderr.read()

    def close(self):
        stop(self.process)
        self.stderr.close()


class Harness:
    """A testbed (owned by the caller), a private bus, and iommud on it."""

    def __init__(self, testbed, start_daemon=True):
        self.testbed = testbed
        self.bus = Bus()
        self.daemon = None
        self.final_diagnostics = None
        if start_daemon:
            try:
                self.daemon = Daemon(testbed, self.bus)
            except BaseException:
                self.bus.close()
                raise

    def iommuctl(self, *args, env=None):
        """Runs the real iommuctl under the testbed, on the private bus."""
        return subprocess.run([build_path('IOMMUCTL'), *args], capture_output=True, text=True,
                              env=env or self.bus.env(self.testbed.env(plain_env())),
                              timeout=COMMAND_TIMEOUT)

    def iommuctl_json(self, *args):
        result = self.iommuctl('--json', *args)
        if result.returncode != 0:
            raise HarnessError(f'iommuctl --json {" ".join(args)} failed '
                               f'({result.returncode}):\n{result.stderr}')
        return json.loads(result.stdout)

    def managed_objects(self):
        """GetManagedObjects of /org/iommud1 as {path: {interface: {property: value}}}."""
        reply = self.bus.busctl_json('call', BUS_NAME, '/org/iommud1',
                                     'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects')
        return {path: {iface: {name: v['data'] for name, v in props.items()}
                       for iface, props in ifaces.items()}
                for path, ifaces in reply['data'][0].items()}

    def diagnostics(self):
        """What to print when a test fails: the daemon's and the bus's stderr."""
        if self.final_diagnostics is not None:
            return self.final_diagnostics
        text = ''
        if self.daemon:
            text += f'--- iommud stderr\n{self.daemon.errors()}'
        return text + f'--- dbus-daemon stderr\n{self.bus.errors()}'

    def close(self):
        self.final_diagnostics = self.diagnostics()
        if self.daemon:
            self.daemon.close()
        self.bus.close()


class HostCase(unittest.TestCase):
    """Tests against one host of tests/hosts/ (host_main() sets host_stem): its testbed, a
    private bus and iommud, shared by the class, or fresh for each test with per_test."""
    host_stem = None
    per_test = False

    @staticmethod
    def start(target, add_cleanup):
        target.host = Host(target.host_stem)
        target.testbed = Testbed(target.host)
        add_cleanup(target.testbed.close)
        target.harness = Harness(target.testbed)
        add_cleanup(target.harness.close)

    @classmethod
    def setUpClass(cls):
        if not cls.per_test:
            cls.start(cls, cls.addClassCleanup)

    def setUp(self):
        if self.per_test:
            self.start(self, self.addCleanup)

    def diagnostics(self):
        # Nothing when setUp failed before the harness came up: the failure says why.
        harness = getattr(self, 'harness', None)
        return harness.diagnostics() if harness else ''

    def assert_assign_options_refused(self, device, cases):
        """Manager.Assign('win11', [device], options) fails with the message, for each
        (options as busctl words, message) of cases."""
        for options, message in cases:
            result = self.harness.bus.busctl(
                    'call', BUS_NAME, '/org/iommud1', 'org.iommud1.Manager', 'Assign',
                    'sasa{sv}', 'win11', '1', device, *options, check=False)
            with self.subTest(options=options):
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(message, result.stderr)

    def restart_with_journal(self, text):
        """Stops the daemon, writes its journal, starts it again."""
        self.harness.daemon.close()
        with open(self.harness.daemon.journal, 'w', encoding='utf-8') as f:
            f.write(text)
        self.harness.daemon = Daemon(self.testbed, self.harness.bus)

    def restart_owned(self, owner, devices):
        """Restarts the daemon with @devices (of groups of their own) on vfio-pci in the
        testbed and their groups claimed by @owner in the journal, as after an assign."""
        for device in devices:
            if device.driver:
                self.testbed.unbind(device.devpath)
            self.testbed.bind(device.devpath, 'vfio-pci')
        self.restart_with_journal(json.dumps({
            'version': 1, 'intents': [],
            'claims': [{'group': d.group, 'owner': owner,
                        'devices': [{'address': d.address, 'host_driver': d.driver}]}
                       for d in devices]}))


def host_main(case, argv, preload=False):
    """main() of a test program: `PROGRAM tests/hosts/NAME`, TAP on stdout."""
    if len(argv) != 2:
        print(f'usage: {argv[0]} tests/hosts/NAME', file=sys.stderr)
        return 2
    if preload:
        preload_self()
    case.host_stem = argv[1]
    return tap.main(case)
