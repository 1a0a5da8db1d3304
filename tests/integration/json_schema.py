# SPDX-License-Identifier: LGPL-2.1-or-later
"""The schema of every `iommuctl --json` document, in one place: test-json-schema.py checks
each verb's output against it, and that iommuctl(1)'s JSON OUTPUT section names every key and
every fixed string value, so the two cannot drift apart.

A schema is a Python value: a type (str, int, bool) for a value of that type (a bool is not
an int here), Null(schema) for that or null, OneOf('a', 'b') for one of these strings,
Match(regex) for a string that matches, [schema] for an array of such values, a tuple of
schemas for an array of exactly those, and a dict for an object with exactly these keys."""

import re

VERSION = 2


class Null:
    def __init__(self, inner):
        self.inner = inner


class OneOf:
    def __init__(self, *values):
        self.values = values


class Match:
    def __init__(self, pattern):
        self.pattern = re.compile(pattern)


ADDRESS = Match(r'^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$')
NAME = Null(str)

DEVICE = {
    'address': ADDRESS,
    'group': Null(int),
    'driver': NAME,
    'driver_override': NAME,
    'host_driver': NAME,
    'vendor_id': int,
    'device_id': int,
    'subsystem_vendor_id': int,
    'subsystem_device_id': int,
    'class': int,
    'revision': int,
    'vendor_name': NAME,
    'device_name': NAME,
    'class_name': NAME,
    'numa_node': int,
    'reset_methods': [str],
    'reset_method': NAME,
    'last_reset': Null({'method': str, 'result': str}),
    'multifunction': bool,
    'bridge': bool,
    'boot_vga': bool,
    'sriov': Null({'total_vfs': int, 'num_vfs': int}),
    'physfn': Null(ADDRESS),
    'acs': Null({'capability': int, 'control': int}),
    'dsn': Null(Match(r'^[0-9a-f]{2}(-[0-9a-f]{2}){7}$')),
}

