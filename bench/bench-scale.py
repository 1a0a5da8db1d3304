#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real iommud and iommuctl on the big-sriov host (tests/hosts/big-sriov.host.py: 2078
functions, 2048 of them VFs in groups of their own), under umockdev, on a private bus: daemon
start to bus name, GetManagedObjects, iommuctl --json list, one uevent to its signal, 256 VFs
plugged at once to their 256 InterfacesAdded, and the daemon's memory. Prints one table of
medians beside the targets (README, "Benchmarks"); figures, never a verdict. The uevent rows
say which path the daemon took, counted from its log: a full rescan, or none (incremental).
Usage: bench-scale.py [--rounds N]  (meson sets $IOMMUD, $IOMMUCTL, $IOMMUD_BUS_POLICY)"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))

from testbed import Testbed, preload_self  # noqa: E402 (after the path)

import harness  # noqa: E402
from host import Host  # noqa: E402
from gi.repository import Gio, GLib  # noqa: E402 (gi is set up by testbed)

GENERATOR = os.path.join(HERE, '..', 'tests', 'hosts', 'big-sriov.host.py')
UEVENT_BURST, UEVENT_PAUSE = 32, 0.01
# umockdev hands uevents over a UNIX datagram socket, whose queue holds
# net.unix.max_dgram_qlen datagrams (10 by default); its sender aborts when the queue is full,
# where the kernel's netlink socket holds megabytes. As root the bench lifts the queue for its run.
DGRAM_QLEN, DGRAM_QLEN_FILE = 1024, '/proc/sys/net/unix/max_dgram_qlen'
PLUGGED_PF = 7      # the PF whose 256 VFs the last row plugs in (no driver: no rebinding)


