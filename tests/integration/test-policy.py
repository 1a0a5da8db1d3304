#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The daemon enforces its policy: an assignment no rule allows is refused naming the default
deny, an allowed one names its rule, a deny for one guest beats an allow for everyone, a
broken policy stops the start and never replaces the one in force on reload.
Usage: test-policy.py tests/hosts/NAME (a host where 0000:01:00.0 shares a group, like
desktop)."""

import json
import os
import shutil
import signal
import sys
import tempfile
import time

from harness import Daemon, HarnessError, HostCase, host_main, wait_for

DEVICE = '0000:01:00.0'
GPU_RULE = {'id': 'gpu-to-win11', 'match': {'address': '0000:01:00.*'},
            'guests': ['win11'], 'action': 'allow'}


class PolicyTest(HostCase):
    per_test = True

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix='iommud-policy.')
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, name, rules=None, text=None):
        with open(os.path.join(self.dir, name), 'w', encoding='utf-8') as f:
            f.write(text if text is not None else json.dumps({'rules': rules}, indent=2))

    def restart(self):
        self.harness.daemon.close()
        self.harness.daemon = None
        self.harness.daemon = Daemon(self.testbed, self.harness.bus, policy_dir=self.dir)

    def dry_run(self, guest):
        return self.harness.iommuctl('--json', '--dry-run', 'assign', guest, DEVICE)

    def assert_denied(self, guest, *mentions):
        result = self.dry_run(guest)
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn('(PolicyDenied)', result.stderr)
        for text in mentions:
            self.assertIn(text, result.stderr)

    def assert_allowed(self, guest, rule_id):
        result = self.dry_run(guest)
        self.assertEqual(result.returncode, 0, result.stderr)
        rules = {tuple(row['rule'].values()) for row in json.loads(result.stdout)['plan']}
        path = os.path.join(self.dir, '10-rules.json')
        self.assertEqual(len(rules), 1, rules)
        found_id, found_file, line = rules.pop()
        self.assertEqual((found_id, found_file), (rule_id, path))
        self.assertIsInstance(line, int)
        table = self.harness.iommuctl('--dry-run', 'assign', guest, DEVICE)
        self.assertIn(f"rule '{rule_id}' ({path}:{line})", table.stdout)

    def test_default_deny(self):
        self.restart()  # an empty directory: no rule
        self.assert_denied('win11', f"'win11' may not have {DEVICE}", 'no rule allows it',
                           'default deny')

    def test_refusals_do_not_flood_the_log(self):
        self.restart()  # an empty directory: every assignment refused
        name = 'x' * 250
        began = time.monotonic()
        for _ in range(40):
            self.harness.bus.busctl('call', 'org.iommud1', '/org/iommud1',
                                    'org.iommud1.Manager', 'Assign', 'sasa{sv}', name, '1',
                                    DEVICE, '1', 'dry-run', 'b', 'true', check=False)
        # At most 10 in each 10 s window the calls spanned (one, unless the machine crawls).
        windows = int((time.monotonic() - began) // 10) + 1
        errors = self.harness.daemon.errors()
        logged = errors.count('may not have')
        self.assertGreaterEqual(logged, 10)
        self.assertLessEqual(logged, 10 * windows, f'{logged} refusals logged for 40 calls')
        # The caller's 250-byte name is cut in the log.
        self.assertIn("'" + 'x' * 64 + "…'", errors)
        self.assertNotIn('x' * 65, errors)

    def test_allowed_by_a_rule_names_it(self):
        self.write('10-rules.json', [GPU_RULE])
        self.restart()
        self.assert_allowed('win11', 'gpu-to-win11')
        self.assert_denied('linux', 'no rule allows it')

    def test_aliases_name_devices(self):
        with open(os.path.join(self.dir, '10-rules.json'), 'w', encoding='utf-8') as f:
            json.dump({'aliases': {'gpu': DEVICE}, 'rules': [GPU_RULE]}, f)
        self.restart()
        result = self.harness.iommuctl('--json', '--dry-run', 'assign', 'win11', 'gpu')
        self.assertEqual(result.returncode, 0, result.stderr)
        named = [row['address'] for row in json.loads(result.stdout)['plan']
                 if row['reason']['kind'] == 'named']
        self.assertEqual(named, [DEVICE])
        status, answer = self.explain_device('gpu', 'win11')
        self.assertEqual((status, answer['allowed']), (0, True), answer)

    def test_deny_for_one_guest_beats_allow_for_all(self):
        self.write('10-rules.json', [
                {'id': 'everyone', 'match': {'address': '0000:01:00.*'}, 'guests': ['*'],
                 'action': 'allow'},
                {'id': 'not-evil', 'match': {'address': '0000:01:00.*'}, 'guests': ['evil'],
                 'action': 'deny'}])
        self.restart()
        self.assert_denied('evil', "rule 'not-evil'", '10-rules.json')
        self.assert_allowed('good', 'everyone')

    def test_max_per_guest(self):
        # The group of 0000:01:00.0 has two endpoints: a limit of one refuses it whole.
        self.write('10-rules.json', [dict(GPU_RULE, options={'max_per_guest': 1})])
        self.restart()
        self.assert_denied('win11', "rule 'gpu-to-win11'", "allows 'win11' at most 1 devices",
                           'this would make 2')
        self.write('10-rules.json', [dict(GPU_RULE, options={'max_per_guest': 2})])
        self.harness.iommuctl('policy', 'reload')
        self.assert_allowed('win11', 'gpu-to-win11')

    def test_require_isolation(self):
        # desktop's root ports isolate with ACS (capability 001f, control 001d).
        self.write('10-rules.json', [dict(GPU_RULE, options={'require_isolation': True})])
        self.restart()
        self.assert_allowed('win11', 'gpu-to-win11')
        # With pcie_acs_override= the groups may lie: refused, saying why.
        with open(os.path.join(self.testbed.proc, 'cmdline'), 'w', encoding='utf-8') as f:
            f.write('root=/dev/sda1 intel_iommu=on pcie_acs_override=downstream\n')
        self.restart()
        self.assert_denied('win11', "rule 'gpu-to-win11'", 'requires isolation',
                           'pcie_acs_override= is on the kernel command line')

    def test_show_the_policy_in_force(self):
        self.write('10-rules.json', [GPU_RULE, {
                'id': 'nics', 'match': {'vendor': '8086', 'class': '0200'},
                'guests': ['router-*', 'unit:dpdk.service'], 'action': 'allow',
                'options': {'autobind': True, 'max_per_guest': 2}}])
        self.restart()
        shown = self.harness.iommuctl_json('policy', 'show')
        path = os.path.join(self.dir, '10-rules.json')
        self.assertEqual(shown['files'], [path])
        self.assertEqual([(r['id'], r['file'], r['action']) for r in shown['rules']],
                         [('gpu-to-win11', path, 'allow'), ('nics', path, 'allow')])
        self.assertEqual(shown['rules'][0]['match'], 'address=0000:01:00.*')
        self.assertEqual(shown['rules'][1]['match'], 'vendor=8086 class=020000/ffff00')
        self.assertEqual(shown['rules'][1]['options'], 'autobind max_per_guest=2')
        self.assertEqual(shown['rules'][1]['guests'], ['router-*', 'unit:dpdk.service'])
        self.assertTrue(all(r['line'] > 1 for r in shown['rules']))
        table = self.harness.iommuctl('policy', 'show')
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn('gpu-to-win11', table.stdout)
        self.assertIn(f'{path}:', table.stdout)

    def test_a_change_in_the_directory_reloads(self):
        self.write('10-rules.json', [GPU_RULE])
        self.restart()
        self.assert_allowed('win11', 'gpu-to-win11')
        self.write('20-more.json', text='{"rules": [')
        wait_for(lambda: 'the policy in force stays' in self.harness.daemon.errors(),
                 'the daemon to notice the broken file in its directory')
        self.assert_allowed('win11', 'gpu-to-win11')
        self.write('20-more.json', [{'id': 'not-win11', 'match': {'address': '0000:01:00.*',
                                                                   'driver': 'amdgpu'},
                                     'guests': ['win11'], 'action': 'deny'}])
        wait_for(lambda: self.dry_run('win11').returncode == 1,
                 'the new deny rule to be in force without a reload')
        self.assert_denied('win11', "rule 'not-win11'")

    def explain_device(self, device, guest):
        args = ['--json', 'explain', device] + (['--guest', guest] if guest else [])
        result = self.harness.iommuctl(*args)
        return result.returncode, json.loads(result.stdout)

    def explain(self, guest):
        return self.explain_device(DEVICE, guest)

    def test_explain(self):
        self.write('10-rules.json', [GPU_RULE])
        self.restart()
        status, answer = self.explain('win11')
        self.assertEqual((status, answer['allowed']), (0, True), answer)
        kinds = {r['kind'] for r in answer['reasons']}
        self.assertIn('peer', kinds, 'the group peer is not named')
        texts = ' '.join(r['text'] for r in answer['reasons'])
        self.assertIn("allowed by rule 'gpu-to-win11'", texts)
        status, answer = self.explain('linux')
        self.assertEqual((status, answer['allowed']), (1, False))
        self.assertIn('no rule allows it', ' '.join(r['text'] for r in answer['reasons']))
        status, answer = self.explain(None)
        self.assertEqual(answer['guest'], None)
        self.assertIn('name a guest', ' '.join(r['text'] for r in answer['reasons']))
        table = self.harness.iommuctl('explain', DEVICE, '--guest', 'win11')
        self.assertIn(f"May 'win11' own {DEVICE}? Yes.", table.stdout)

    def test_broken_policy_stops_the_start(self):
        self.write('10-rules.json', text='{"rules": [{"id": 1}]}')
        self.harness.daemon.close()
        self.harness.daemon = None
        with self.assertRaises(HarnessError) as caught:
            Daemon(self.testbed, self.harness.bus, policy_dir=self.dir)
        self.assertIn('is broken, not starting', str(caught.exception))
        self.assertIn("10-rules.json:1:12: the rule has no 'match'", str(caught.exception))
        self.assertIn('10-rules.json:1:19: expected a string', str(caught.exception))

    def test_reload_keeps_the_policy_in_force(self):
        self.write('10-rules.json', [GPU_RULE])
        self.restart()
        self.write('20-broken.json', text='{"rules": [ {"id": "x", "match": {}, "guests": ["*"], '
                                          '"action": "perhaps"} ]}')
        result = self.harness.iommuctl('policy', 'reload')
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn('the policy in force stays', result.stderr)
        self.assertIn("20-broken.json:1:65: 'perhaps' is not an action", result.stderr)
        self.assert_allowed('win11', 'gpu-to-win11')
        # SIGHUP, the other way to reload, keeps it too.
        self.harness.daemon.process.send_signal(signal.SIGHUP)
        wait_for(lambda: 'the policy in force stays' in self.harness.daemon.errors(),
                 'the daemon to report the broken policy on SIGHUP')
        self.assert_allowed('win11', 'gpu-to-win11')
        # Fixed, the reload takes: the new rule decides.
        self.write('20-broken.json', [{'id': 'no-gpu-for-win11', 'match':
                                        {'address': '0000:01:00.*', 'class_name': 'vga'},
                                        'guests': ['win11'], 'action': 'deny'}])
        result = self.harness.iommuctl('policy', 'reload')
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('now enforces 2 rules', result.stdout)


if __name__ == '__main__':
    sys.exit(host_main(PolicyTest, sys.argv))
