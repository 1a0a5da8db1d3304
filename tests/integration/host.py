# SPDX-License-Identifier: LGPL-2.1-or-later
"""A host of tests/hosts/: its umockdev recording and host.json read and checked, and what
iommuctl must report for it, computed from those files alone (not from lib/)."""

import json
import os
import posixpath
import re

ADDRESS_RE = re.compile(r'^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$')
# g_strcompress(), which umockdev applies to A: values.
ESCAPES = {'n': '\n', 't': '\t', 'r': '\r', 'b': '\b', 'f': '\f', 'v': '\v', '\\': '\\',
           '"': '"'}
REGION_TYPES = ('direct', 'direct-relaxable', 'reserved', 'msi')
UNIT_TYPES = ('intel', 'amd', 'other')
# The capability register each kind of unit shows in sysfs (<type>-iommu/<register>).
UNIT_REGISTERS = {'intel': 'ecap', 'amd': 'features'}
GROUP_TYPES = ('DMA', 'DMA-FQ', 'identity', 'blocked')
PCI_EXT_CAP_ID_ACS = 0x000d
PCI_EXT_CAP_ID_DSN = 0x0003
# Drivers a group stays viable with: those that manage DMA ownership themselves (Linux 5.19+,
# iommu_group_dma_owner_claimed()).
VIABLE_DRIVERS = ('vfio-pci', 'pci-stub', 'pcieport')


class HostError(Exception):
    """A host file that is malformed or inconsistent; the message names file and line."""


def unescape(value):
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c != '\\' or i + 1 == len(value):
            out.append(c)
            i += 1
            continue
        n = value[i + 1]
        octal = re.match(r'[0-7]{1,3}', value[i + 1:])
        if octal:
            out.append(chr(int(octal.group(0), 8)))
            i += 1 + len(octal.group(0))
        else:
            out.append(ESCAPES.get(n, n))
            i += 2
    return ''.join(out)


def parse_hex_number(text, where):
    try:
        return int(text.strip(), 0)
    except ValueError:
        raise HostError(f'{where}: not a number: {text.strip()!r}') from None


