#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`--json` is one stable schema: every verb that prints JSON is run against a recorded host
(through the daemon, and --offline where it reads the host) and its document checked against
json_schema.py, every number a JSON number; iommuctl(1)'s JSON OUTPUT section must name every
key and fixed value of that schema, and the schema version.
Usage: test-json-schema.py tests/hosts/NAME (a host with groups, e.g. desktop)."""

import json
import os
import re
import sys

from bus_client import SPACE, Client
from harness import HostCase, host_main
from json_schema import DOCUMENTS, VERSION, check, names
from monitor import Monitor

PAGE = 4096
POLICY_TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'policy')


def json_output_section(path):
    with open(path, encoding='utf-8') as f:
        text = f.read()
    match = re.search(r'^# JSON OUTPUT\n(.*?)^# ', text, re.S | re.M)
    if not match:
        raise AssertionError(f'{path} has no JSON OUTPUT section')
    return match.group(1)


class JsonSchemaTest(HostCase):
    def document(self, name, *args, status=0):
        """Runs iommuctl --json ARGS and checks its document against DOCUMENTS[@name]."""
        result = self.harness.iommuctl('--json', *args)
        self.assertEqual(result.returncode, status, f'iommuctl --json {args}: {result.stderr}')
        document = json.loads(result.stdout)
        self.assertEqual(check(DOCUMENTS[name], document), [], f'iommuctl --json {args}')
        self.assertEqual(document['version'], VERSION)
        return document

    def test_inventory(self):
        for prefix in ([], ['--offline']):
            listing = self.document('list', *prefix, 'list')
            with self.subTest(offline=bool(prefix)):
                for device in listing['devices']:
                    self.document('show DEVICE', *prefix, 'show', device['address'])
                for group in listing['groups']:
                    self.document('show GROUP', *prefix, 'show', str(group['id']))
        # The recorded host has what the nullable parts hold: numbers are checked there too.
        seen = {key for d in listing['devices'] for key in ('sriov', 'acs', 'physfn')
                if d[key] is not None}
        self.assertEqual(seen, {'sriov', 'acs'} | ({'physfn'} & seen), listing['devices'])
        self.assertTrue(any(g['reserved_regions'] for g in listing['groups']))

    def test_plans(self):
        group = next(g for g in sorted(self.host.groups) if len(self.host.members(g)) > 1)
        named = next(d for d in self.host.members(group) if not d.is_bridge).address
        plan = self.document('assign, release, rebind', '--dry-run', 'assign', 'win11', named)
        self.assertEqual({row['reason']['kind'] for row in plan['plan']}, {'named', 'peer'})
        self.assertTrue(all(row['rule'] for row in plan['plan']), plan)
        plan = self.document('assign, release, rebind', '--dry-run', 'rebind', named, 'none')
        self.assertEqual([row['rule'] for row in plan['plan']], [None])

    def test_explain_and_policy(self):
        device = next(d.address for d in self.host.devices if d.group is not None)
        self.document('explain', 'explain', device, '--guest', 'win11')
        self.document('explain', 'explain', device, status=1)
        shown = self.document('policy show', 'policy', 'show')
        self.assertTrue(shown['rules'], shown)
        self.assertEqual(self.document('policy reload', 'policy', 'reload')['rules'],
                         len(shown['rules']))

    def test_policy_check(self):
        files = self.harness.iommuctl_json('policy', 'show')['files']
        checked = self.document('policy check', 'policy', 'check', *files)
        self.assertEqual((checked['valid'], checked['errors']), (True, []), checked)
        bad = os.path.join(POLICY_TESTS, 'bad', 'conflict.json')
        checked = self.document('policy check', 'policy', 'check', bad, status=1)
        with open(os.path.join(POLICY_TESTS, 'bad', 'conflict.expected'), encoding='utf-8') as f:
            expected = f.read().splitlines()
        self.assertEqual((checked['valid'], len(checked['errors'])), (False, len(expected)))

    def test_spaces(self):
        self.assertEqual(self.document('space list', 'space', 'list')['spaces'], [])
        creator = Client(self.harness.bus.address)
        self.addCleanup(creator.close)
        path = creator.create('win11')
        creator.call(path, SPACE, 'Map', '(tttu)', (0x100000, PAGE, 0x900000, 3))
        space_id = path.rsplit('/', 1)[1]
        listing = self.document('space list', 'space', 'list')
        self.assertEqual([s['path'] for s in listing['spaces']], [path])
        shown = self.document('space show', 'space', 'show', space_id)
        self.assertEqual(shown['mappings'],
                         [{'iova': 0x100000, 'size': PAGE, 'target': 0x900000, 'prot': 'rw'}])
        self.document('space translate', 'space', 'translate', space_id, '0x100010')

    def test_monitor(self):
        monitor = Monitor(self, '--json')
        self.addCleanup(monitor.stop)
        for line in monitor.lines:
            self.assertEqual(check(DOCUMENTS['monitor'], json.loads(line)), [], line)
        self.assertEqual(json.loads(monitor.lines[0])['event'], 'policy-reloaded')
        self.assertEqual(monitor.stop()[0], 0)

    def test_manual_names_every_key(self):
        section = json_output_section(os.environ['IOMMUCTL_MAN'])
        for name, schema in DOCUMENTS.items():
            with self.subTest(document=name):
                missing = sorted(n for n in names(schema) if f'"{n}"' not in section)
                self.assertEqual(missing, [], f'iommuctl(1) JSON OUTPUT does not name these')
        self.assertIn(f'"version": {VERSION}', section)


if __name__ == '__main__':
    sys.exit(host_main(JsonSchemaTest, sys.argv))
