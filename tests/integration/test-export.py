#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""iommuctl export and the files iommud keeps written, on one host of tests/hosts/: each
format parsed with a real parser (json and PyYAML for kubevirt, configparser for nova, the NFD
feature-file grammar, prometheus_client's parser and the exposition grammar for prometheus)
and compared with what this test computes from the host's files and the policy it writes:
a group is listed whole when every endpoint is on a VFIO driver, on none, or taken by an
autobind rule; other groups are absent with all their members; a vendor:device shared with
an absent device goes to Nova by address; resource names and aliases come from the policy.
Usage: test-export.py tests/hosts/NAME (meson runs it once per host, in TAP)."""

import collections
import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml
from prometheus_client.parser import text_string_to_metric_families

from bus_client import SPACE, Client
from harness import BUS_NAME, Daemon, Harness, HostCase, build_path, host_main, wait_for
from host import Host
from testbed import Testbed

# Label syntax (Kubernetes' IsQualifiedName and IsValidLabelValue), which NFD applies to
# the names and values of a feature file.
NFD_NAME = re.compile(r'^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}'
                      r'[A-Za-z0-9])?$')
NFD_VALUE = re.compile(r'^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$')
# The text exposition format 0.0.4.
METRIC_NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf'^({METRIC_NAME})(\{{{LABEL}(?:,{LABEL})*\}})? (-?[0-9.e+]+|NaN|[+-]Inf)$')
COMMENT = re.compile(rf'^# (HELP|TYPE) ({METRIC_NAME}) (.*)$')
FILE_DEADLINE = 1.0  # seconds: a change shows in the files within this


def hex_id(n):
    return f'{n:04x}'


class Expected:
    """What the exports must say, from the host's files and the test's policy alone."""

    def __init__(self, host, autobind, resource_names, aliases):
        self.host = host
        iommu = host.expected_iommu()
        assigns = bool(host.groups) and (iommu['interrupt_remapping']
                                         or iommu['allow_unsafe_interrupts'])
        self.listed_groups = []
        for group in sorted(host.groups):
            endpoints = [d for d in host.members(group) if not d.is_bridge]
            if assigns and endpoints and all(not host.blocks(d) or d.address in autobind
                                             for d in endpoints):
                self.listed_groups.append(group)
        self.listed = [d for d in host.devices
                       if not d.is_bridge and d.group in self.listed_groups]
        listed_addresses = {d.address for d in self.listed}
        self.ids = collections.OrderedDict()
        for d in sorted(host.devices, key=lambda d: (d.number('vendor'), d.number('device'))):
            if d.is_bridge:
                continue
            key = (d.number('vendor'), d.number('device'))
            entry = self.ids.setdefault(key, {'listed': [], 'unlisted': 0})
            if d.address in listed_addresses:
                entry['listed'].append(d)
            else:
                entry['unlisted'] += 1
        for entry in self.ids.values():
            entry['listed'].sort(key=lambda d: d.address)
        self.resource_names = resource_names
        self.aliases = aliases
        self.listed_ids = [k for k, e in self.ids.items() if e['listed']]

    def resource_name(self, key):
        return self.resource_names.get(key, f'iommud.io/{hex_id(key[0])}_{hex_id(key[1])}')

    def kubevirt(self):
        return {'spec': {'configuration': {'permittedHostDevices': {'pciHostDevices': [
            {'pciVendorSelector': f'{key[0]:04X}:{key[1]:04X}',
             'resourceName': self.resource_name(key)}
            for key in self.listed_ids]}}}}

    @staticmethod
    def device_type(d):
        if d.link_target('physfn') is not None:
            return 'type-VF'
        return 'type-PF' if d.number('sriov_totalvfs') is not None else 'type-PCI'

    def nova_device_spec(self):
        spec = [{'vendor_id': hex_id(k[0]), 'product_id': hex_id(k[1])}
                for k in self.listed_ids if self.ids[k]['unlisted'] == 0]
        spec += [{'address': d.address, 'vendor_id': hex_id(d.number('vendor')),
                  'product_id': hex_id(d.number('device'))}
                 for d in self.listed
                 if self.ids[(d.number('vendor'), d.number('device'))]['unlisted'] > 0]
        return spec

    def nova_aliases(self):
        aliases = []
        for key in self.listed_ids:
            first = self.ids[key]['listed'][0]
            aliases.append({'name': self.resource_name(key).split('/', 1)[1],
                            'vendor_id': hex_id(key[0]), 'product_id': hex_id(key[1]),
                            'device_type': self.device_type(first)})
        for name, address in self.aliases.items():
            d = self.host.by_address[address]
            if d.group in self.listed_groups and not d.is_bridge:
                key = (d.number('vendor'), d.number('device'))
                aliases.append({'name': name, 'vendor_id': hex_id(key[0]),
                                'product_id': hex_id(key[1]),
                                'device_type': self.device_type(self.ids[key]['listed'][0])})
        return aliases

    def nfd(self, owned_groups=()):
        iommu = self.host.expected_iommu()

        def flag(b):
            return 'true' if b else 'false'

        features = {
            'iommu.present': flag(bool(self.host.groups)),
            'iommu.interrupt_remapping': flag(iommu['interrupt_remapping']),
            'iommu.acs_override': flag(iommu['acs_override']),
            'iommud.assignable_groups': str(len(self.listed_groups)),
        }
        for key in self.listed_ids:
            name = f'{hex_id(key[0])}_{hex_id(key[1])}'
            devices = self.ids[key]['listed']
            features[f'iommud.assignable.{name}'] = str(len(devices))
            features[f'iommud.available.{name}'] = str(
                sum(1 for d in devices if d.group not in owned_groups))
        return features

    def metrics(self, rules):
        host = self.host
        drivers = collections.Counter(d.driver or 'none' for d in host.devices)
        return {
            ('iommud_iommu_present', ()): int(bool(host.groups)),
            ('iommud_interrupt_remapping', ()): int(host.expected_iommu()['interrupt_remapping']),
            ('iommud_groups', ()): len(host.groups),
            ('iommud_groups_viable', ()): sum(1 for g in host.groups
                                              if host.expected_group(g)['viable']),
            ('iommud_groups_assignable', ()): len(self.listed_groups),
            ('iommud_groups_quarantined', ()): 0,
            ('iommud_policy_rules', ()): rules,
            ('iommud_spaces', ()): 0,
            **{('iommud_devices', (('driver', name),)): n for name, n in drivers.items()},
        }


def parse_nfd(test, text):
    """A feature file as NFD's local source reads it: '#' comments, else name=value."""
    features = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line or line.startswith('#'):
            continue
        name, sep, value = line.partition('=')
        test.assertTrue(sep, f'line {number}: no "=": {line!r}')
        test.assertRegex(name, NFD_NAME, f'line {number}: not a label name')
        test.assertRegex(value, NFD_VALUE, f'line {number}: not a label value')
        test.assertNotIn(name, features, f'line {number}: {name} given twice')
        features[name] = value
    return features


def check_exposition(test, text):
    """The grammar promtool checks: HELP and TYPE once per family, before its samples, which
    are contiguous; counters end in _total; no series twice."""
    typed, helped, done, series, current = {}, set(), set(), set(), None
    test.assertTrue(text.endswith('\n'))
    for number, line in enumerate(text.splitlines(), 1):
        comment = COMMENT.match(line)
        if comment:
            kind, name, rest = comment.groups()
            test.assertNotIn(name, done, f'line {number}: {name} after its samples')
            if kind == 'TYPE':
                test.assertIn(rest, ('counter', 'gauge'), f'line {number}')
                test.assertNotIn(name, typed, f'line {number}: second TYPE')
                typed[name] = rest
                if rest == 'counter':
                    test.assertTrue(name.endswith('_total'), f'line {number}: counter name')
                else:
                    test.assertFalse(name.endswith('_total'), f'line {number}: gauge name')
            else:
                test.assertNotIn(name, helped, f'line {number}: second HELP')
                test.assertTrue(rest.strip(), f'line {number}: empty HELP')
                helped.add(name)
            continue
        sample = SAMPLE.match(line)
        test.assertIsNotNone(sample, f'line {number}: not a sample: {line!r}')
        name, labels = sample.group(1), sample.group(2) or ''
        test.assertIn(name, typed, f'line {number}: {name} has no TYPE before it')
        test.assertIn(name, helped, f'line {number}: {name} has no HELP before it')
        if current != name:
            if current is not None:
                done.add(current)
            test.assertNotIn(name, done, f'line {number}: {name} split')
            current = name
        test.assertNotIn((name, labels), series, f'line {number}: series twice')
        series.add((name, labels))


def parse_metrics(test, text):
    """{(name, ((label, value), ...)): value} through prometheus_client's parser."""
    check_exposition(test, text)
    samples = {}
    for family in text_string_to_metric_families(text):
        test.assertIn(family.type, ('counter', 'gauge'))
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def parse_nova(text):
    """nova.conf read as oslo.config does, with configparser: [pci] device_spec (a JSON list)
    and alias repeated (each a JSON object), collected in order."""
    class Multi(dict):
        def __setitem__(self, key, value):
            if isinstance(value, list) and key in self:
                self[key].extend(value)
            else:
                super().__setitem__(key, value)

    parser = configparser.ConfigParser(strict=False, dict_type=Multi, interpolation=None)
    parser.read_string(text)
    section = parser['pci']
    return ([json.loads(line) for line in section.get('device_spec', '').splitlines()],
            [json.loads(line) for line in section.get('alias', '').splitlines()])


class ExportTest(HostCase):
    @classmethod
    def setUpClass(cls):
        cls.host = Host(cls.host_stem)
        cls.testbed = Testbed(cls.host)
        cls.addClassCleanup(cls.testbed.close)
        cls.dir = tempfile.mkdtemp(prefix=f'iommud-export-{cls.host.name}.')
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.policy_dir = os.path.join(cls.dir, 'policy.d')
        os.mkdir(cls.policy_dir)
        cls.write_policy(cls.host)
        cls.nfd_file = os.path.join(cls.dir, 'features.d', 'iommud')
        cls.metrics_file = os.path.join(cls.dir, 'textfile', 'iommud.prom')
        os.makedirs(os.path.dirname(cls.nfd_file))
        os.makedirs(os.path.dirname(cls.metrics_file))
        cls.harness = Harness(cls.testbed, start_daemon=False)
        cls.addClassCleanup(cls.harness.close)
        cls.harness.daemon = Daemon(cls.testbed, cls.harness.bus, policy_dir=cls.policy_dir,
                                    args=[f'--nfd-file={cls.nfd_file}',
                                          f'--metrics-file={cls.metrics_file}'])

    @classmethod
    def write_policy(cls, host):
        """Everything allowed; an autobind rule for each blocking endpoint of one group that is
        not viable, one with a peer where there is one, so that group is listed whole; a
        resource name for the first listed id; an alias of a listed device and one of an
        absent device."""
        plain = Expected(host, set(), {}, {})
        candidates = []
        for group in sorted(host.groups):
            endpoints = [d for d in host.members(group) if not d.is_bridge]
            blockers = [d for d in endpoints if host.blocks(d)]
            if blockers and group not in plain.listed_groups:
                candidates.append((len(endpoints) < 2, len(blockers), group, blockers))
        autobind = set()
        if candidates:
            autobind = {d.address for d in min(candidates)[3]}
        cls.autobind = autobind
        rules = [{'id': 'everything', 'match': {}, 'guests': ['*'], 'action': 'allow'}]
        for i, address in enumerate(sorted(autobind)):
            rules.append({'id': f'autobind-{i}', 'match': {'address': address},
                          'guests': ['*'], 'action': 'allow', 'options': {'autobind': True}})
        unnamed = Expected(host, autobind, {}, {})
        resource_names, aliases = {}, {}
        if unnamed.listed_ids:
            key = unnamed.listed_ids[0]
            name = f'example.com/named-{hex_id(key[0])}_{hex_id(key[1])}'
            resource_names[key] = name
            rules.append({'id': 'named', 'match': {'vendor': hex_id(key[0]),
                                                   'device': hex_id(key[1])},
                          'guests': ['*'], 'action': 'allow',
                          'options': {'resource_name': name}})
            aliases['listed-one'] = unnamed.listed[-1].address
        absent = [d for d in host.devices if not d.is_bridge and d.group is not None
                  and d.group not in unnamed.listed_groups]
        if absent:
            aliases['absent-one'] = absent[0].address
        cls.rules = rules
        cls.expected = Expected(host, autobind, resource_names, aliases)
        with open(os.path.join(cls.policy_dir, '10-export.json'), 'w', encoding='utf-8') as f:
            json.dump({'aliases': aliases, 'rules': rules}, f, indent=2)

    def export(self, fmt):
        result = self.harness.iommuctl('export', fmt)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, '')
        return result.stdout

    def test_groups_whole(self):
        """Every endpoint of a listed group is listed; nothing of another group is."""
        listed = {(d.number('vendor'), d.number('device')) for d in self.expected.listed}
        selectors = {entry['pciVendorSelector'] for entry in json.loads(self.export(
            'kubevirt'))['spec']['configuration']['permittedHostDevices']['pciHostDevices']}
        self.assertEqual(selectors, {f'{v:04X}:{d:04X}' for v, d in listed})
        for group in self.expected.listed_groups:
            for d in self.host.members(group):
                if not d.is_bridge:
                    self.assertIn(f'{d.number("vendor"):04X}:{d.number("device"):04X}',
                                  selectors)

    def test_kubevirt_json_and_yaml(self):
        patch = json.loads(self.export('kubevirt'))
        self.assertEqual(patch, self.expected.kubevirt())
        self.assertEqual(yaml.safe_load(self.export('kubevirt-yaml')), patch)

    def test_nova(self):
        device_spec, aliases = parse_nova(self.export('nova'))
        self.assertEqual(device_spec, [self.expected.nova_device_spec()])
        self.assertEqual(aliases, self.expected.nova_aliases())
        names = {a['name'] for a in aliases}
        if 'listed-one' in self.expected.aliases:
            self.assertIn('listed-one', names)
        self.assertNotIn('absent-one', names)
        # No device of an absent group reaches Nova, by address or by an id it shares.
        text = self.export('nova')
        for d in self.host.devices:
            if d.group not in self.expected.listed_groups:
                self.assertNotIn(d.address, text)

    def test_nfd(self):
        self.assertEqual(parse_nfd(self, self.export('nfd')), self.expected.nfd())

    def test_prometheus(self):
        samples = parse_metrics(self, self.export('prometheus'))
        for key, value in self.expected.metrics(len(self.rules)).items():
            with self.subTest(metric=key):
                self.assertEqual(samples.get(key), value)
        self.assertEqual(sum(v for (name, _), v in samples.items() if name == 'iommud_devices'),
                         len(self.host.devices))
        self.assertFalse([k for k in samples if k[0] == 'iommud_groups_owned'])

    def test_autobind_failures_counted(self):
        """Under umockdev no driver binds: each autobind job fails, and is counted."""
        def failures():
            return parse_metrics(self, self.export('prometheus'))[
                ('iommud_binder_failures_total', ())]

        wait_for(lambda: failures() >= len(self.autobind), 'the autobind jobs to fail')
        self.assertEqual(failures(), len(self.autobind))

    def test_files_kept_written(self):
        """The files say what Export says; a policy reload (a good one, then a refused one)
        shows in the metrics file within a second, and the NFD file follows the policy; so do
        a space's Map and Unmap in its mapped bytes. A daemon of its own, whose policy has no
        autobind: no job writes the files meanwhile."""
        def read(path):
            with open(path, encoding='utf-8') as f:
                return f.read()

        with open(os.path.join(self.policy_dir, '10-export.json'), encoding='utf-8') as f:
            policy = json.load(f)
        policy['rules'] = [r for r in policy['rules'] if not r['id'].startswith('autobind-')]
        quiet_dir = os.path.join(self.dir, 'quiet.d')
        os.makedirs(quiet_dir, exist_ok=True)
        with open(os.path.join(quiet_dir, '10-export.json'), 'w', encoding='utf-8') as f:
            json.dump(policy, f)
        files = os.path.join(self.dir, 'quiet-files')
        os.makedirs(files, exist_ok=True)
        nfd_file, metrics_file = os.path.join(files, 'nfd'), os.path.join(files, 'x.prom')
        harness = Harness(self.testbed, start_daemon=False)
        self.addCleanup(harness.close)
        harness.daemon = Daemon(self.testbed, harness.bus, policy_dir=quiet_dir,
                                args=[f'--nfd-file={nfd_file}', f'--metrics-file={metrics_file}'])
        quiet = Expected(self.host, set(), self.expected.resource_names, self.expected.aliases)

        def export(fmt):
            return harness.iommuctl('export', fmt).stdout

        self.assertEqual(read(nfd_file), export('nfd'))
        self.assertEqual(parse_nfd(self, read(nfd_file)), quiet.nfd())
        self.assertEqual(read(metrics_file), export('prometheus'))
        self.assertEqual(sorted(os.listdir(files)), ['nfd', 'x.prom'])  # no temporary left
        before = parse_metrics(self, read(metrics_file))

        def counter(name):
            return parse_metrics(self, read(metrics_file))[(name, ())]

        result = harness.iommuctl('policy', 'reload')
        self.assertEqual(result.returncode, 0, result.stderr)
        wait_for(lambda: counter('iommud_policy_reloads_total')
                 == before[('iommud_policy_reloads_total', ())] + 1,
                 'the reload to show in the metrics file', deadline=FILE_DEADLINE)

        # The directory watch may reload first: either way one refused reload at least.
        with open(os.path.join(quiet_dir, '20-broken.json'), 'w', encoding='utf-8') as f:
            f.write('{"rules": [')
        result = harness.iommuctl('policy', 'reload')
        self.assertEqual(result.returncode, 1)
        wait_for(lambda: counter('iommud_policy_reload_errors_total')
                 > before[('iommud_policy_reload_errors_total', ())],
                 'the refused reload to show in the metrics file', deadline=FILE_DEADLINE)
        self.assertEqual(counter('iommud_policy_rules'), len(policy['rules']))

        # A policy with autobind rules lists more: the NFD file follows within a second.
        os.unlink(os.path.join(quiet_dir, '20-broken.json'))
        with open(os.path.join(self.policy_dir, '10-export.json'), encoding='utf-8') as f:
            text = f.read()
        with open(os.path.join(quiet_dir, '10-export.json'), 'w', encoding='utf-8') as f:
            f.write(text)
        result = harness.iommuctl('policy', 'reload')
        self.assertEqual(result.returncode, 0, result.stderr)
        # The NFD file is replaced first, the metrics file right after it.
        wait_for(lambda: parse_nfd(self, read(nfd_file)) == self.expected.nfd()
                 and counter('iommud_policy_rules') == len(self.rules),
                 'the files to list what the autobind rules take', deadline=FILE_DEADLINE)

        creator = Client(harness.bus.address)
        self.addCleanup(creator.close)
        path = creator.create('exported')
        series = ('iommud_space_mapped_bytes',
                  (('guest', 'exported'), ('space', path.rsplit('/', 1)[1])))
        wait_for(lambda: parse_metrics(self, read(metrics_file)).get(series) == 0,
                 'the new space in the metrics file', deadline=FILE_DEADLINE)
        for method, signature, args, mapped in (('Map', '(tttu)', (1 << 32, 16 << 12, 0, 3), 16),
                                                ('Unmap', '(tt)', (1 << 32, 4 << 12), 12)):
            creator.call(path, SPACE, method, signature, args)
            wait_for(lambda: parse_metrics(self, read(metrics_file)).get(series)
                     == mapped << 12, f'{method} to show in the mapped bytes',
                     deadline=FILE_DEADLINE)

    def test_files_replaced_only_when_changed(self):
        """A change the NFD file does not show (a space's mapping) replaces the metrics file
        and leaves the NFD file alone; so does a restart of the daemon (its counters start
        again, its NFD file says the same). Each file is held open meanwhile: its inode
        cannot be reused for a new file, so the same inode at the path is the same file."""
        files = os.path.join(self.dir, 'kept-files')
        os.makedirs(files, exist_ok=True)
        nfd_file, metrics_file = os.path.join(files, 'nfd'), os.path.join(files, 'x.prom')
        args = [f'--nfd-file={nfd_file}', f'--metrics-file={metrics_file}']

        def metrics():
            with open(metrics_file, encoding='utf-8') as f:
                return parse_metrics(self, f.read())

        harness = Harness(self.testbed, start_daemon=False)
        self.addCleanup(harness.close)

        def start():
            harness.daemon = Daemon(self.testbed, harness.bus, policy_dir=self.policy_dir,
                                    args=args)
            # Its autobind jobs fail and are counted: then nothing changes unless we do.
            wait_for(lambda: metrics()[('iommud_binder_failures_total', ())]
                     == len(self.autobind), 'the autobind jobs to fail')

        def same_file(held, path):
            return os.path.samestat(os.fstat(held.fileno()), os.stat(path))

        start()
        with open(nfd_file, encoding='utf-8') as nfd:
            with open(metrics_file, encoding='utf-8') as held:
                creator = Client(harness.bus.address)
                self.addCleanup(creator.close)
                path = creator.create('kept')
                creator.call(path, SPACE, 'Map', '(tttu)', (1 << 32, 1 << 12, 0, 3))
                series = ('iommud_space_mapped_bytes', (('guest', 'kept'),
                                                        ('space', path.rsplit('/', 1)[1])))
                wait_for(lambda: metrics().get(series) == 1 << 12, 'the mapping in the metrics',
                         deadline=FILE_DEADLINE)
                self.assertFalse(same_file(held, metrics_file))
                self.assertTrue(same_file(nfd, nfd_file), 'the mapping replaced the NFD file')
                self.assertEqual(nfd.read(), harness.iommuctl('export', 'nfd').stdout)

                # Its space open to the end: the next daemon's metrics have none.
                harness.daemon.close()
                creator.close()
                start()
                self.assertFalse(same_file(held, metrics_file))
            self.assertTrue(same_file(nfd, nfd_file), 'the restart replaced the NFD file')
            self.assertEqual(sorted(os.listdir(files)), ['nfd', 'x.prom'])

    def test_output_file(self):
        path = os.path.join(self.dir, 'out', 'nova.conf')
        os.makedirs(os.path.dirname(path), exist_ok=True)
        result = self.harness.iommuctl('export', 'nova', '--output', path)
        self.assertEqual((result.returncode, result.stdout, result.stderr), (0, '', ''))
        with open(path, encoding='utf-8') as f:
            self.assertEqual(f.read(), self.export('nova'))
        self.assertEqual(os.listdir(os.path.dirname(path)), ['nova.conf'])
        result = self.harness.iommuctl('export', 'nova', '--output', '/nonexistent/dir/x')
        self.assertEqual(result.returncode, 1)
        self.assertIn('cannot write /nonexistent/dir/x', result.stderr)

    def test_file_options(self):
        """A relative path is a usage error naming the option; a file that cannot be written
        is logged with its path, and the daemon serves on."""
        for option in ('--nfd-file', '--metrics-file'):
            result = subprocess.run([build_path('IOMMUD'), f'{option}=features'],
                                    capture_output=True, text=True, timeout=30)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn(f"{option} needs an absolute path, not 'features'", result.stderr)
        harness = Harness(self.testbed, start_daemon=False)
        self.addCleanup(harness.close)
        harness.daemon = Daemon(self.testbed, harness.bus,
                                args=['--nfd-file=/nonexistent/features.d/iommud'])
        self.assertEqual(harness.iommuctl('export', 'nfd').returncode, 0)
        self.assertIn('Failed to write /nonexistent/features.d/iommud', harness.daemon.errors())

    def test_fifo_replaced(self):
        """A FIFO at an export path does not stop the start (reading it back would wait for a
        writer): the daemon says so, serves, and puts its file in the FIFO's place."""
        files = os.path.join(self.dir, 'fifo-files')
        os.makedirs(files, exist_ok=True)
        nfd_file = os.path.join(files, 'nfd')
        os.mkfifo(nfd_file)
        harness = Harness(self.testbed, start_daemon=False)
        self.addCleanup(harness.close)
        harness.daemon = Daemon(self.testbed, harness.bus, policy_dir=self.policy_dir,
                                args=[f'--nfd-file={nfd_file}'])
        nfd = harness.iommuctl('export', 'nfd')
        self.assertEqual(nfd.returncode, 0, nfd.stderr)
        self.assertIn(f'{nfd_file} is not a regular file, replacing it.',
                      harness.daemon.errors())
        self.assertTrue(os.path.isfile(nfd_file))
        with open(nfd_file, encoding='utf-8') as f:
            self.assertEqual(f.read(), nfd.stdout)

    def test_unknown_format(self):
        result = self.harness.iommuctl('export', 'yaml')
        self.assertEqual(result.returncode, 2)
        self.assertIn("unknown export format 'yaml'", result.stderr)
        result = self.harness.bus.busctl('call', BUS_NAME, '/org/iommud1', 'org.iommud1.Manager',
                                         'Export', 's', 'yaml', check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("Unknown export format 'yaml'", result.stderr)


if __name__ == '__main__':
    sys.exit(host_main(ExportTest, sys.argv))
