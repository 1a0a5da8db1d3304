#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Prints the <name>.host.json of the running machine: what umockdev-record does not record
(tests/hosts/README.md). Standard library only: it runs inside vm-tier guests.
Usage: record-host.py [--description TEXT] > tests/hosts/NAME.host.json
Environment: SYSFS (default /sys) and PROC (default /proc) read another root."""

import argparse
import json
import os
import sys

SYSFS = os.environ.get('SYSFS', '/sys')
PROC = os.environ.get('PROC', '/proc')


def read(path, default=None):
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            return f.read()
    except FileNotFoundError:
        if default is None:
            raise
        return default


def listdir(path):
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def unit_type(path):
    for kind in ('intel', 'amd'):
        if os.path.isdir(os.path.join(path, f'{kind}-iommu')):
            return kind
    return 'other'


# The capability register of each kind of unit: Intel's ECAP holds IR (interrupt remapping).
UNIT_REGISTERS = {'intel': 'ecap', 'amd': 'features'}


def record_unit(name):
    unit = {'name': name, 'type': unit_type(f'{SYSFS}/class/iommu/{name}')}
    register = UNIT_REGISTERS.get(unit['type'])
    if register:
        value = read(f'{SYSFS}/class/iommu/{name}/{unit["type"]}-iommu/{register}', '')
        if value.strip():
            unit[register] = value.strip()
    return unit


def record():
    units = [record_unit(name) for name in listdir(f'{SYSFS}/class/iommu')]
    groups = {}
    for group in sorted(listdir(f'{SYSFS}/kernel/iommu_groups'), key=int):
        gdir = f'{SYSFS}/kernel/iommu_groups/{group}'
        groups[group] = {
            'type': read(f'{gdir}/type').strip(),
            'reserved_regions': read(f'{gdir}/reserved_regions', ''),
            'devices': listdir(f'{gdir}/devices'),
        }
    modules = {}
    unsafe = f'{SYSFS}/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts'
    if os.path.exists(unsafe):
        modules['vfio_iommu_type1'] = {'allow_unsafe_interrupts': read(unsafe).strip()}
    return {
        'proc_cmdline': read(f'{PROC}/cmdline'),
        'proc_interrupts': read(f'{PROC}/interrupts'),
        'iommu_units': units,
        'groups': groups,
        'modules': modules,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--description', default='', help='one line: what the host shows')
    args = parser.parse_args()
    host = {'description': args.description, **record()}
    json.dump(host, sys.stdout, indent=2)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