GROUP = {
    'id': int,
    'type': NAME,
    'viable': bool,
    'owner': NAME,
    'owner_uuid': Null(Match(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')),
    'owner_state': NAME,
    'state': OneOf('host', 'assigned', 'inconsistent', 'quarantined'),
    'quarantine': NAME,
    'blockers': [{'address': ADDRESS, 'driver': NAME, 'reason': str}],
    'reserved_regions': [{'start': int, 'end': int,
                          'type': OneOf('direct', 'direct-relaxable', 'reserved', 'msi')}],
    'devices': [ADDRESS],
}

SOURCE = OneOf('daemon', 'host')

SPACE = {
    'id': int,
    'path': str,
    'guest': str,
    'creator': str,
    'group': Null(int),
    'aperture': (int, int),
    'page_sizes': [int],
    'reserved': [(int, int)],
    'mappings_count': int,
    'mapped_bytes': int,
    'pinned_bytes': int,
    'max_mappings': int,
    'max_pinned_bytes': int,
    'dirty_tracking': bool,
}

PROT = OneOf('r', 'w', 'rw')

# Every document, by the command that prints it.
DOCUMENTS = {
    'list': {
        'version': int,
        'source': SOURCE,
        'iommu': {
            'present': bool,
            'units': [{'name': str, 'type': str}],
            'interrupt_remapping': bool,
            'allow_unsafe_interrupts': bool,
            'kernel_parameters': [str],
            'acs_override': bool,
            'notice': NAME,
            'sleep_inhibitor': Null(OneOf('block', 'delay')),
        },
        'groups': [GROUP],
        'devices': [DEVICE],
    },
    'show DEVICE': {
        'version': int, 'source': SOURCE, 'device': DEVICE, 'group': Null(GROUP),
        'peers': [ADDRESS],
    },
    'show GROUP': {'version': int, 'source': SOURCE, 'group': GROUP, 'devices': [DEVICE]},
    'assign, release, rebind': {
        'version': int,
        'dry_run': bool,
        'plan': [{
            'address': ADDRESS,
            'from': NAME,
            'to': NAME,
            'reason': {'kind': OneOf('named', 'peer'), 'of': Null(ADDRESS)},
            'rule': Null({'id': str, 'file': str, 'line': int}),
            'reset': Null({'method': str, 'result': str}),
            'quarantine': NAME,
        }],
    },
    'explain': {
        'version': int, 'device': str, 'guest': NAME, 'allowed': bool,
        'reasons': [{'kind': str, 'text': str}],
    },
    'policy show': {
        'version': int,
        'files': [str],
        'rules': [{'id': str, 'file': str, 'line': int, 'action': OneOf('allow', 'deny'),
                   'match': str, 'options': str, 'guests': [str]}],
    },
    'policy check': {
        'version': int, 'valid': bool, 'rules': Null(int), 'aliases': Null(int),
        'files': [str], 'errors': [str],
    },
    'policy reload': {'version': int, 'rules': int},
    'space list': {'version': int, 'spaces': [SPACE]},
    'space show': dict(SPACE, version=int, mappings=[
        {'iova': int, 'size': int, 'target': int, 'prot': PROT}]),
    'space translate': {'version': int, 'iova': int, 'target': int, 'prot': PROT,
                        'contiguous': int},
    # One object per line.
    'monitor': {
        'version': int,
        'event': OneOf('device-added', 'device-removed', 'group-added', 'group-removed',
                       'driver-changed', 'owner-changed', 'viability-changed', 'vfs-changed',
                       'policy-reloaded', 'ownership-lost'),
        'device': Null(ADDRESS), 'group': Null(int), 'from': NAME, 'to': NAME,
        'viable': Null(bool), 'num_vfs': Null(int), 'rules': Null(int), 'owner': NAME,
        'devices': [ADDRESS], 'reason': NAME,
    },
}


def check(schema, value, path='$'):
    """Every way @value departs from @schema, as 'path: problem' strings."""
    if isinstance(schema, Null):
        return [] if value is None else check(schema.inner, value, path)
    if value is None:
        return [f'{path}: null where {describe(schema)} belongs']
    if isinstance(schema, OneOf):
        if value not in schema.values:
            return [f'{path}: {value!r} is none of {", ".join(schema.values)}']
        return []
    if isinstance(schema, Match):
        if not isinstance(value, str) or not schema.pattern.match(value):
            return [f'{path}: {value!r} does not match {schema.pattern.pattern}']
        return []
    if isinstance(schema, type):
        # JSON has no separate bool in Python's eyes: True is an int there, not here.
        if type(value) is not schema:
            return [f'{path}: {value!r} is not {describe(schema)}']
        return []
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [f'{path}: {value!r} is not an array']
        return [p for i, item in enumerate(value) for p in check(schema[0], item, f'{path}[{i}]')]
    if isinstance(schema, tuple):
        if not isinstance(value, list) or len(value) != len(schema):
            return [f'{path}: {value!r} is not an array of {len(schema)}']
        return [p for i, (s, v) in enumerate(zip(schema, value))
                for p in check(s, v, f'{path}[{i}]')]
    if not isinstance(value, dict):
        return [f'{path}: {value!r} is not an object']
    problems = [f'{path}: key {k!r} is missing' for k in schema if k not in value]
    problems += [f'{path}: key {k!r} is not in the schema' for k in value if k not in schema]
    return problems + [p for k in schema if k in value
                       for p in check(schema[k], value[k], f'{path}.{k}')]


def describe(schema):
    return {str: 'a string', int: 'a number', bool: 'a boolean'}.get(schema, 'a value')


def names(schema):
    """Every key and every fixed string value in @schema: what the manual must name."""
    if isinstance(schema, Null):
        return names(schema.inner)
    if isinstance(schema, OneOf):
        return set(schema.values)
    if isinstance(schema, (list, tuple)):
        return set().union(*(names(s) for s in schema))
    if isinstance(schema, dict):
        return set(schema).union(*(names(s) for s in schema.values()))
    return set()
