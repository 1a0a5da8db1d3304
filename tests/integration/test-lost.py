#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the journal holds for a device that leaves the host goes with it: a quarantine record
whose device is removed is closed (logged, journal written), so a device that comes back at
that address starts clean; and a claim that an assignment commits for a device removed while
the job ran (after the removal was applied) is closed the same way as one removed later
(journal, log, OwnershipLost); and the records of devices that left while the daemon was
stopped are closed at its start, an interrupted change's intent among them. Usage: test-lost.py tests/hosts/vfio (its NIC 0000:01:00.0,
alone in group 11, is on vfio-pci with driver_override, so an assignment moves nothing and
waits for /dev/vfio/11: the test holds the job there by making the node only once the removal
was applied)."""

import json
import os
import subprocess
import sys

from bus_client import Signals
from harness import Daemon, HostCase, host_main, object_path, wait_for
from testbed import pci_record

NIC = '0000:01:00.0'
GROUP = 11
REASON = f'the reset of {NIC} failed: timed out'


class LostTest(HostCase):
    per_test = True     # each test removes the NIC

    def journal(self):
        """The journal; empty until the daemon first saves it."""
        try:
            with open(self.harness.daemon.journal, encoding='utf-8') as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def signals(self):
        signals = Signals(self.harness.bus.address)
        self.addCleanup(signals.close)
        return signals

    def group(self):
        groups = {g['id']: g for g in self.harness.iommuctl_json('list')['groups']}
        return groups.get(GROUP)

    def remove_nic(self):
        """Unplugs the NIC and waits until the daemon has applied it."""
        self.testbed.remove_device(self.host.by_address[NIC].devpath)
        wait_for(lambda: object_path(NIC) not in self.harness.managed_objects(),
                 f'{NIC} to disappear', deadline=10.0)

    def test_quarantine_of_a_removed_device_is_closed(self):
        self.restart_with_journal(json.dumps({
            'version': 1, 'claims': [], 'intents': [],
            'quarantined': [{'group': GROUP, 'reason': REASON,
                             'devices': [{'address': NIC, 'host_driver': 'e1000e'}]}]}))
        self.assertEqual(self.group()['state'], 'quarantined')

        self.remove_nic()
        self.assertNotIn('quarantined', self.journal())
        self.assertIn(f'IOMMU group {GROUP}, quarantined, lost {NIC} (removed from the host): '
                      'its quarantine is closed', self.harness.daemon.errors())
        self.assertIsNone(self.group())

        # A device at that address, in that group, on vfio-pci: nobody's, and free to assign.
        self.plug_nic_back()
        self.assertEqual((self.group()['state'], self.group()['quarantine']), ('host', None))
        result = self.harness.iommuctl('--dry-run', 'assign', 'win11', NIC)
        self.assertEqual(result.returncode, 0, result.stderr)

    def plug_nic_back(self):
        """A device appears at the NIC's address, in its group, on vfio-pci."""
        devpath = self.testbed.add_device(pci_record(NIC, 0x8086, 0x10d3, 0x020000))
        self.testbed.add_group(GROUP, 'DMA', '')
        self.testbed.join_group(devpath, GROUP)
        self.testbed.bind(devpath, 'vfio-pci')
        self.testbed.uevent(devpath, 'add')
        wait_for(lambda: (self.group() or {}).get('devices') == [NIC], f'{NIC} to come back')

    def test_records_of_devices_gone_at_start_are_closed(self):
        """The NIC left while the daemon was stopped: its claim, and the quarantine of a device
        that is not there either, are closed at start."""
        self.harness.daemon.close()
        self.testbed.remove_device(self.host.by_address[NIC].devpath, announce=False)
        with open(self.harness.daemon.journal, 'w', encoding='utf-8') as f:
            json.dump({'version': 1, 'intents': [],
                       'claims': [{'group': GROUP, 'owner': 'win11',
                                   'devices': [{'address': NIC, 'host_driver': 'e1000e'}]}],
                       'quarantined': [{'group': 30, 'reason': REASON,
                                        'devices': [{'address': '0000:05:00.0',
                                                     'host_driver': None}]}]}, f)
        self.harness.daemon = Daemon(self.testbed, self.harness.bus)
        self.assertEqual(self.journal().get('claims', []), [])
        self.assertNotIn('quarantined', self.journal())
        errors = self.harness.daemon.errors()
        self.assertIn(f"IOMMU group {GROUP} of 'win11' lost {NIC} (removed from the host)",
                      errors)
        self.assertIn('IOMMU group 30, quarantined, lost 0000:05:00.0 (removed from the host): '
                      'its quarantine is closed', errors)
        self.assertNotIn('is gone', errors)

        self.plug_nic_back()
        self.assertEqual((self.group()['owner'], self.group()['state']), (None, 'host'))

    def test_an_intent_for_a_device_gone_at_start_is_dropped(self):
        """A crash left an assignment of the NIC in flight, and the NIC left while the daemon
        was stopped: recovery has nothing to put back, so the intent (and its claim) go at
        start instead of failing there and on every later uevent."""
        self.harness.daemon.close()
        self.testbed.remove_device(self.host.by_address[NIC].devpath, announce=False)
        with open(self.harness.daemon.journal, 'w', encoding='utf-8') as f:
            json.dump({'version': 1, 'claims': [],
                       'intents': [{'group': GROUP, 'op': 'assign', 'owner': 'win11',
                                    'steps': [{'address': NIC, 'from': 'e1000e',
                                               'to': 'vfio-pci', 'from_override': None}]}]}, f)
        self.harness.daemon = Daemon(self.testbed, self.harness.bus)
        self.assertEqual(self.journal().get('intents', []), [])
        self.assertEqual(self.journal().get('claims', []), [])
        errors = self.harness.daemon.errors()
        self.assertIn(f'IOMMU group {GROUP}: {NIC} left the host; nothing to put back.', errors)
        self.assertIn(f'IOMMU group {GROUP} is back with the host.', errors)
        self.assertNotIn('the journal keeps the change', errors)

    def test_claim_committed_after_the_removal_is_closed(self):
        signals = self.signals()
        assign = subprocess.Popen(
            [os.environ['IOMMUCTL'], 'assign', 'win11', NIC], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
            env=self.harness.bus.env(self.testbed.env(os.environ)))
        self.addCleanup(assign.wait)
        self.addCleanup(assign.kill)
        # The intent is journaled: the job moved nothing and waits for /dev/vfio/11.
        wait_for(lambda: [i['group'] for i in self.journal().get('intents', [])] == [GROUP],
                 'the assignment to start', deadline=10.0)
        self.remove_nic()
        self.assertEqual(self.journal().get('claims', []), [])
        self.testbed.add_device(f'P: /devices/virtual/vfio/{GROUP}\nN: vfio/{GROUP}\n'
                                f'E: SUBSYSTEM=vfio\nE: DEVNAME=/dev/vfio/{GROUP}\n'
                                f'A: dev=243:{GROUP}\n')
        _, stderr = assign.communicate(timeout=60)
        self.assertEqual(assign.returncode, 0, stderr)

        self.assertEqual(signals.wait('OwnershipLost'), ('win11', GROUP, [NIC], 'removed'))
        self.assertEqual(self.journal().get('claims', []), [])
        self.assertEqual(self.journal().get('intents', []), [])
        errors = self.harness.daemon.errors()
        self.assertIn(f'{NIC} left the host during the assign of its IOMMU group {GROUP}.',
                      errors)
        self.assertIn(f"IOMMU group {GROUP} of 'win11' lost {NIC} (removed from the host)",
                      errors)
        self.assertNotIn('is gone', errors)
        self.assertIsNone(self.group())


if __name__ == '__main__':
    # umockdev's uevent sender looks devices up through libudev in this very process.
    sys.exit(host_main(LostTest, sys.argv, preload=True))
