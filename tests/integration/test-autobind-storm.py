#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An autobind storm leaves the daemon answering: the real iommud on big-sriov (2078 functions)
with tests/policy/good/workstation-like.json, whose rule 'intel-nics' autobinds every Intel
NIC (1500 and more jobs queued at start). While the jobs run, Ping and `iommuctl --json list`
answer within BOUND seconds each, every time, and no more than BINDER_MAX_RUNNING jobs run at
once (the daemon's debug lines at each job's start and end); at the end every function that rule
matches is on vfio-pci. A job that timed out on a device ("left for when the device is free")
must be retried once a uevent says the device is free: the test sends one, as the kernel would,
and still wants the device on vfio-pci. The test plays the kernel's part of a rebind: a write of
an address to a driver's unbind unbinds it, and one to drivers_probe binds a device without a
driver whose driver_override names vfio-pci to it. Usage: test-autobind-storm.py
BUILD/tests/integration/big-sriov (the generated host's stem)."""

import json
import os
import re
import select
import shutil
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
BINDER_MAX_RUNNING = 4  # daemon/binder.c
ADDRESS = re.compile(r'[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]')


def intel_nic(device):
    """Whether rule 'intel-nics' (vendor 8086, class 0200) matches @device."""
    return (not device.is_bridge and device.number('vendor') == 0x8086
            and device.number('class') >> 8 == 0x0200)


class Kernel(threading.Thread):
    """Plays the driver core for @devices: each driver's unbind and the bus's drivers_probe are
    FIFOs, so that every address the daemon writes reaches the thread, in order (writes of a
    few bytes to a pipe are atomic). An unbind removes the device's driver; a probe binds a
    device that has no driver and whose driver_override names vfio-pci to it, as the kernel's
    drivers_probe does, and leaves any other device as it is."""

    def __init__(self, testbed, devices):
        super().__init__(daemon=True)
        self.testbed = testbed
        self.devices = {d.address: d for d in devices}
        self.probes = 0
        drivers = f'{testbed.sys}/bus/pci/drivers'
        self.unbinds = [self.fifo(f'{drivers}/{name}/unbind') for name in os.listdir(drivers)]
        self.probe = self.fifo(f'{testbed.sys}/bus/pci/drivers_probe')
        self.stop_r, self.stop_w = os.pipe()

    @staticmethod
    def fifo(path):
        """Replaces @path by a FIFO; returns a descriptor that reads it and never sees its end."""
        if os.path.lexists(path):
            os.unlink(path)
        os.mkfifo(path, 0o600)
        return os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)

    @staticmethod
    def addresses(fd):
        return ADDRESS.findall(os.read(fd, 65536).decode())

    def run(self):
        sys_dir = self.testbed.sys
        while True:
            ready, _, _ = select.select([self.stop_r, *self.unbinds, self.probe], [], [])
            if self.stop_r in ready:
                return
            # Unbinds first: the daemon writes a device's unbind before its probe.
            for fd in self.unbinds:
                for address in self.addresses(fd) if fd in ready else []:
                    d = self.devices.get(address)
                    if d and os.path.islink(f'{sys_dir}{d.devpath}/driver'):
                        self.testbed.unbind(d.devpath)
            for address in self.addresses(self.probe) if self.probe in ready else []:
                self.probes += 1
                d = self.devices.get(address)
                if not d or os.path.islink(f'{sys_dir}{d.devpath}/driver'):
                    continue
                with open(f'{sys_dir}{d.devpath}/driver_override', encoding='utf-8') as f:
                    if f.read().strip() == VFIO:
                        self.testbed.bind(d.devpath, VFIO)

    def stop(self):
        os.write(self.stop_w, b'x')
        self.join()
        for fd in (*self.unbinds, self.probe, self.stop_r, self.stop_w):
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
        cls.daemon = None
        cls.last_log = ''

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

    def stuck(self):
        """The devices a job left because a sysfs write on them did not return in time (the
        daemon says where it stuck: the driver_override, the unbind or drivers_probe)."""
        return set(re.findall(r'IOMMU group \d+: (' + ADDRESS.pattern + r'): [^\n]*; left for '
                              r'when the device is free', self.log()))

    def peak_running(self):
        """The most jobs that ran at once, counted from the daemon's lines at each start and
        end."""
        running = peak = 0
        for event in re.findall(r'Binder: a job (starts|ends)', self.log()):
            running += 1 if event == 'starts' else -1
            peak = max(peak, running)
        return peak

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
        worst, calls, freed = 0.0, 0, set()
        wanted = {d.address for d in nics}
        while True:
            _, took = self.timed('Ping', ping)
            drivers, listed = self.drivers()
            worst, calls = max(worst, took, listed), calls + 2
            left = {a for a in wanted if drivers.get(a) != VFIO}
            if not left:
                break
            self.assertLess(time.monotonic() - began, STORM_DEADLINE,
                            f'{len(left)} Intel NICs not on {VFIO}, e.g. {sorted(left)[:5]}; '
                            f'{len(freed)} freed by a uevent\n{self.diagnostics()}')
            # A device a job left is free now (this kernel holds none): its uevent, as the
            # kernel sends when a holder lets go, must bring the job back.
            for address in self.stuck() - freed:
                self.testbed.uevent(kernel.devices[address].devpath, 'change')
                freed.add(address)
            time.sleep(0.5)
        with open(f'/proc/{self.daemon.process.pid}/stat', encoding='utf-8') as f:
            ticks = sum(int(x) for x in f.read().rsplit(')', 1)[1].split()[11:13])
        peak = self.peak_running()
        tap.comment(f'storm done in {time.monotonic() - began:.1f} s from the daemon\'s start '
                    f'({ticks / os.sysconf("SC_CLK_TCK"):.1f} s of iommud CPU); {calls} calls, '
                    f'the slowest {worst:.2f} s; {kernel.probes} probes; at most {peak} jobs '
                    f'at once; {len(freed)} devices left by a timed-out write and freed by a '
                    f'uevent: {sorted(freed)[:5]}')
        self.assertGreater(peak, 1, f'jobs run one by one\n{self.diagnostics()}')
        self.assertLessEqual(peak, BINDER_MAX_RUNNING, self.diagnostics())


if __name__ == '__main__':
    sys.exit(tap.main(AutobindStormTest))
