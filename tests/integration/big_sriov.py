# SPDX-License-Identifier: LGPL-2.1-or-later
"""The big-sriov host (tests/hosts/big-sriov.host.py) with the VFs of one PF left off, for a
run that plugs them in at run time: bench/bench-scale.py and test-scale-hotplug.py."""

import importlib.util
import json
import os

from host import Host


def _load_generator():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hosts',
                        'big-sriov.host.py')
    spec = importlib.util.spec_from_file_location('big_sriov_host', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _load_generator()


def write_without_vfs(directory, pf):
    """Writes big-sriov with PF number @pf's VFs off (its sriov_numvfs 0) into @directory;
    returns its Host."""
    vfs = [generator.VFS_PER_PF] * generator.PFS
    vfs[pf] = 0
    big = generator.BigSriov(vfs)
    stem = os.path.join(directory, generator.NAME)
    with open(stem + '.umockdev', 'w', encoding='utf-8') as f:
        f.write(big.umockdev())
    with open(stem + '.host.json', 'w', encoding='utf-8') as f:
        json.dump(big.host_json(), f)
    return Host(stem)


def vfs(pf, first_group):
    """The VFs of PF number @pf as its sriov_numvfs makes them, in groups of their own from
    @first_group on (generator Functions: address, devpath, group, record())."""
    functions = []
    for i in range(generator.VFS_PER_PF):
        f = generator.BigSriov.vf(pf, i)
        f.group = first_group + i
        functions.append(f)
    return functions


def pf_address(pf):
    """The address of PF number @pf."""
    return f'0000:{generator.pf_bus(pf):02x}:00.0'
