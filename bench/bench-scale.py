#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real iommud and iommuctl on the big-sriov host (tests/hosts/big-sriov.host.py: 2078
functions, 2048 of them VFs in groups of their own), under umockdev, on a private bus: daemon
start to bus name, GetManagedObjects, iommuctl --json list, one uevent to its signal, 256 VFs
unbound and bound at once to their signals, 256 VFs plugged at once to their 256
InterfacesAdded, the pass over the export files that follows each uevent (from the daemon's
debug log), and the daemon's memory. Prints one table of medians beside the targets (README,
"Benchmarks"); figures, never a verdict. The uevent rows
say which path the daemon took, counted from its log: a full rescan, or none (incremental).
Usage: bench-scale.py [--rounds N]  (meson sets $IOMMUD, $IOMMUCTL, $IOMMUD_BUS_POLICY)"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))

from testbed import Testbed, UeventQueue, preload_self  # noqa: E402 (after the path)

import big_sriov  # noqa: E402
import harness  # noqa: E402
from gi.repository import Gio, GLib  # noqa: E402 (gi is set up by testbed)

PLUGGED_PF = 7      # the PF whose 256 VFs the last row plugs in (no driver: no rebinding)


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
    """Wall time, and the CPU time of the daemon, the bus and the client (this process, or the
    child it ran), of one sample: on a machine shared with busy neighbours the wall time mostly
    measures them, and the split says which process a change has to cut."""

    def __init__(self, daemon, bus):
        self.pids = [daemon.process.pid, bus.process.pid]
        self.wall, self.cpu = [], []

    def _now(self):
        return [cpu_seconds(pid) for pid in self.pids] + [time.process_time()]

    def start(self):
        self.begin = (time.monotonic(), self._now())
        self.extra_cpu = 0.0    # a child's, from its rusage

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.end(time.monotonic())

    def end(self, when):
        """Ends the sample at @when (a monotonic time), its CPU times at now."""
        cpu = [b - a for a, b in zip(self.begin[1], self._now())]
        cpu[-1] += self.extra_cpu
        self.wall.append(when - self.begin[0])
        self.cpu.append(cpu)

    def row(self, what, path, target):
        split = [statistics.median(c[i] for c in self.cpu) for i in range(3)]
        return (what, path, ms(statistics.median(self.wall)),
                ms(statistics.median(sum(c) for c in self.cpu)),
                ' / '.join(f'{c * 1000:.0f}' for c in split), target)


