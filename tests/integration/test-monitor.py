#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iommuctl monitor: the real iommuctl streams each change of the umockdev host as iommud
announces it, one line each (--json: one object per line, checked against json_schema.py):
devices and groups added and removed, a driver changed, a group become viable, a PF's VF
count changed, the policy reloaded, an owned device lost; SIGINT ends it with status 0, the
daemon going away with status 1 and a message. Once a new device settled, the --json lines
are exactly those expected, in order, byte for byte. Usage: test-monitor.py tests/hosts/NAME
(a host with a single-endpoint group bound to a driver)."""

import json
import sys

from harness import HostCase, host_main
from monitor import Monitor
from json_schema import DOCUMENTS, check
from testbed import free_address, pci_record as record


def json_line(event, **fields):
    """The --json line of @event with @fields (from_ for from), as iommuctl(1) spells it."""
    record = {'version': 2, 'event': event, 'device': None, 'group': None, 'from': None,
              'to': None, 'viable': None, 'num_vfs': None, 'rules': None, 'owner': None,
              'devices': [], 'reason': None}
    record.update({k.rstrip('_'): v for k, v in fields.items()})
    return json.dumps(record, separators=(',', ':'))


class MonitorTest(HostCase):
    per_test = True

    def monitor(self, *options):
        monitor = Monitor(self, *options)
        self.addCleanup(monitor.stop)
        return monitor

    def event(self, monitor, name, **fields):
        return monitor.wait(lambda e: e['event'] == name
                            and all(e[k] == v for k, v in fields.items()),
                            f'{name} {fields}')

    def reload(self, monitor):
        """Reloads the policy and waits for its line: every line iommud signalled before is
        printed by then."""
        reloaded = json_line('policy-reloaded', rules=1)
        count = monitor.lines.count(reloaded)
        self.harness.iommuctl('policy', 'reload')
        monitor.wait_lines(lambda lines: lines.count(reloaded) > count, 'the line of the reload')
        return len(monitor.lines)

    def expect(self, monitor, start, expected):
        """The lines from @start on are @expected, once there are as many."""
        monitor.wait_lines(lambda lines: len(lines) >= start + len(expected),
                           f'{len(expected)} lines after line {start}')
        self.assertEqual(monitor.lines[start:], expected)

    def test_json_stream(self):
        monitor = self.monitor('--json')
        self.event(monitor, 'policy-reloaded', rules=1)

        # A device appears in a group of its own.
        address, group = free_address(self.host), max(self.host.groups) + 1
        devpath = self.testbed.add_device(record(address, 0x8086, 0x15bc, 0x020000,
                                                 attributes=[('sriov_totalvfs', 8),
                                                             ('sriov_numvfs', 0)]))
        self.testbed.add_group(group, 'DMA', '')
        self.testbed.join_group(devpath, group)
        self.testbed.bind(devpath, 'e1000e')
        self.testbed.uevent(devpath, 'add')
        # umockdev announces the device as it creates it, before its group and driver: the
        # daemon may read it before them, so the driver may come in a later line.
        self.event(monitor, 'device-added', device=address, group=group)
        self.event(monitor, 'group-added', group=group)
        monitor.wait(lambda e: e['device'] == address
                     and e['event'] in ('device-added', 'driver-changed') and e['to'] == 'e1000e',
                     f'{address} on e1000e')

        # Settled: from here on, each change prints exactly its lines, in order.
        start = self.reload(monitor)
        expected = []

        # Its driver changes: off to vfio-pci, and the group becomes viable.
        self.testbed.unbind(devpath)
        self.testbed.uevent(devpath, 'unbind')
        expected += [json_line('driver-changed', device=address, group=group, from_='e1000e'),
                     json_line('viability-changed', group=group, viable=True)]
        self.expect(monitor, start, expected)
        self.testbed.bind(devpath, 'vfio-pci')
        self.testbed.uevent(devpath, 'bind')
        expected += [json_line('driver-changed', device=address, group=group, to='vfio-pci')]
        self.expect(monitor, start, expected)

        # As a PF, it gets VFs (the kernel announces sriov_numvfs with a change uevent).
        with open(f'{self.testbed.sys}{devpath}/sriov_numvfs', 'w', encoding='utf-8') as f:
            f.write('4\n')
        self.testbed.uevent(devpath, 'change')
        expected += [json_line('vfs-changed', device=address, group=group, num_vfs=4)]
        self.expect(monitor, start, expected)

        # It goes, and nothing more is said of it.
        self.testbed.remove_device(devpath)
        expected += [json_line('device-removed', device=address, group=group),
                     json_line('group-removed', group=group)]
        self.expect(monitor, start, expected)
        self.reload(monitor)
        self.assertEqual(monitor.lines[start:],
                         expected + [json_line('policy-reloaded', rules=1)])

        for line in monitor.lines:
            with self.subTest(line=line):
                self.assertEqual(check(DOCUMENTS['monitor'], json.loads(line)), [])
        self.assertEqual(monitor.stop(), (0, ''))

    def test_ownership_lost(self):
        device = next(d for d in self.host.devices
                      if d.group is not None and len(self.host.members(d.group)) == 1
                      and not d.is_bridge)
        self.restart_owned('vm1', [device])
        monitor = self.monitor('--json')
        text = self.monitor()

        self.testbed.remove_device(device.devpath)
        self.event(monitor, 'ownership-lost', group=device.group, owner='vm1',
                   devices=[device.address], reason='removed')
        text.wait(lambda line: line == f'group {device.group} lost by vm1 (removed): '
                  f'{device.address}', 'the human line of the lost group')
        text.wait(lambda line: line == f'device {device.address} removed',
                  'the human line of the removed device')

    def test_daemon_goes_away(self):
        monitor = self.monitor()
        self.assertIn('policy reloaded (1 rules)', monitor.lines)
        self.harness.daemon.close()
        self.harness.daemon = None
        monitor.process.wait(timeout=20)
        status, stderr = monitor.stop()
        self.assertEqual(status, 1)
        self.assertIn('iommud left the bus', stderr)

    def test_no_daemon(self):
        self.harness.daemon.close()
        self.harness.daemon = None
        result = self.harness.iommuctl('monitor')
        self.assertEqual(result.returncode, 1)
        self.assertIn('iommud is not running', result.stderr)


if __name__ == '__main__':
    # umockdev's uevent sender looks devices up through libudev in this very process.
    sys.exit(host_main(MonitorTest, sys.argv, preload=True))
