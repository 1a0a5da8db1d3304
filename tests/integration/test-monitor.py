#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iommuctl monitor: the real iommuctl streams each change of the umockdev host as iommud
announces it, one line each (--json: one object per line, checked against json_schema.py):
devices and groups added and removed, a driver changed, a group become viable, a PF's VF
count changed, the policy reloaded, an owned device lost; SIGINT ends it with status 0, the
daemon going away with status 1 and a message. Usage: test-monitor.py tests/hosts/NAME (a
host with a single-endpoint group bound to a driver)."""

import json
import sys

from harness import HostCase, host_main
from monitor import Monitor
from json_schema import DOCUMENTS, check
from testbed import free_address, pci_record as record


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

        # Its driver changes: off to vfio-pci, and the group becomes viable.
        self.testbed.unbind(devpath)
        self.testbed.uevent(devpath, 'unbind')
        self.event(monitor, 'driver-changed', device=address, **{'from': 'e1000e', 'to': None})
        self.event(monitor, 'viability-changed', group=group, viable=True)
        self.testbed.bind(devpath, 'vfio-pci')
        self.testbed.uevent(devpath, 'bind')
        self.event(monitor, 'driver-changed', device=address, **{'from': None, 'to': 'vfio-pci'})

        # As a PF, it gets VFs (the kernel announces sriov_numvfs with a change uevent).
        with open(f'{self.testbed.sys}{devpath}/sriov_numvfs', 'w', encoding='utf-8') as f:
            f.write('4\n')
        self.testbed.uevent(devpath, 'change')
        self.event(monitor, 'vfs-changed', device=address, num_vfs=4)

        # It goes.
        self.testbed.remove_device(devpath)
        self.event(monitor, 'device-removed', device=address, group=group)
        self.event(monitor, 'group-removed', group=group)

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