def rss_kib(pid):
    with open(f'/proc/{pid}/status', encoding='utf-8') as f:
        fields = dict(line.split(':', 1) for line in f if ':' in line)
    return int(fields['VmRSS'].split()[0]), int(fields['VmHWM'].split()[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=5, help='samples per row')
    args = parser.parse_args()
    preload_self()   # umockdev's uevent sender runs in this process

    with tempfile.TemporaryDirectory(prefix='iommud-bench-scale.') as tmp:
        host = big_sriov.write_without_vfs(tmp, PLUGGED_PF)
        testbed = Testbed(host)
        bus = harness.Bus()
        try:
            with UeventQueue() as queue:
                rows, memory = measure(args.rounds, host, testbed, bus, queue, tmp)
        finally:
            bus.close()
            testbed.close()
    print(f'bench-scale: big-sriov, {len(host.devices)} PCI functions in {len(host.groups)} '
          f'IOMMU groups at start, {os.cpu_count()} CPUs, medians of {args.rounds} rounds')
    print(f'| {"what":<52} | {"path":<11} | {"wall ms":>9} | {"CPU ms":>9} | {"CPU split":>14} '
          f'| {"target":>6} |')
    print(f'|{"-" * 54}|{"-" * 13}|{"-" * 11}|{"-" * 11}|{"-" * 16}|{"-" * 8}|')
    for what, path, wall, cpu, split, target in rows:
        print(f'| {what:<52} | {path:<11} | {wall} | {cpu:>9} | {split:>14} | {target:>6} |')
    print(f'{memory}; CPU: iommud, dbus-daemon and the client together, and split as '
          f'iommud / dbus-daemon / client (medians of each)')
    return 0


def export_passes(daemon):
    """The times of the daemon's passes over the export files so far, in seconds."""
    return [int(us) / 1e6 for us in re.findall(r'Export files done in (\d+) us',
                                                daemon.errors())]


def measure(rounds, host, testbed, bus, queue, tmp):
    rows, wall, cpu = [], [], []
    for _ in range(min(rounds, 3)):
        begin = time.monotonic()
        daemon = harness.Daemon(testbed, bus)
        wall.append(time.monotonic() - begin)
        cpu.append(cpu_seconds(daemon.process.pid))
        daemon.close()
    rows.append(('daemon start to bus name (a full scan)', '-', ms(statistics.median(wall)),
                 ms(statistics.median(cpu)), '', '-'))

    daemon = harness.Daemon(testbed, bus, args=[f'--nfd-file={tmp}/nfd',
                                                f'--metrics-file={tmp}/iommud.prom'])
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
        # Its pass runs at the next iteration of the loop: wait for the last one to be logged.
        deadline = time.monotonic() + 5
        while len(export_passes(daemon)) < 1 + rounds * 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        rows.append(('  its pass over the NFD and metrics files (log)', '-',
                     ms(statistics.median(export_passes(daemon)[1:])), '', '', '-'))

        # 256 VFs leave their driver at once (unbind uevents): a driver change of known
        # devices, read without their config space and group.
        bound = [d for d in host.devices if d.driver == 'iavf' and d is not vf][:256]
        paths = {harness.object_path(d.address) for d in bound}
        clock, before = Clock(daemon, bus), rescans(daemon)
        for unbound in [True, False] * rounds:
            watch.seen.clear()
            clock.start()
            for d in bound:
                if unbound:
                    testbed.unbind(d.devpath)
                else:
                    testbed.bind(d.devpath, 'iavf')
                testbed.uevent(d.devpath, 'unbind' if unbound else 'bind')
                queue.sent()
            clock.end(watch.wait(lambda seen: paths <= {p for m, p in seen
                                                        if m == 'PropertiesChanged'}))
        rows.append(clock.row(f'{len(bound)} VFs unbound, bound to their PropertiesChanged',
                              'full rescan' if rescans(daemon) > before else 'incremental',
                              '-'))

        # 256 VFs at once: the PF's sriov_numvfs goes 0 -> 256, as the kernel does it.
        records = big_sriov.vfs(PLUGGED_PF, max(host.groups) + 1)
        watch.seen.clear()
        clock, before = Clock(daemon, bus), rescans(daemon)
        clock.start()
        for f in records:
            testbed.add_device(f.record())
            testbed.add_group(f.group, 'DMA', big_sriov.generator.MSI_REGION)
            testbed.join_group(f.devpath, f.group)
            testbed.uevent(f.devpath, 'add')
            queue.sent()
        sent = time.monotonic() - clock.begin[0]
        paths = {harness.object_path(f.address) for f in records}
        clock.end(watch.wait(lambda seen: paths <= {p for m, p in seen
                                                    if m == 'InterfacesAdded'}))
        rows.append(clock.row('256 VFs plugged to their 256 InterfacesAdded',
                              'full rescan' if rescans(daemon) > before else 'incremental',
                              '< 1000'))
        rows.append(('  (of which writing the testbed, sending)', '-', ms(sent), '', '', ''))
        rss, peak = rss_kib(daemon.process.pid)
        memory = (f'iommud on {len(host.devices) + len(records)} functions: RSS {rss // 1024} '
                  f'MiB, peak {peak // 1024} MiB')
    finally:
        watch.close()
        daemon.close()
    return rows, memory


if __name__ == '__main__':
    sys.exit(main())
