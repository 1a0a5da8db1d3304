#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Mediated I/O address spaces over D-Bus (org.iommud1.Space): a client creates a space,
maps 10^5 pages in one MapBatch, translates, unmaps (the Unmapped signal comes before the
reply), and its disconnect destroys the space; bad arguments get the named errors and change
nothing; only the creator may change a space; iommuctl space list/show/translate read it.
A stranger may not read a space's layout nor dirty it; one peer's spaces meet the named limit
and never take the daemon off the bus; a bulk unmap is announced in one signal; a huge map
with dirty tracking on answers at once and costs the daemon no memory.
Usage: test-space.py tests/hosts/NAME (any host)."""

import os
import subprocess
import sys
import time

from gi.repository import GLib

from bus_client import MANAGER, SPACE, Client
from harness import BUS_NAME, HostCase, host_main, plain_env, wait_for

PAGE = 4096
MSI_FIRST, MSI_LAST = 0xfee00000, 0xfeefffff
BATCH = 100000


class SpaceTest(HostCase):
    def setUp(self):
        self.client = Client(self.harness.bus.address)
        self.addCleanup(self.client.close)

    def call(self, path, method, signature=None, args=None, reply=None):
        return self.client.call(path, SPACE, method, signature, args, reply)

    def spaces(self):
        return self.client.call(MANAGER, 'org.freedesktop.DBus.Properties', 'Get',
                                '(ss)', ('org.iommud1.Manager', 'Spaces'), '(v)')[0]

    def test_batch_translate_unmap_and_disconnect(self):
        creator = Client(self.harness.bus.address)
        path = creator.create('win11')
        self.assertIn(path, self.spaces())
        batch = [(0x100000000 + i * PAGE, PAGE, 0x4000000 + i * PAGE, 3) for i in range(BATCH)]
        creator.call(path, SPACE, 'MapBatch', '(a(tttu))', (batch,))
        self.assertEqual(creator.prop(path, 'Mappings'), BATCH)
        self.assertEqual(creator.prop(path, 'MappedBytes'), BATCH * PAGE)
        self.assertEqual(creator.prop(path, 'PinnedBytes'), BATCH * PAGE)

        # Anyone may read: the page in the middle, and how far it stays contiguous.
        target, prot, contiguous = self.call(path, 'Translate', '(tu)',
                                             (0x100000000 + 500 * PAGE + 0x123, 2), '(tut)')
        self.assertEqual(target, 0x4000000 + 500 * PAGE + 0x123)
        self.assertEqual(prot, 3)
        self.assertGreaterEqual(contiguous, PAGE - 0x123)
        self.assertLessEqual(contiguous, (BATCH - 500) * PAGE - 0x123)

        # Punching a hole: the Unmapped signal arrives before the reply.
        creator.listen_unmapped(path)
        unmapped = creator.call(path, SPACE, 'Unmap', '(tt)', (0x100000000 + PAGE, 2 * PAGE),
                                '(t)')[0]
        self.assertEqual(unmapped, 2 * PAGE)
        creator.pump()
        self.assertEqual(creator.signals, [(0x100000000 + PAGE, 2 * PAGE)])
        self.assertEqual(creator.prop(path, 'Mappings'), BATCH - 2)
        name, message = self.client.error_of(path, SPACE, 'Translate', '(tu)',
                                             (0x100000000 + PAGE, 1), '(tut)')
        self.assertEqual(name, 'org.iommud1.Error.Fault')
        self.assertIn('nothing is mapped', message)

        # iommuctl reads it too.
        listing = self.harness.iommuctl_json('space', 'list')
        mine = [s for s in listing['spaces'] if s['path'] == path]
        self.assertEqual(len(mine), 1, listing)
        self.assertEqual((mine[0]['guest'], mine[0]['mappings_count']), ('win11', BATCH - 2))

        # The creator leaves the bus: its space goes with it.
        creator.close()
        wait_for(lambda: path not in self.spaces(), f'{path} to be destroyed with its creator')
        name, _ = self.client.error_of(path, SPACE, 'Translate', '(tu)', (0x100000000, 1),
                                       '(tut)')
        self.assertEqual(name, 'org.freedesktop.DBus.Error.UnknownObject')

    def assert_refused(self, path, error, mentions, method, signature, args, reply=None):
        before = [self.client.prop(path, p) for p in ('Mappings', 'MappedBytes')]
        name, message = self.client.error_of(path, SPACE, method, signature, args, reply)
        self.assertEqual(name, 'org.iommud1.Error.' + error, message)
        self.assertIn(mentions, message)
        self.assertEqual([self.client.prop(path, p) for p in ('Mappings', 'MappedBytes')], before,
                         f'{method}{args} changed the space though refused')

    def test_bad_arguments_change_nothing(self):
        path = self.client.create('vm1', aperture_end=(1 << 40) - 1, max_mappings=4,
                                  max_pinned_bytes=8 * PAGE,
                                  reserved=[(0x200000, 0x2fffff)])
        self.call(path, 'Map', '(tttu)', (0x10000, 2 * PAGE, 0x80000, 1))
        cases = [
            ('InvalidArgument', 'multiples of 4 KiB', 'Map', (0x10001, PAGE, 0, 3)),
            ('InvalidArgument', 'multiples of 4 KiB', 'Map', (0x20000, 100, 0, 3)),
            ('InvalidArgument', 'The size is 0', 'Map', (0x20000, 0, 0, 3)),
            ('InvalidArgument', 'prot 0', 'Map', (0x20000, PAGE, 0, 0)),
            ('InvalidArgument', 'leaves the aperture', 'Map', (1 << 40, PAGE, 0, 3)),
            ('Overlap', 'overlaps the mapping 0x10000-0x11fff', 'Map', (0x11000, PAGE, 0, 3)),
            ('Reserved', 'reserved range 0x200000-0x2fffff', 'Map', (0x200000, PAGE, 0, 3)),
            ('Reserved', f'reserved range {MSI_FIRST:#x}-{MSI_LAST:#x}', 'Map',
             (MSI_FIRST, PAGE, 0, 3)),
            ('LimitExceeded', 'pinned bytes', 'Map', (0x40000, 7 * PAGE, 0, 3)),
        ]
        for error, mentions, method, args in cases:
            with self.subTest(args=args):
                self.assert_refused(path, error, mentions, method, '(tttu)', args)
        self.assert_refused(path, 'InvalidArgument', 'multiples of 4 KiB', 'Unmap', '(tt)',
                            (0x10000, 100), '(t)')
        self.assert_refused(path, 'InvalidArgument', 'Dirty tracking is off', 'GetDirty',
                            '(ttb)', (0x10000, PAGE, False), '(ay)')
        # A write to a read-only mapping faults with its reason, and the answer says so.
        self.assert_refused(path, 'Fault', 'does not permit writing', 'Translate', '(tu)',
                            (0x10000, 2), '(tut)')
        # MapBatch is all or nothing: the third entry overlaps, the first two are taken back.
        self.assert_refused(path, 'Overlap', 'Entry 2 of 3', 'MapBatch', '(a(tttu))',
                            ([(0x30000, PAGE, 0, 3), (0x31000, PAGE, 0, 3),
                              (0x10000, PAGE, 0, 3)],))
        # The mapping in the way is one of the batch's own: the error names it, though the
        # rollback took it back before the reply.
        self.assert_refused(path, 'Overlap', 'Entry 1 of 2: IOVA 0x30000-0x30fff overlaps the '
                            'mapping 0x30000-0x31fff', 'MapBatch', '(a(tttu))',
                            ([(0x30000, 2 * PAGE, 0, 3), (0x30000, PAGE, 0, 3)],))
        # Too many records: four more would make five.
        self.assert_refused(path, 'LimitExceeded', 'at most 4 mappings', 'MapBatch',
                            '(a(tttu))', ([(0x50000 + i * 2 * PAGE, PAGE, 0, 3)
                                           for i in range(4)],))
        self.call(path, 'MapBatch', '(a(tttu))', ([],))
        self.assertEqual(self.client.prop(path, 'Mappings'), 1)

        # Bad options of CreateSpace, each named.
        for options, mentions in [({'colour': GLib.Variant('s', 'red')}, "Unknown option 'colour'"),
                                  ({'max_mappings': GLib.Variant('s', '4')},
                                   "'max_mappings' takes a value of type 't'"),
                                  ({'aperture_start': GLib.Variant('t', 0x1001)}, 'aperture'),
                                  ({'group': GLib.Variant('u', 4242)}, 'no IOMMU group 4242')]:
            with self.subTest(options=options):
                name, message = self.client.error_of(MANAGER, 'org.iommud1.Manager',
                                                     'CreateSpace', '(sa{sv})', ('vm1', options),
                                                     '(o)')
                self.assertTrue(name.startswith('org.iommud1.Error.'), name)
                self.assertIn(mentions, message)
        for guest, mentions in [('a/b', "contains '/'"),
                                ('abcd\u202egpj.exe', 'bidi control U+202E at byte 5'),
                                ('win11\u3000', 'ends with a blank U+3000')]:
            name, message = self.client.error_of(MANAGER, 'org.iommud1.Manager', 'CreateSpace',
                                                 '(sa{sv})', (guest, {}), '(o)')
            self.assertEqual(name, 'org.iommud1.Error.InvalidArgument', message)
            self.assertIn(mentions, message)
        # Memory is for a space a VFIO container backs, and only then.
        memory = os.memfd_create('guest-ram')
        self.addCleanup(os.close, memory)
        os.ftruncate(memory, 16 * PAGE)
        with self.assertRaisesRegex(GLib.Error, "InvalidArgument.*'memory' option goes with"):
            self.client.create('vm1', memory_fd=memory)

    def test_a_long_guest_name_is_logged_short(self):
        # 128 two-byte characters: a valid name of the full 256 bytes.
        guest = 'é' * 127 + "'"
        path = self.client.call(MANAGER, 'org.iommud1.Manager', 'CreateSpace', '(sa{sv})',
                                (guest, {}), '(o)')[0]
        self.assertEqual(self.client.prop(path, 'Guest'), guest)
        log = self.harness.daemon.errors()
        self.assertIn(f"created for guest '{'é' * 64}…' by", log)
        self.assertNotIn('é' * 65, log)
        self.call(path, 'Destroy')

    def test_properties_and_dirty_bitmap(self):
        path = self.client.create('vm2', reserved=[(0x7000000, 0x70fffff)])
        aperture = self.client.prop(path, 'Aperture')
        self.assertEqual(aperture, (0, (1 << 48) - 1))
        self.assertEqual(self.client.prop(path, 'ReservedRanges'),
                         [(0x7000000, 0x70fffff), (MSI_FIRST, MSI_LAST)])
        self.assertTrue(self.client.prop(path, 'PageSizes') & (PAGE | 1 << 21 | 1 << 30))
        self.assertEqual(self.client.prop(path, 'Guest'), 'vm2')
        self.assertFalse(self.client.prop(path, 'DirtyTracking'))
        self.call(path, 'Map', '(tttu)', (0, 16 * PAGE, 0x100000, 3))
        self.call(path, 'SetDirtyTracking', '(b)', (True,))
        for page in (1, 9):
            self.call(path, 'Translate', '(tu)', (page * PAGE + 8, 2), '(tut)')
        self.call(path, 'Translate', '(tu)', (3 * PAGE, 1), '(tut)')  # a read marks nothing
        # 20 pages (past the mapping into the hole): ceil(20 / 8) bytes, bit i of page i.
        bitmap = bytes(self.call(path, 'GetDirty', '(ttb)', (0, 20 * PAGE, True), '(ay)')[0])
        self.assertEqual(bitmap, bytes([0b00000010, 0b00000010, 0]))
        bitmap = bytes(self.call(path, 'GetDirty', '(ttb)', (0, 20 * PAGE, False), '(ay)')[0])
        self.assertEqual(bitmap, bytes(3), 'clear did not clear')

        # Only the creator changes it; others read it.
        other = Client(self.harness.bus.address)
        self.addCleanup(other.close)
        name, message = other.error_of(path, SPACE, 'Map', '(tttu)', (0x100000, PAGE, 0, 3))
        self.assertEqual(name, 'org.iommud1.Error.NotOwner', message)
        name, _ = other.error_of(path, SPACE, 'Destroy')
        self.assertEqual(name, 'org.iommud1.Error.NotOwner')
        self.assertEqual(other.call(path, SPACE, 'Translate', '(tu)', (0, 1), '(tut)')[0],
                         0x100000)

        # iommuctl show: the mappings in order; translate: where a DMA goes.
        self.call(path, 'Map', '(tttu)', (0x100000, PAGE, 0x900000, 1))
        shown = self.harness.iommuctl_json('space', 'show', path.rsplit('/', 1)[1])
        self.assertEqual([(m['iova'], m['size'], m['target'], m['prot'])
                          for m in shown['mappings']],
                         [(0, 16 * PAGE, 0x100000, 'rw'), (0x100000, PAGE, 0x900000, 'r')])
        self.assertEqual(shown['reserved'], [[0x7000000, 0x70fffff], [MSI_FIRST, MSI_LAST]])
        self.assertTrue(shown['dirty_tracking'])
        result = self.harness.iommuctl('space', 'translate', path.rsplit('/', 1)[1], '0x100010')
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('0x100010 -> 0x900010 (r)', result.stdout)
        result = self.harness.iommuctl('space', 'translate', path.rsplit('/', 1)[1], '0x200000')
        self.assertEqual(result.returncode, 1)
        self.assertIn('nothing is mapped', result.stderr)
        result = self.harness.iommuctl('space', 'show', '4242')
        self.assertEqual(result.returncode, 1)
        self.assertIn('there is no space 4242', result.stderr)

        # Destroy: the object goes, its mappings announced first.
        self.client.listen_unmapped(path)
        self.call(path, 'Destroy')
        self.client.pump()
        self.assertEqual(sorted(self.client.signals), [(0, 16 * PAGE), (0x100000, PAGE)])
        self.assertNotIn(path, self.spaces())

    def test_strangers_neither_read_nor_dirty(self):
        path = self.client.create('vm3')
        self.call(path, 'Map', '(tttu)', (0, 4 * PAGE, 0x100000, 3))
        self.call(path, 'SetDirtyTracking', '(b)', (True,))
        os.chmod(self.harness.bus.dir, 0o755)  # the stranger must reach the bus socket
        for method, signature, args in [('Translate', 'tu', ['0', '2']),
                                        ('GetDirty', 'ttb', ['0', str(4 * PAGE), 'false']),
                                        ('ListMappings', 'tu', ['0', '0']),
                                        ('Map', 'tttu', [str(8 * PAGE), str(PAGE), '0', '3'])]:
            with self.subTest(method=method):
                stranger = subprocess.run(
                    ['busctl', f'--address={self.harness.bus.address}', 'call', BUS_NAME, path,
                     SPACE, method, signature, *args], capture_output=True, text=True,
                    env=plain_env(), timeout=60, user=65534, group=65534)
                self.assertEqual(stranger.returncode, 1, stranger.stdout)
                self.assertIn('belongs to', stranger.stderr)
        # The stranger's write translation marked nothing; the creator's own does.
        bitmap = bytes(self.call(path, 'GetDirty', '(ttb)', (0, 4 * PAGE, False), '(ay)')[0])
        self.assertEqual(bitmap, bytes(1))
        self.call(path, 'Translate', '(tu)', (PAGE, 2), '(tut)')
        bitmap = bytes(self.call(path, 'GetDirty', '(ttb)', (0, 4 * PAGE, False), '(ay)')[0])
        self.assertEqual(bitmap, bytes([0b10]))

    def test_bulk_unmap_is_one_signal(self):
        path = self.client.create('vm4')
        scattered = [(i * 2 * PAGE, PAGE, i * PAGE, 3) for i in range(5000)]
        self.call(path, 'MapBatch', '(a(tttu))', (scattered,))
        self.client.listen_unmapped(path)
        unmapped = self.call(path, 'Unmap', '(tt)', (0, 10000 * PAGE), '(t)')[0]
        self.assertEqual(unmapped, 5000 * PAGE)
        self.client.pump()  # what arrived before the reply
        self.assertEqual(self.client.batches, 1)
        self.assertEqual(self.client.signals, [(iova, size) for iova, size, _, _ in scattered])

    def test_limits_keep_the_daemon_on_the_bus(self):
        bystander = Client(self.harness.bus.address)
        self.addCleanup(bystander.close)
        kept = bystander.create('vm5')
        greedy = Client(self.harness.bus.address)
        self.addCleanup(greedy.close)
        created, refused = 0, None
        for _ in range(2000):
            try:
                greedy.create('vm6')
                created += 1
            except GLib.Error as e:
                refused = e
                break
        self.assertEqual(created, 64)
        self.assertIsNotNone(refused)
        self.assertIn('LimitExceeded', refused.message)
        self.assertIn('At most 64 spaces per bus peer', refused.message)
        # Still on the bus, its name and every other peer's space intact.
        self.assertTrue(self.harness.bus.has_owner(BUS_NAME))
        self.assertIn(kept, self.spaces())
        self.assertEqual(len(self.spaces()), 65)
        # The greedy peer leaves: its 64 spaces go, one watch told the daemon.
        greedy.close()
        wait_for(lambda: len(self.spaces()) == 1, 'the greedy peer\'s spaces to go')
        self.assertEqual(self.spaces(), [kept])
        # Many peers: each costs the daemon one watch, and their number is bounded too.
        peers = [Client(self.harness.bus.address) for _ in range(128)]
        for peer in peers:
            self.addCleanup(peer.close)
        for peer in peers[:127]:
            peer.create('vm7')
        name, message = peers[127].error_of(MANAGER, 'org.iommud1.Manager', 'CreateSpace',
                                            '(sa{sv})', ('vm7', {}), '(o)')
        self.assertEqual(name, 'org.iommud1.Error.LimitExceeded', message)
        self.assertIn('At most 128 bus peers holding spaces', message)
        self.assertTrue(self.harness.bus.has_owner(BUS_NAME))

    def rss_kib(self):
        with open(f'/proc/{self.harness.daemon.process.pid}/status') as f:
            return next(int(line.split()[1]) for line in f if line.startswith('VmRSS:'))

    def test_huge_map_with_dirty_tracking(self):
        # Dirty bitmaps grow with what is written, not with what is mapped: 2^47 bytes mapped
        # with tracking on (once 4.3 GB and 16 s of a blocked loop) answer at once.
        half = 1 << 47
        path = self.client.create('vm8')
        self.call(path, 'SetDirtyTracking', '(b)', (True,))
        before = self.rss_kib()
        started = time.monotonic()
        self.call(path, 'Map', '(tttu)', (half, half, 0, 3))
        self.call(path, 'SetDirtyTracking', '(b)', (True,))  # again, over all of it
        elapsed = time.monotonic() - started
        self.assertLess(elapsed, 0.5, 'Map and SetDirtyTracking of 2^47 bytes took too long')
        self.assertLess(self.rss_kib() - before, 8 * 1024, 'the daemon grew by more than 8 MiB')

        # Writes in it are reported exactly.
        written = [0, 7, 64, 4096 + 3]
        for page in written:
            self.call(path, 'Translate', '(tu)', (half + page * PAGE + 8, 2), '(tut)')
        for start in (0, 4096):
            bitmap = bytes(self.call(path, 'GetDirty', '(ttb)', (half + start * PAGE,
                                                                 128 * PAGE, True), '(ay)')[0])
            want = bytearray(16)
            for page in written:
                if start <= page < start + 128:
                    want[(page - start) // 8] |= 1 << (page - start) % 8
            self.assertEqual(bitmap, bytes(want))
        self.assertLess(self.rss_kib() - before, 8 * 1024, 'the daemon grew by more than 8 MiB')


if __name__ == '__main__':
    sys.exit(host_main(SpaceTest, sys.argv))
