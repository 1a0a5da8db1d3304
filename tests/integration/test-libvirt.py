#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iommud follows libvirt (here libvirt's own test:/// driver, a node file of running domains
holding PCI hostdevs): at start it reconciles the journal's owners with what runs: a group's
owner shows its domain state, a device a running domain lists but another owns is reported and
never taken, a group whose owner libvirt started (its UUID recorded) but does not run goes
home, groups assigned by hand are left alone, a running domain's devices on vfio-pci are
adopted even before the inventory saw them move; a libvirt that cannot be reached is said once
and the daemon serves on. (Events and real binding are the vm tier's.)
Usage: test-libvirt.py tests/hosts/NAME (desktop: 0000:01:00.0 and .1 share group 1)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from harness import Daemon, HostCase, host_main, wait_for
from stalled_libvirtd import (PROC_CONNECT_DOMAIN_EVENT_REGISTER_ANY,
                              PROC_CONNECT_LIST_ALL_DOMAINS, PROC_DOMAIN_LOOKUP_BY_NAME,
                              StalledLibvirtd)

GROUP = 1
GPU, AUDIO = '0000:01:00.0', '0000:01:00.1'
WIN11_UUID = '4dea22b3-1d52-d8f3-2516-782e98ab3fa0'
OLD_UUID = '9b0fd0c4-5b1e-4f4e-8f7e-0d1e2f3a4b5c'

NODE = f"""<node>
  <cpu><mhz>2000</mhz></cpu>
  <domain type='test'>
    <name>win11</name>
    <uuid>{WIN11_UUID}</uuid>
    <memory>1048576</memory>
    <vcpu>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    <devices>
      <hostdev mode='subsystem' type='pci' managed='no'>
        <source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source>
      </hostdev>
    </devices>
  </domain>
</node>
"""


def claim(host, owner, uuid=None):
    """The journal's claim of group 1 for @owner, the devices' host drivers those they have."""
    c = {'group': GROUP, 'owner': owner,
         'devices': [{'address': a, 'host_driver': host.by_address[a].driver}
                     for a in (GPU, AUDIO)]}
    if uuid:
        c['uuid'] = uuid
    return c


class LibvirtTest(HostCase):
    per_test = True

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix='iommud-libvirt.')
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.node = os.path.join(self.dir, 'node.xml')
        with open(self.node, 'w', encoding='utf-8') as f:
            f.write(NODE)

    def restart(self, claims, uri=None, args=()):
        """Stops the daemon, writes its journal, starts it following @uri (the node file)."""
        self.harness.daemon.close()
        with open(self.harness.daemon.journal, 'w', encoding='utf-8') as f:
            json.dump({'version': 1, 'claims': claims, 'intents': []}, f)
        self.harness.daemon = Daemon(self.testbed, self.harness.bus,
                                     libvirt_uri=uri or f'test://{self.node}', args=args)
        wait_for(lambda: 'Following libvirt' in self.harness.daemon.errors()
                 or 'cannot be reached' in self.harness.daemon.errors(), 'libvirt')

    def group(self, name):
        return self.harness.bus.busctl_json('get-property', 'org.iommud1',
                                            f'/org/iommud1/group/{GROUP}', 'org.iommud1.Group',
                                            name)['data']

    def test_owner_shows_its_domain_state(self):
        self.restart([claim(self.host, 'win11', WIN11_UUID)])
        self.assertEqual(self.group('Owner'), 'win11')
        self.assertEqual(self.group('OwnerState'), 'running')
        listed = {g['id']: g for g in self.harness.iommuctl_json('list')['groups']}
        self.assertEqual((listed[GROUP]['owner'], listed[GROUP]['owner_uuid'],
                          listed[GROUP]['owner_state']), ('win11', WIN11_UUID, 'running'))
        table = self.harness.iommuctl('list').stdout
        self.assertIn('win11 (running)', table)
        shown = self.harness.iommuctl('show', str(GROUP)).stdout
        self.assertIn("Owner's domain:      running", shown)

    def test_a_device_another_owns_is_reported_not_taken(self):
        self.restart([claim(self.host, 'linux')])
        wait_for(lambda: "libvirt runs 'win11' with 0000:01:00.0, which belongs to 'linux': "
                 "not taken from it." in self.harness.daemon.errors(), 'the conflict logged')
        self.assertEqual(self.group('Owner'), 'linux')
        self.assertEqual(self.group('OwnerState'), '')

    def test_what_libvirt_started_and_no_longer_runs_goes_home(self):
        self.restart([claim(self.host, 'oldvm', OLD_UUID)])
        wait_for(lambda: "'oldvm' owns IOMMU group 1 but libvirt does not run it: its groups "
                 "go home." in self.harness.daemon.errors(), 'the orphan sent home')

    def test_groups_assigned_by_hand_are_left_alone(self):
        self.restart([claim(self.host, 'byhand')])
        self.assertEqual(self.group('Owner'), 'byhand')
        self.assertNotIn('go home', self.harness.daemon.errors())

    def test_a_running_domain_is_adopted_before_the_inventory_follows(self):
        # libvirt detached win11's GPU itself (managed='yes': on vfio-pci before QEMU starts),
        # and iommud has not read the uevents yet when it reads the running domain: what the
        # domain holds is adopted from what sysfs shows, and the claim records where libvirt
        # had the devices (vfio-pci) as their way home, not the inventory's drivers.
        os.unlink(self.node)  # libvirt cannot be reached until the node file is back
        self.restart([])
        for address in (GPU, AUDIO):
            devpath = self.host.by_address[address].devpath
            self.testbed.unbind(devpath)
            self.testbed.bind(devpath, 'vfio-pci')  # no uevent: the inventory lags
        # What an assignment needs that umockdev leaves out: drivers_probe, the VFIO node.
        with open(f'{self.testbed.sys}/bus/pci/drivers_probe', 'w', encoding='utf-8'):
            pass
        self.testbed.add_device(f'P: /devices/virtual/vfio/{GROUP}\nN: vfio/{GROUP}\n'
                                f'E: SUBSYSTEM=vfio\nE: DEVNAME=/dev/vfio/{GROUP}\n'
                                f'A: dev=243:{GROUP}\n')
        with open(self.node, 'w', encoding='utf-8') as f:
            f.write(NODE)
        wait_for(lambda: self.group('Owner') == 'win11', "win11's devices adopted")
        with open(self.harness.daemon.journal, encoding='utf-8') as f:
            claims = json.load(f)['claims']
        self.assertEqual([(c['owner'], c.get('uuid')) for c in claims], [('win11', WIN11_UUID)])
        self.assertEqual({d['address']: d['host_driver'] for d in claims[0]['devices']},
                         {GPU: 'vfio-pci', AUDIO: 'vfio-pci'})

    def test_absent_libvirt_is_said_once(self):
        self.restart([], uri=f'test://{self.dir}/no-such-node.xml')
        # Retried (after 1 s, then 2 s; each attempt at debug level), said once.
        wait_for(lambda: self.harness.daemon.errors().count(': not reached: ') >= 2,
                 'a second attempt')
        errors = self.harness.daemon.errors()
        self.assertEqual(errors.count('cannot be reached'), 1, errors)
        # The daemon serves meanwhile.
        listing = self.harness.iommuctl_json('list')
        self.assertEqual(listing['source'], 'daemon')

    def test_a_stalled_libvirtd_never_holds_the_bus(self):
        path = os.path.join(self.dir, 'libvirt-sock')
        stalled = StalledLibvirtd(path, hold={PROC_DOMAIN_LOOKUP_BY_NAME}, started='win11')
        self.addCleanup(stalled.close)
        uri = f'qemu+unix:///system?socket={path}'
        following = f'Following libvirt at {uri}.'
        self.restart([], uri=uri, args=('--libvirt-timeout=2',))
        # The event that 'win11' started makes iommud read it, and libvirtd never answers.
        wait_for(lambda: stalled.holding(PROC_DOMAIN_LOOKUP_BY_NAME), "iommud to read 'win11'")
        given_up = f'libvirt at {uri} has not answered for 2 s while reading domains'
        slowest = 0.0
        end = time.monotonic() + 30
        while given_up not in self.harness.daemon.errors():
            self.assertLess(time.monotonic(), end, f'iommud never logged: {given_up}')
            began = time.monotonic()
            self.harness.bus.busctl('call', 'org.iommud1', '/org/iommud1',
                                    'org.freedesktop.DBus.Peer', 'Ping')
            self.harness.bus.busctl('call', 'org.iommud1', '/org/iommud1',
                                    'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects')
            slowest = max(slowest, time.monotonic() - began)
            self.assertLess(time.monotonic() - began, 1.0, 'the bus waited for libvirt')
        self.assertLess(slowest, 1.0)
        # The stuck call holds the only connection: no new one is opened while it waits, for
        # as long again as the timeout that gave up on it.
        time.sleep(2)
        with stalled.lock:
            self.assertEqual(len(stalled.connections), 1)
        self.assertEqual(self.harness.daemon.errors().count(following), 1)
        # libvirtd comes back (here: hangs up): the stuck call fails, iommud follows again.
        stalled.release()
        wait_for(lambda: self.harness.daemon.errors().count(following) >= 2,
                 'iommud to follow libvirt again', deadline=30)

    def test_the_timeout_bounds_each_call_not_the_connection(self):
        path = os.path.join(self.dir, 'libvirt-sock')
        # Registering for three kinds of event and listing the domains: four calls, each
        # answered well within the timeout, all of them not.
        slow = StalledLibvirtd(path, slow={PROC_CONNECT_DOMAIN_EVENT_REGISTER_ANY,
                                           PROC_CONNECT_LIST_ALL_DOMAINS}, delay=0.8)
        self.addCleanup(slow.close)
        uri = f'qemu+unix:///system?socket={path}'
        self.restart([], uri=uri, args=('--libvirt-timeout=2',))
        self.assertEqual(sum(p in slow.slow for p in slow.calls), 4, slow.calls)
        self.assertIn(f'Following libvirt at {uri}.', self.harness.daemon.errors())
        self.assertNotIn('has not answered', self.harness.daemon.errors())

    def test_a_bad_timeout_is_refused_by_name(self):
        for bad in ('0', '3601', '-5', '2s', ''):
            result = subprocess.run([os.environ['IOMMUD'], f'--libvirt-timeout={bad}'],
                                    capture_output=True, text=True, check=False)
            self.assertEqual((result.returncode, result.stderr),
                             (2, 'iommud: --libvirt-timeout needs whole seconds from 1 to 3600, '
                                 f"not '{bad}'\n"))


if __name__ == '__main__':
    sys.exit(host_main(LibvirtTest, sys.argv))
