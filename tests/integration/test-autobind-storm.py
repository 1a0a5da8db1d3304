#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An autobind storm leaves the daemon answering: the real iommud on big-sriov (2078 functions)
with tests/policy/good/workstation-like.json, whose rule 'intel-nics' autobinds every Intel
NIC (1500 and more jobs queued at start). While the jobs run, Ping and `iommuctl --json list`
answer within BOUND seconds each, every time; at the end every function that rule matches is
on vfio-pci, no sysfs write timed out, and no more than BINDER_MAX_RUNNING jobs ran at once (the
daemon's debug lines). The test plays the kernel's part of a rebind: a device whose
driver_override names vfio-pci is bound to it, as drivers_probe would. Usage: test-autobind-storm.py
BUILD/tests/integration/big-sriov (the generated host's stem)."""

import ctypes
import json
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import tap
from harness import BUS_NAME, COMMAND_TIMEOUT, Bus, Daemon, build_path, plain_env
from host import Host
from testbed import Testbed

POLICY = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'policy', 'good',
                      'workstation-like.json')
BOUND = 5.0             # seconds a call may take while the storm runs
STORM_DEADLINE = 600.0  # seconds for every autobind: 240 on 2 cores at load 10
VFIO = 'vfio-pci'
LIBC = ctypes.CDLL(None, use_errno=True)
IN_CLOSE_WRITE = 0x8
BINDER_MAX_RUNNING = 4  # daemon/binder.c


def intel_nic(device):
    """Whether rule 'intel-nics' (vendor 8086, class 0200) matches @device."""
    return (not device.is_bridge and device.number('vendor') == 0x8086
            and device.number('class') >> 8 == 0x0200)


class Kernel(threading.Thread):
    """Binds each of @devices whose driver_override is written with vfio-pci to it, as
    drivers_probe does after the daemon's unbind: woken by inotify, as writes close."""

    def __init__(self, testbed, devices):
        super().__init__(daemon=True)
        self.testbed, self.pending = testbed, {}
        # The files the daemon writes: each driver's unbind, the bus's drivers_probe.
        drivers = f'{testbed.sys}/bus/pci/drivers'
        for path in [f'{drivers}/{name}/unbind' for name in os.listdir(drivers)] + [
                f'{testbed.sys}/bus/pci/drivers_probe']:
            with open(path, 'a', encoding='utf-8'):
                pass
        self.fd = LIBC.inotify_init1(os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), 'inotify_init1')
        for d in devices:
            wd = LIBC.inotify_add_watch(self.fd, f'{testbed.sys}{d.devpath}/driver_override'
                                        .encode(), IN_CLOSE_WRITE)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f'inotify_add_watch {d.devpath}')
            self.pending[wd] = d
        self.stop_r, self.stop_w = os.pipe()

    def run(self):
        sys_dir = self.testbed.sys
        while self.pending:
            ready, _, _ = select.select([self.fd, self.stop_r], [], [])
            if self.stop_r in ready:
                return
            data = os.read(self.fd, 65536)
            while data:
                wd, _, _, length = struct.unpack_from('iIII', data)
                data = data[16 + length:]
                d = self.pending.get(wd)
                if d is None:
                    continue
                with open(f'{sys_dir}{d.devpath}/driver_override', encoding='utf-8') as f:
                    if f.read().strip() != VFIO:
                        continue
                if os.path.islink(f'{sys_dir}{d.devpath}/driver'):
                    self.testbed.unbind(d.devpath)
                self.testbed.bind(d.devpath, VFIO)
                del self.pending[wd]

    def stop(self):
        os.write(self.stop_w, b'x')
        self.join()
        for fd in (self.fd, self.stop_r, self.stop_w):
            os.close(fd)


class AutobindStormTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.host = Host(sys.argv[1])
        cls.dir = tempfile.mkdtemp(prefix='iommud-autobind-storm.')
        cls.addClassCleanup(shutil.rmtree, cls.dir, ignore_errors=True)
        cls.policy_dir = os.path.join(cls.dir, 'policy')
        os.makedirs(cls.policy_dir)
        shutil.copy(POLICY, cls.policy_dir)
        cls.testbed = Testbed(cls.host)
        cls.addClassCleanup(cls.testbed.close)
        cls.bus = Bus()
        cls.addClassCleanup(cls.bus.close)
        cls.daemon, cls.last_log = None, ''

    def log(self):
        """The daemon's stderr so far; what was gathered last once the daemon is closed."""
        if self.daemon and not self.daemon.stderr.closed:
            self.last_log = self.daemon.errors()
        return self.last_log

    def diagnostics(self):
        return (f'--- iommud stderr (tail)\n{self.log()[-4000:]}'
                f'--- dbus-daemon stderr\n{self.bus.errors()}')

    def timed(self, what, argv):
        """Runs @argv on the bus; returns its stdout and how long it took. A call that takes
        longer than the test's bound fails the test."""
        env = self.bus.env(self.testbed.env(plain_env()))
        began = time.monotonic()
        try:
            result = subprocess.run(argv, env=env, capture_output=True, text=True,
                                    timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail(f'{what} did not answer within {COMMAND_TIMEOUT} s\n{self.diagnostics()}')
        took = time.monotonic() - began
        self.assertEqual(result.returncode, 0,
                         f'{what} failed: {result.stderr}\n{self.diagnostics()}')
        self.assertLess(took, BOUND, f'{what} took {took:.2f} s\n{self.diagnostics()}')
        return result.stdout, took

    def stuck_writes(self):
        """The devices whose job gave up on a sysfs write or an unbind that did not end in
        time (either wording). None may: the test's kernel answers at once, and the daemon's
        write child makes nothing but a raw write(2), so umockdev's preload, whose locks a
        child forked mid-call would wait on forever, is not in its way."""
        return set(re.findall(r'([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]): [^\n]*; left for '
                              r'when the device is free', self.log()))

    def peak_running(self):
        """The most jobs the daemon ran at once, from its debug lines."""
        return max((int(n) for n in re.findall(r'Binder: a job starts \((\d+) running\)',
                                               self.log())), default=0)

    def drivers(self):
        """Each device's driver as `iommuctl --json list` has it, and how long that took."""
        out, took = self.timed('iommuctl --json list',
                               [build_path('IOMMUCTL'), '--json', 'list'])
        listing = json.loads(out)
        return {d['address']: d.get('driver') or '' for d in listing['devices']}, took

    def test_storm(self):
        nics = [d for d in self.host.devices if intel_nic(d)]
        moved = [d for d in nics if d.driver != VFIO]
        self.assertGreater(len(moved), 1000, 'the storm needs its jobs')
        kernel = Kernel(self.testbed, moved)
        kernel.start()
        self.addCleanup(kernel.stop)
        began = time.monotonic()
        self.daemon = Daemon(self.testbed, self.bus, policy_dir=self.policy_dir)
        self.addCleanup(self.daemon.close)
        tap.comment(f'{len(moved)} autobinds of {len(nics)} Intel NICs; daemon on the bus in '
                    f'{time.monotonic() - began:.1f} s')
        ping = ['busctl', f'--address={self.bus.address}', '--quiet', 'call', BUS_NAME,
                '/org/iommud1', 'org.freedesktop.DBus.Peer', 'Ping']
        worst, calls = 0.0, 0
        wanted = {d.address for d in nics}
        while True:
            _, took = self.timed('Ping', ping)
            drivers, listed = self.drivers()
            worst, calls = max(worst, took, listed), calls + 2
            left = {a for a in wanted if drivers.get(a) != VFIO}
            if not left or self.stuck_writes():
                break
            self.assertLess(time.monotonic() - began, STORM_DEADLINE,
                            f'{len(left)} Intel NICs not on {VFIO}, e.g. {sorted(left)[:5]}\n'
                            f'{self.diagnostics()}')
            time.sleep(0.5)
        with open(f'/proc/{self.daemon.process.pid}/stat', encoding='utf-8') as f:
            ticks = sum(int(x) for x in f.read().rsplit(')', 1)[1].split()[11:13])
        tap.comment(f'storm done in {time.monotonic() - began:.1f} s from the daemon\'s start '
                    f'({ticks / os.sysconf("SC_CLK_TCK"):.1f} s of iommud CPU); {calls} calls, '
                    f'the slowest {worst:.2f} s')
        self.assertEqual(self.stuck_writes(), set(), self.diagnostics())
        peak = self.peak_running()
        tap.comment(f'at most {peak} jobs ran at once')
        self.assertTrue(1 < peak <= BINDER_MAX_RUNNING, f'{peak} jobs ran at once')


if __name__ == '__main__':
    sys.exit(tap.main(AutobindStormTest))
