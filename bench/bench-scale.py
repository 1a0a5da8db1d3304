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
PLUGGED_PF = 7      # the PF whose 256 VFs the last row plugs in (no driver: no rebinding)


def load_generator():
    spec = importlib.util.spec_from_file_location('big_sriov', GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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

    def call(self, path, interface, member, args=None):
        return self.conn.call_sync(harness.BUS_NAME, path, interface, member, args, None,
                                   Gio.DBusCallFlags.NONE, 60000, None)

    def close(self):
        self.conn.close_sync(None)


def rescans(daemon):
    return daemon.errors().count('Rescanned:')


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
    rows = []
    with tempfile.TemporaryDirectory(prefix='iommud-bench-scale.') as tmp:
        stem = os.path.join(tmp, generator.NAME)
        with open(stem + '.umockdev', 'w', encoding='utf-8') as f:
            f.write(big.umockdev())
        with open(stem + '.host.json', 'w', encoding='utf-8') as f:
            json.dump(big.host_json(), f)
        host = Host(stem)
        testbed = Testbed(host)
        bus = harness.Bus()
        try:
            rows += measure(args.rounds, generator, host, testbed, bus)
        finally:
            bus.close()
            testbed.close()
    print(f'big-sriov: {len(host.devices)} PCI functions, {len(host.groups)} IOMMU groups '
          f'at start, {args.rounds} rounds, medians')
    print(f'| {"what":<52} | {"path":<12} | {"ms":>9} | {"target":>8} |')
    print(f'| {"-" * 52} | {"-" * 12} | {"-" * 9} | {"-" * 8} |')
    for what, path, value, target in rows:
        print(f'| {what:<52} | {path:<12} | {value} | {target:>8} |')
    return 0


def measure(rounds, generator, host, testbed, bus):
    rows = []
    starts = []
    for _ in range(min(rounds, 3)):
        begin = time.monotonic()
        daemon = harness.Daemon(testbed, bus)
        starts.append(time.monotonic() - begin)
        daemon.close()
    rows.append(('daemon start to bus name (full scan)', '-', ms(statistics.median(starts)),
                 '-'))

    daemon = harness.Daemon(testbed, bus)
    watch = Watch(bus.address)
    try:
        samples = []
        for _ in range(rounds):
            begin = time.monotonic()
            watch.call('/org/iommud1', 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects')
            samples.append(time.monotonic() - begin)
        rows.append(('GetManagedObjects', '-', ms(statistics.median(samples)), '< 100'))

        env = bus.env(testbed.env(harness.plain_env()))
        samples = []
        for _ in range(rounds):
            begin = time.monotonic()
            subprocess.run([os.environ['IOMMUCTL'], '--json', 'list'], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            samples.append(time.monotonic() - begin)
        rows.append(('iommuctl --json list (process start to exit)', '-',
                     ms(statistics.median(samples)), '< 200'))

        # One uevent: a VF leaves its driver (unbind) and comes back (bind).
        vf = next(d for d in host.devices if d.driver == 'iavf')
        path = harness.object_path(vf.address)
        samples, before = [], rescans(daemon)
        for i in range(rounds * 2):
            unbound = i % 2 == 0
            watch.seen.clear()
            begin = time.monotonic()
            if unbound:
                testbed.unbind(vf.devpath)
            else:
                testbed.bind(vf.devpath, 'iavf')
            testbed.uevent(vf.devpath, 'unbind' if unbound else 'bind')
            end = watch.wait(lambda seen: ('PropertiesChanged', path) in seen)
            samples.append(end - begin)
        rows.append(('one uevent (unbind, bind) to its PropertiesChanged',
                     'full rescan' if rescans(daemon) > before else 'incremental',
                     ms(statistics.median(samples)), '< 10'))

        # 256 VFs at once: the PF's sriov_numvfs goes 0 -> 256, as the kernel does it.
        records, group = [], max(host.groups) + 1
        for i in range(generator.VFS_PER_PF):
            f = generator.BigSriov.vf(PLUGGED_PF, i)
            f.group = group + i
            records.append(f)
        watch.seen.clear()
        before = rescans(daemon)
        begin = time.monotonic()
        for i, f in enumerate(records):
            testbed.add_device(f.record())
            testbed.add_group(f.group, 'DMA', generator.MSI_REGION)
            testbed.join_group(f.devpath, f.group)
            testbed.uevent(f.devpath, 'add')
            if i % UEVENT_BURST == UEVENT_BURST - 1:
                # umockdev's sender aborts when the daemon's socket is full (EAGAIN), where
                # the kernel would drop events (ENOBUFS): let the daemon read.
                time.sleep(UEVENT_PAUSE)
        sent = time.monotonic()
        paths = {harness.object_path(f.address) for f in records}
        end = watch.wait(lambda seen: paths <= {p for m, p in seen if m == 'InterfacesAdded'})
        rows.append(('256 VFs plugged to their 256 InterfacesAdded',
                     'full rescan' if rescans(daemon) > before else 'incremental',
                     ms(end - begin), '< 1000'))
        rows.append(('  of which the testbed writing them and sending uevents', '-',
                     ms(sent - begin), '-'))
        rss, peak = rss_kib(daemon.process.pid)
        rows.append((f'daemon memory on {len(host.devices) + len(records)} functions: RSS '
                     f'{rss // 1024} MiB, peak {peak // 1024} MiB', '-', ' ' * 9, '-'))
    finally:
        watch.close()
        daemon.close()
    return rows


if __name__ == '__main__':
    sys.exit(main())