class Device:
    """One PCI function of a recording: its P:/E:/A:/H:/L: lines, decoded."""

    def __init__(self, devpath, where):
        self.devpath = devpath
        self.where = where
        self.address = posixpath.basename(devpath)
        self.properties = {}
        self.attributes = {}
        self.binary = {}
        self.links = {}
        self.group = None      # set by Host from the iommu_group link or host.json

    def attr(self, name, default=None):
        value = self.attributes.get(name)
        return default if value is None else value.strip()

    def number(self, name, default=None):
        value = self.attr(name)
        return default if value is None else parse_hex_number(value, f'{self.where}: {name}')

    def link_target(self, name):
        """The link's target as an absolute path below /sys, or None."""
        target = self.links.get(name)
        if target is None:
            return None
        return posixpath.normpath(posixpath.join('/sys' + self.devpath, target))

    @property
    def driver(self):
        target = self.link_target('driver')
        if target is not None:
            return posixpath.basename(target)
        return self.properties.get('DRIVER')

    @property
    def config(self):
        return self.binary.get('config', b'')

    def config_u16(self, offset):
        return int.from_bytes(self.config[offset:offset + 2], 'little')

    def config_u32(self, offset):
        return int.from_bytes(self.config[offset:offset + 4], 'little')

    @property
    def header_type(self):
        return self.config[0x0e] if len(self.config) > 0x0e else None

    @property
    def is_bridge(self):
        """The kernel's rule (vfio_dev_driver_allowed): a non-normal header type."""
        if self.header_type is None:
            return (self.number('class') >> 8) == 0x0604
        return (self.header_type & 0x7f) != 0

    def ext_cap(self, cap_id):
        """The offset of an extended capability in the config space, or None."""
        offset, seen = 0x100, set()
        while offset and offset + 8 <= len(self.config) and offset not in seen:
            seen.add(offset)
            header = self.config_u32(offset)
            if header == 0:
                return None
            if header & 0xffff == cap_id:
                return offset
            offset = (header >> 20) & 0xffc
        return None

    @property
    def acs(self):
        """(capability, control) of the ACS extended capability, or None."""
        offset = self.ext_cap(PCI_EXT_CAP_ID_ACS)
        return None if offset is None else (self.config_u16(offset + 4),
                                            self.config_u16(offset + 6))

    @property
    def dsn(self):
        """The Device Serial Number as lspci spells it (high byte first), or None."""
        offset = self.ext_cap(PCI_EXT_CAP_ID_DSN)
        if offset is None or offset + 12 > len(self.config):
            return None
        value = self.config_u32(offset + 8) << 32 | self.config_u32(offset + 4)
        return '-'.join(f'{(value >> shift) & 0xff:02x}' for shift in range(56, -8, -8))

    def check(self):
        for name in ('vendor', 'device', 'class'):
            if self.attr(name) is None:
                raise HostError(f'{self.where}: device {self.address} has no {name!r} attribute')
        if 'config' not in self.binary:
            raise HostError(f'{self.where}: device {self.address} has no config (H: config=)')
        if len(self.config) < 64:
            raise HostError(f'{self.where}: config of {self.address} has {len(self.config)} '
                            'bytes, at least 64 are needed')
        for name, value in (('vendor', self.config_u16(0)), ('device', self.config_u16(2)),
                            ('class', self.config_u32(8) >> 8)):
            # An SR-IOV VF's config space reads its ids as all ones (PCIe base spec, SR-IOV
            # chapter, the VF configuration header); sysfs shows those of the PF's capability.
            if name in ('vendor', 'device') and value == 0xffff and 'physfn' in self.links:
                continue
            if self.number(name) != value:
                raise HostError(f'{self.where}: {self.address}: attribute {name} is '
                                f'{self.attr(name)} but config space says 0x{value:x}')
        if self.is_bridge != ((self.number('class') >> 8) == 0x0604):
            raise HostError(f'{self.where}: {self.address}: header type '
                            f'0x{self.header_type:02x} disagrees with class {self.attr("class")}')
        link_driver = self.links.get('driver')
        if link_driver is not None:
            target = self.link_target('driver')
            if posixpath.dirname(target) != '/sys/bus/pci/drivers':
                raise HostError(f'{self.where}: {self.address}: driver link {link_driver!r} does '
                                'not lead to /sys/bus/pci/drivers/ (wrong number of ../?)')
            prop = self.properties.get('DRIVER')
            if prop is not None and prop != posixpath.basename(target):
                raise HostError(f'{self.where}: {self.address}: DRIVER={prop} but the driver '
                                f'link names {posixpath.basename(target)}')
        link_group = self.links.get('iommu_group')
        if link_group is not None:
            target = self.link_target('iommu_group')
            if (posixpath.dirname(target) != '/sys/kernel/iommu_groups'
                    or not posixpath.basename(target).isdigit()):
                raise HostError(f'{self.where}: {self.address}: iommu_group link '
                                f'{link_group!r} does not lead to /sys/kernel/iommu_groups/N')
            self.group = int(posixpath.basename(target))


def parse_umockdev(path):
    """The PCI devices of a umockdev-record file, in file order."""
    devices, device = [], None
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip('\n')
            where = f'{path}:{number}'
            if not line:
                device = None
                continue
            m = re.match(r'^([PENSAHL]): (.*)$', line)
            if not m:
                raise HostError(f'{where}: not a umockdev record line: {line[:60]!r}')
            tag, rest = m.groups()
            if tag == 'P':
                if device is not None:
                    raise HostError(f'{where}: P: inside a device block (a blank line missing?)')
                if not rest.startswith('/devices/'):
                    raise HostError(f'{where}: device path must start with /devices/: {rest}')
                device = Device(rest, where)
                devices.append(device)
                continue
            if device is None:
                raise HostError(f'{where}: {tag}: line before the P: line of its block')
            if tag in 'NS':
                continue
            key, sep, value = rest.partition('=')
            if not sep:
                raise HostError(f'{where}: {tag}: line without key=value')
            if tag == 'E':
                device.properties[key] = value
            elif tag == 'A':
                device.attributes[key] = unescape(value)
            elif tag == 'H':
                try:
                    device.binary[key] = bytes.fromhex(value)
                except ValueError:
                    raise HostError(f'{where}: H: {key} is not a hex string') from None
            else:
                device.links[key] = value
    pci = []
    for d in devices:
        if d.properties.get('SUBSYSTEM') is None:
            raise HostError(f'{d.where}: device block without E: SUBSYSTEM=')
        if d.properties['SUBSYSTEM'] != 'pci':
            continue
        if not ADDRESS_RE.match(d.address):
            raise HostError(f'{d.where}: PCI device path does not end in a canonical address: '
                            f'{d.devpath}')
        d.check()
        pci.append(d)
    return pci