def load_generator():
    spec = importlib.util.spec_from_file_location('big_sriov', GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lift_dgram_queue():
    """Raises the UNIX datagram queue for the run; returns the old length, or None."""
    try:
        with open(DGRAM_QLEN_FILE, encoding='ascii') as f:
            old = int(f.read())
        with open(DGRAM_QLEN_FILE, 'w', encoding='ascii') as f:
            f.write(str(max(old, DGRAM_QLEN)))
        return old
    except OSError as e:
        print(f'bench-scale: cannot raise {DGRAM_QLEN_FILE} ({e.strerror}): '
              f'the burst is paced, {UEVENT_PAUSE * 1000:.0f} ms every {UEVENT_BURST} uevents')
        return None


def ms(seconds):
    return f'{seconds * 1000:9.1f}'


class Watch:
    """The daemon's ObjectManager and PropertiesChanged signals, as a client sees them."""

    def __init__(self, address):
        self.conn = Gio.DBusConnection.new_for_address_sync(
            address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.seen = []
        for member in ('InterfacesAdded', 'InterfacesRemoved', 'PropertiesChanged'):
            self.conn.signal_subscribe(harness.BUS_NAME, None, member, None, None,
                                       Gio.DBusSignalFlags.NONE, self._on_signal)

    def _on_signal(self, conn, sender, path, interface, member, parameters):
        if member == 'PropertiesChanged':
            self.seen.append((member, path))
        else:
            self.seen.append((member, parameters.unpack()[0]))

    def wait(self, done, deadline=60.0):
        """Runs the main loop until @done(seen) is true; the time it became true."""
        context = GLib.MainContext.default()
        end = time.monotonic() + deadline
        while not done(self.seen):
            if time.monotonic() > end:
                raise harness.HarnessError(f'no signal within {deadline:.0f} s')
            context.iteration(True)
        return time.monotonic()

    def close(self):
        self.conn.close_sync(None)


def rescans(daemon):
    return daemon.errors().count('Rescanned:')


def cpu_seconds(pid):
    """User and system time of process @pid so far."""
    with open(f'/proc/{pid}/stat', encoding='utf-8') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


class Clock:
    """Wall time, and the CPU time of the daemon, the bus and this process, of one sample: on
    a machine shared with busy neighbours the wall time mostly measures them."""

    def __init__(self, daemon, bus):
        self.pids = [daemon.process.pid, bus.process.pid]
        self.wall, self.cpu = [], []

    def start(self):
        self.begin = (time.monotonic(), sum(map(cpu_seconds, self.pids)) + time.process_time())
        self.extra_cpu = 0.0    # a child's, from its rusage

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.end(time.monotonic())

    def end(self, when):
        """Ends the sample at @when (a monotonic time), its CPU time at now."""
        cpu = sum(map(cpu_seconds, self.pids)) + time.process_time() + self.extra_cpu
        self.wall.append(when - self.begin[0])
        self.cpu.append(cpu - self.begin[1])

    def row(self, what, path, target):
        return (what, path, ms(statistics.median(self.wall)), ms(statistics.median(self.cpu)),
                target)


def rss_kib(pid):
    with open(f'/proc/{pid}/status', encoding='utf-8') as f:
        fields = dict(line.split(':', 1) for line in f if ':' in line)
    return int(fields['VmRSS'].split()[0]), int(fields['VmHWM'].split()[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=5, help='samples per row')
    args = parser.parse_args()
    preload_self()   # umockdev's uevent sender runs in this process

    generator = load_generator()
    vfs = [generator.VFS_PER_PF] * generator.PFS
    vfs[PLUGGED_PF] = 0
    big = generator.BigSriov(vfs)
    with tempfile.TemporaryDirectory(prefix='iommud-bench-scale.') as tmp:
        stem = os.path.join(tmp, generator.NAME)
        with open(stem + '.umockdev', 'w', encoding='utf-8') as f:
            f.write(big.umockdev())
        with open(stem + '.host.json', 'w', encoding='utf-8') as f:
            json.dump(big.host_json(), f)
        host = Host(stem)
        testbed = Testbed(host)
        bus = harness.Bus()
        qlen = lift_dgram_queue()
        try:
            rows, memory = measure(args.rounds, generator, host, testbed, bus, qlen is not None)
        finally:
            if qlen is not None:
                with open(DGRAM_QLEN_FILE, 'w', encoding='ascii') as f:
                    f.write(str(qlen))
            bus.close()
            testbed.close()
    print(f'bench-scale: big-sriov, {len(host.devices)} PCI functions in {len(host.groups)} '
          f'IOMMU groups at start, {os.cpu_count()} CPUs, medians of {args.rounds} rounds')
    print(f'| {"what":<52} | {"path":<11} | {"wall ms":>9} | {"CPU ms":>9} | {"target":>6} |')
    print(f'|{"-" * 54}|{"-" * 13}|{"-" * 11}|{"-" * 11}|{"-" * 8}|')
    for what, path, wall, cpu, target in rows:
        print(f'| {what:<52} | {path:<11} | {wall} | {cpu:>9} | {target:>6} |')
    print(f'{memory}; CPU: iommud, dbus-daemon and the client together')
    return 0


def measure(rounds, generator, host, testbed, bus, unpaced):
    rows, wall, cpu = [], [], []
    for _ in range(min(rounds, 3)):
        begin = time.monotonic()
        daemon = harness.Daemon(testbed, bus)
        wall.append(time.monotonic() - begin)
        cpu.append(cpu_seconds(daemon.process.pid))
        daemon.close()
    rows.append(('daemon start to bus name (a full scan)', '-', ms(statistics.median(wall)),
                 ms(statistics.median(cpu)), '-'))

    daemon = harness.Daemon(testbed, bus)
    watch = Watch(bus.address)
    try:
        env = bus.env(testbed.env(harness.plain_env()))
        for what, argv, target in (
                ('GetManagedObjects (busctl call, exec to exit)',
                 ['busctl', f'--address={bus.address}', '--quiet', 'call', harness.BUS_NAME,
                  '/org/iommud1', 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects'],
                 '< 100'),
                ('iommuctl --json list (exec to exit)',
                 [os.environ['IOMMUCTL'], '--json', 'list'], '< 200')):
            clock = Clock(daemon, bus)
            for _ in range(rounds):
                with clock:
                    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
                    _, status, usage = os.wait4(child.pid, 0)
                    clock.extra_cpu = usage.ru_utime + usage.ru_stime
                if status != 0:
                    raise harness.HarnessError(f'{" ".join(argv)} failed ({status})')
            rows.append(clock.row(what, '-', target))

        # One uevent: a VF leaves its driver (unbind) and comes back (bind).
        vf = next(d for d in host.devices if d.driver == 'iavf')
        path = harness.object_path(vf.address)
        clock, before = Clock(daemon, bus), rescans(daemon)
        for i in range(rounds * 2):
            unbound = i % 2 == 0
            watch.seen.clear()
            clock.start()
            if unbound:
                testbed.unbind(vf.devpath)
            else:
                testbed.bind(vf.devpath, 'iavf')
            testbed.uevent(vf.devpath, 'unbind' if unbound else 'bind')
            clock.end(watch.wait(lambda seen: ('PropertiesChanged', path) in seen))
        rows.append(clock.row('one uevent (unbind, bind) to its PropertiesChanged',
                              'full rescan' if rescans(daemon) > before else 'incremental',
                              '< 10'))

        # 256 VFs at once: the PF's sriov_numvfs goes 0 -> 256, as the kernel does it.
        records, group = [], max(host.groups) + 1
        for i in range(generator.VFS_PER_PF):
            f = generator.BigSriov.vf(PLUGGED_PF, i)
            f.group = group + i
            records.append(f)
        watch.seen.clear()
        clock, before = Clock(daemon, bus), rescans(daemon)
        clock.start()
        for i, f in enumerate(records):
            testbed.add_device(f.record())
            testbed.add_group(f.group, 'DMA', generator.MSI_REGION)
            testbed.join_group(f.devpath, f.group)
            testbed.uevent(f.devpath, 'add')
            if not unpaced and i % UEVENT_BURST == UEVENT_BURST - 1:
                # umockdev's sender aborts when the daemon's socket is full (EAGAIN), where
                # the kernel would drop events (ENOBUFS): let the daemon read.
                time.sleep(UEVENT_PAUSE)
        sent = time.monotonic() - clock.begin[0]
        paths = {harness.object_path(f.address) for f in records}
        clock.end(watch.wait(lambda seen: paths <= {p for m, p in seen
                                                    if m == 'InterfacesAdded'}))
        rows.append(clock.row('256 VFs plugged to their 256 InterfacesAdded',
                              'full rescan' if rescans(daemon) > before else 'incremental',
                              '< 1000'))
        rows.append(('  (of which writing the testbed, sending)', '-', ms(sent), '', ''))
        rss, peak = rss_kib(daemon.process.pid)
        memory = (f'iommud on {len(host.devices) + len(records)} functions: RSS {rss // 1024} '
                  f'MiB, peak {peak // 1024} MiB')
    finally:
        watch.close()
        daemon.close()
    return rows, memory


if __name__ == '__main__':
    sys.exit(main())