def parse_regions(text, where):
    regions = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if (len(fields) != 3 or fields[2] not in REGION_TYPES
                or not all(re.match(r'^0x[0-9a-f]+$', f) for f in fields[:2])):
            raise HostError(f'{where}: reserved_regions line {number}: expected '
                            f"'0x<start> 0x<end> <type>', got {line!r}")
        start, end = int(fields[0], 16), int(fields[1], 16)
        regions.append({'start': start, 'end': end, 'type': fields[2]})
    return regions


def require(obj, key, kind, where):
    if key not in obj:
        raise HostError(f'{where}: missing key {key!r}')
    if not isinstance(obj[key], kind):
        raise HostError(f'{where}: {key!r} must be a {kind.__name__}')
    return obj[key]


class Host:
    """tests/hosts/<name>.umockdev + <name>.host.json."""

    def __init__(self, stem):
        self.stem = stem
        self.name = os.path.basename(stem)
        self.umockdev_path = stem + '.umockdev'
        self.json_path = stem + '.host.json'
        self.devices = sorted(parse_umockdev(self.umockdev_path), key=lambda d: d.address)
        self.by_address = {d.address: d for d in self.devices}
        self._members = None
        if len(self.by_address) != len(self.devices):
            raise HostError(f'{self.umockdev_path}: a PCI address is recorded twice')
        self._load_json()

    def _load_json(self):
        where = self.json_path
        try:
            with open(where, encoding='utf-8') as f:
                data = json.load(f)
        except json.JSONDecodeError as e:
            raise HostError(f'{where}:{e.lineno}: {e.msg}') from None
        if not isinstance(data, dict):
            raise HostError(f'{where}: the top level must be an object')
        self.description = data.get('description', '')
        self.cmdline = require(data, 'proc_cmdline', str, where)
        self.interrupts = require(data, 'proc_interrupts', str, where)
        self.units = require(data, 'iommu_units', list, where)
        for i, unit in enumerate(self.units):
            w = f'{where}: iommu_units[{i}]'
            require(unit, 'name', str, w)
            if require(unit, 'type', str, w) not in UNIT_TYPES:
                raise HostError(f'{w}: type must be one of {", ".join(UNIT_TYPES)}')
            register = UNIT_REGISTERS.get(unit['type'])
            for key in UNIT_REGISTERS.values():
                if key in unit and key != register:
                    raise HostError(f'{w}: {key!r} belongs to a unit of another type')
            if register in unit:
                parse_hex_number('0x' + require(unit, register, str, w).split(':')[0],
                                 f'{w}: {register}')
        self.scale = data.get('scale', False)
        if not isinstance(self.scale, bool):
            raise HostError(f'{where}: \'scale\' must be true or false')
        self.modules = data.get('modules', {})
        self.groups = {}
        for key, group in require(data, 'groups', dict, where).items():
            w = f'{where}: groups.{key}'
            if not key.isdigit():
                raise HostError(f'{w}: group keys are decimal numbers')
            if require(group, 'type', str, w) not in GROUP_TYPES:
                raise HostError(f'{w}: type must be one of {", ".join(GROUP_TYPES)}')
            group['regions'] = parse_regions(require(group, 'reserved_regions', str, w), w)
            for address in require(group, 'devices', list, w):
                device = self.by_address.get(address)
                if device is None:
                    raise HostError(f'{w}: {address} is not a PCI device of the recording')
                if device.group is not None and device.group != int(key):
                    raise HostError(f'{w}: {address} is a member, but its iommu_group link '
                                    f'names group {device.group}')
                device.group = int(key)
            self.groups[int(key)] = group
        recorded = self.remapping_from_units()
        if recorded is not None and recorded != ('IR-' in self.interrupts):
            raise HostError(f'{where}: the IOMMU units\' registers say interrupt remapping is '
                            f'{"on" if recorded else "off"}, proc_interrupts says otherwise')
        for device in self.devices:
            if device.group is not None and device.group not in self.groups:
                raise HostError(f'{device.where}: {device.address} links to IOMMU group '
                                f'{device.group}, which {where} does not describe')

    def remapping_from_units(self):
        """Interrupt remapping as the units' registers tell it (Intel ECAP bit 3; every AMD
        unit remaps) unless intremap=off; None when no unit shows a register."""
        units = [u for u in self.units if UNIT_REGISTERS.get(u['type']) in u]
        if not units:
            return None
        if 'intremap=off' in self.cmdline.split():
            return False
        return any(u['type'] == 'amd' or int(u['ecap'], 16) & 0x8 for u in units)

    def sample(self):
        """The devices the tests that run a command per device try: all of them, or on a host
        marked 'scale' every function in a group with others, the first and the last PF, and
        the first and last VF of each kind of PF (one per VF driver)."""
        if not self.scale:
            return self.devices
        pfs = [d for d in self.devices if d.number('sriov_totalvfs') is not None]
        chosen = {id(d) for d in (pfs[0], pfs[-1])} if pfs else set()
        kinds = {}
        for d in self.devices:
            physfn = d.link_target('physfn')
            if physfn is not None:
                kinds.setdefault(d.driver, {}).setdefault(physfn, []).append(d)
            elif len(self.members(d.group)) > 1:
                chosen.add(id(d))
        for by_pf in kinds.values():
            vfs = next(iter(by_pf.values()))
            chosen |= {id(vfs[0]), id(vfs[-1])}
        return [d for d in self.devices if id(d) in chosen]

    def members(self, group_id):
        if self._members is None:
            self._members = {}
            for d in self.devices:
                self._members.setdefault(d.group, []).append(d)
        return list(self._members.get(group_id, []))

    def sample_groups(self):
        """The groups of the sampled devices, for the tests that run a command per group."""
        return sorted({d.group for d in self.sample() if d.group is not None})

    # What iommuctl --json must say, in its schema.

    @staticmethod
    def blocks(device):
        return device.driver is not None and device.driver not in VIABLE_DRIVERS

    def expected_group(self, group_id):
        members = self.members(group_id)
        blockers = [d for d in members if self.blocks(d)]
        return {
            'id': group_id,
            'type': self.groups[group_id]['type'],
            'viable': not blockers,
            'blockers': [{'address': d.address, 'driver': d.driver} for d in blockers],
            'reserved_regions': self.groups[group_id]['regions'],
            'devices': [d.address for d in members],
        }

    @staticmethod
    def expected_device(d):
        override = d.attr('driver_override')
        total_vfs = d.number('sriov_totalvfs')
        physfn = d.link_target('physfn')
        acs = d.acs
        return {
            'address': d.address,
            'group': d.group,
            'driver': d.driver,
            'driver_override': None if override in (None, '', '(null)') else override,
            'vendor_id': d.number('vendor'),
            'device_id': d.number('device'),
            'subsystem_vendor_id': d.number('subsystem_vendor', 0),
            'subsystem_device_id': d.number('subsystem_device', 0),
            'class': d.number('class'),
            'revision': d.number('revision', 0),
            'numa_node': d.number('numa_node', -1),
            'reset_methods': (d.attr('reset_method') or '').split(),
            'multifunction': bool(d.header_type & 0x80),
            'bridge': d.is_bridge,
            'boot_vga': d.number('boot_vga', 0) == 1,
            'sriov': None if total_vfs is None else {
                'total_vfs': total_vfs, 'num_vfs': d.number('sriov_numvfs', 0)},
            'physfn': None if physfn is None else posixpath.basename(physfn),
            'acs': None if acs is None else {
                'capability': acs[0], 'control': acs[1]},
            'dsn': d.dsn,
        }

    def iommu_parameters(self):
        """The words of the command line that name the IOMMU's mode."""
        return [w for w in self.cmdline.split()
                if re.match(r'^(intel_iommu|amd_iommu|iommu|pcie_acs_override)=', w)]

    def expected_iommu(self):
        unsafe = self.modules.get('vfio_iommu_type1', {}).get('allow_unsafe_interrupts', 'N')
        return {
            'present': bool(self.groups) or bool(self.units),
            'units': [{'name': u['name'], 'type': u['type']} for u in self.units],
            'interrupt_remapping': 'IR-' in self.interrupts,
            'allow_unsafe_interrupts': unsafe.strip() in ('Y', '1'),
            'acs_override': any(w.startswith('pcie_acs_override=') for w in self.cmdline.split()),
        }
