#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the big-sriov host (tests/hosts/README.md, "Generated hosts"): 8 SR-IOV PFs with 256
VFs each, one IOMMU group per VF, beside the usual devices of a 64-CPU server, and the
/proc/interrupts of such a machine (2 MiB; 120 KiB without its VFs).
Usage: big-sriov.host.py OUTDIR   (writes OUTDIR/big-sriov.umockdev and .host.json)
As a module, bench/bench-scale.py takes VF records from it to plug VFs in at run time."""

import json
import os
import sys

NAME = 'big-sriov'
CPUS = 64
PFS = 8
VFS_PER_PF = 256
PF_ID, VF_ID = (0x8086, 0x1592), (0x8086, 0x1889)   # Intel E810-C and its adaptive VF
MSI_REGION = '0x00000000fee00000 0x00000000feefffff msi\n'
# A Sapphire Rapids VT-d unit: ECAP bit 3 (IR) set, so interrupt remapping can be on.
ECAP = '19ed008c40f0df'

# The per-CPU counters at the end of x86's /proc/interrupts.
ARCH_COUNTERS = (
    ('NMI', 'Non-maskable interrupts'), ('LOC', 'Local timer interrupts'),
    ('SPU', 'Spurious interrupts'), ('PMI', 'Performance monitoring interrupts'),
    ('IWI', 'IRQ work interrupts'), ('RTR', 'APIC ICR read retries'),
    ('RES', 'Rescheduling interrupts'), ('CAL', 'Function call interrupts'),
    ('TLB', 'TLB shootdowns'), ('TRM', 'Thermal event interrupts'),
    ('THR', 'Threshold APIC interrupts'), ('MCE', 'Machine check exceptions'),
    ('MCP', 'Machine check polls'), ('PIN', 'Posted-interrupt notification event'),
    ('PIW', 'Posted-interrupt wakeup event'))

# The PFs' VFs go to drivers by PF: a host driver, vfio-pci, none (PCI_SLOT order).
VF_DRIVERS = ('iavf', 'iavf', 'iavf', 'iavf', 'vfio-pci', 'vfio-pci', None, None)


class Function:
    """One PCI function of the recording, written in umockdev's format."""

    def __init__(self, parent, address, ids, cls, driver=None, header=0x00, sub=(0, 0),
                 revision=0x01, resets='flr bus'):
        self.parent, self.address, self.ids, self.cls = parent, address, ids, cls
        self.driver, self.header, self.sub, self.revision = driver, header, sub, revision
        self.resets = resets
        self.attributes, self.links = {}, {}
        self.physfn = None
        self.devpath = f'{parent}/{address}'
        self.group = None

    def config(self):
        """64 bytes of header: ids (all ones for a VF), class, revision, header type."""
        vendor, device = (0xffff, 0xffff) if self.physfn else self.ids
        c = bytearray(64)
        c[0:2], c[2:4] = vendor.to_bytes(2, 'little'), device.to_bytes(2, 'little')
        c[8] = self.revision
        c[9:12] = self.cls.to_bytes(3, 'little')
        c[0x0e] = self.header
        c[0x2c:0x2e], c[0x2e:0x30] = (self.sub[0].to_bytes(2, 'little'),
                                      self.sub[1].to_bytes(2, 'little'))
        return c.hex().upper()

    def record(self):
        up = '../' * self.devpath.count('/')
        lines = [f'P: {self.devpath}']
        if self.driver:
            lines.append(f'E: DRIVER={self.driver}')
        lines += [f'E: PCI_CLASS={self.cls:X}',
                  f'E: PCI_ID={self.ids[0]:04X}:{self.ids[1]:04X}',
                  f'E: PCI_SLOT_NAME={self.address}',
                  'E: SUBSYSTEM=pci',
                  f'A: class=0x{self.cls:06x}\\n',
                  f'H: config={self.config()}',
                  f'A: device=0x{self.ids[1]:04x}\\n']
        if self.driver:
            lines.append(f'L: driver={up}bus/pci/drivers/{self.driver}')
        lines += ['A: driver_override=(null)\\n',
                  f'L: iommu_group={up}kernel/iommu_groups/{self.group}',
                  'A: numa_node=0\\n']
        if self.physfn:
            lines.append(f'L: physfn=../{self.physfn}')
        if self.resets:
            lines.append(f'A: reset_method={self.resets}\\n')
        lines += [f'A: revision=0x{self.revision:02x}\\n',
                  *(f'A: {k}={v}\\n' for k, v in self.attributes.items()),
                  f'A: subsystem_device=0x{self.sub[1]:04x}\\n',
                  f'A: subsystem_vendor=0x{self.sub[0]:04x}\\n',
                  f'A: vendor=0x{self.ids[0]:04x}\\n',
                  *(f'L: {k}={v}' for k, v in sorted(self.links.items()))]
        return '\n'.join(lines) + '\n'


def pf_bus(index):
    """The PF of index @index sits alone on its bus; its VFs fill the next one (ARI)."""
    return 0x10 + 2 * index


def port_address(index):
    """The root port above the PF of index @index."""
    return f'0000:00:{0x05 + index:02x}.0'


def vf_address(index, vf):
    return f'0000:{pf_bus(index) + 1:02x}:{vf >> 3:02x}.{vf & 7}'


class BigSriov:
    """The host with @vfs[i] VFs enabled on PF i (all 256 by default)."""

    def __init__(self, vfs=None):
        self.vfs = list(vfs) if vfs is not None else [VFS_PER_PF] * PFS
        root = '/devices/pci0000:00'
        bridge = dict(ids=(0x8086, 0x352a), cls=0x060400, driver='pcieport', header=0x01,
                      resets=None)
        self.functions = [Function(root, '0000:00:00.0', (0x8086, 0x09a2), 0x060000,
                                   resets=None)]
        port = {}
        for slot, bus in ((1, 0x01), (2, 0x02), (4, 0x03)):
            port[bus] = Function(root, f'0000:00:{slot:02x}.0', **bridge)
            self.functions.append(port[bus])
        rp = {bus: f'{root}/{f.address}' for bus, f in port.items()}
        self.functions += [
            # A GPU and its HD-audio function: one slot, one group.
            Function(rp[0x01], '0000:01:00.0', (0x10de, 0x2204), 0x030000, 'nvidia', 0x80,
                     (0x10de, 0x1454), 0xa1),
            Function(rp[0x01], '0000:01:00.1', (0x10de, 0x1aef), 0x040300, 'snd_hda_intel',
                     0x80, (0x10de, 0x1454), 0xa1, None),
            Function(rp[0x02], '0000:02:00.0', (0x144d, 0xa80a), 0x010802, 'nvme'),
            # A dual-port NIC without ACS between its functions: peers in one group.
            Function(rp[0x03], '0000:03:00.0', (0x8086, 0x1521), 0x020000, 'igb', 0x80),
            Function(rp[0x03], '0000:03:00.1', (0x8086, 0x1521), 0x020000, 'igb', 0x80),
            Function(root, '0000:00:14.0', (0x8086, 0x1bcd), 0x0c0330, 'xhci_hcd',
                     resets=None),
            Function(root, '0000:00:17.0', (0x8086, 0x1bf2), 0x010601, 'ahci', resets=None),
            # The platform controller hub: LPC, SMBus and the on-board NIC share a group.
            Function(root, '0000:00:1f.0', (0x8086, 0x1b81), 0x060100, None, 0x80,
                     resets=None),
            Function(root, '0000:00:1f.4', (0x8086, 0x1bc9), 0x0c0500, 'i801_smbus', 0x80,
                     resets=None),
            Function(root, '0000:00:1f.6', (0x8086, 0x15f9), 0x020000, 'e1000e', 0x80,
                     resets='flr'),
        ]
        self.pfs = []
        for i in range(PFS):
            port = Function(root, port_address(i), **bridge)
            pf = Function(f'{root}/{port.address}', f'0000:{pf_bus(i):02x}:00.0', PF_ID,
                          0x020000, 'ice', sub=(0x8086, 0x0001), revision=0x02)
            pf.attributes.update(sriov_drivers_autoprobe='1', sriov_numvfs=str(self.vfs[i]),
                                 sriov_offset='256', sriov_stride='1',
                                 sriov_totalvfs=str(VFS_PER_PF),
                                 sriov_vf_device=f'{VF_ID[1]:x}')
            for vf in range(self.vfs[i]):
                pf.links[f'virtfn{vf}'] = f'../{vf_address(i, vf)}'
                self.functions.append(self.vf(i, vf))
            self.functions += [port, pf]
            self.pfs.append(pf)
        self.functions.sort(key=lambda f: f.address)
        self.groups, slot_group = {}, {}
        for f in self.functions:
            # The functions of a multi-function slot (no ACS between them) share a group.
            key = f.address[:-1] if f.header & 0x80 else f.address
            if key not in slot_group:
                slot_group[key] = len(self.groups)
                self.groups[slot_group[key]] = {'type': 'DMA', 'reserved_regions': MSI_REGION,
                                                'devices': []}
            f.group = slot_group[key]
            self.groups[f.group]['devices'].append(f.address)

    @staticmethod
    def vf(index, vf):
        """VF @vf of the PF of index @index; its group is for the caller to set."""
        f = Function(f'/devices/pci0000:00/{port_address(index)}', vf_address(index, vf), VF_ID,
                     0x020000, VF_DRIVERS[index], sub=(0x8086, 0x0000), revision=0x02,
                     resets='flr')
        f.physfn = f'0000:{pf_bus(index):02x}:00.0'
        return f

    def umockdev(self):
        # Parents before children, as umockdev-record writes them.
        ordered = sorted(self.functions, key=lambda f: (f.devpath.count('/'), f.address))
        return '\n'.join(f.record() for f in ordered)

    def interrupts(self):
        """/proc/interrupts of a 64-CPU host: remapped chips (IR-), one line per vector."""
        def line(irq, chip, hwirq, name):
            counts = ''.join(f' {(irq * 7919 + cpu * 104729) % 100000 if cpu % 9 == 0 else 0:10d}'
                             for cpu in range(CPUS))
            return f'{irq:>4}:{counts}  {chip:<26} {hwirq}-edge      {name}\n'

        text = ' ' * 5 + ''.join(f' {f"CPU{c}":>10}' for c in range(CPUS)) + '\n'
        for pin, name in ((2, 'timer'), (1, 'i8042'), (8, 'rtc0'), (9, 'acpi'), (12, 'i8042'),
                          (16, 'i801_smbus'), *((p, '') for p in range(17, 24))):
            text += line(pin, 'IR-IO-APIC', pin, name)
        irq = 24
        vectors = [('DMAR-MSI', '0', 'dmar0'), ('DMAR-MSI', '1', 'dmar1')]
        for f in self.functions:
            chip = f'IR-PCI-MSIX-{f.address}'
            if f.driver == 'nvme':
                vectors += [(chip, str(q), f'nvme0q{q}') for q in range(33)]
            elif f.driver == 'ice':
                vectors += [(chip, str(q), f'ice-{f.address}:misc' if q == 0 else
                             f'ice-{f.address}-TxRx-{q - 1}') for q in range(9)]
            elif f.driver == 'igb':
                vectors += [(chip, str(q), f'igb-{f.address}-TxRx-{q}') for q in range(5)]
            elif f.driver == 'iavf':
                vectors += [(chip, '0', f'iavf-{f.address}:mbx'),
                            (chip, '1', f'iavf-{f.address}-TxRx-0')]
            elif f.driver == 'vfio-pci':
                vectors.append((chip, '0', f'vfio-msix[0]({f.address})'))
            elif f.driver and not f.physfn:
                vectors.append((f'IR-PCI-MSI-{f.address}', '0', f.driver))
        for chip, hwirq, name in vectors:
            text += line(irq, chip, hwirq, name)
            irq += 1
        for name, what in ARCH_COUNTERS:
            text += f'{name}:' + ''.join(f' {c * 31 % 9973:10d}' for c in range(CPUS)) + \
                f'   {what}\n'
        return text + 'ERR:          0\nMIS:          0\n'

    def host_json(self):
        return {
            'description': f'Generated by tests/hosts/{NAME}.host.py: {PFS} SR-IOV PFs (E810) with '
                           f'{sum(self.vfs)} VFs in groups of their own, a GPU with its audio '
                           'function, NVMe, USB, SATA, NICs with peers; a 64-CPU '
                           '/proc/interrupts with remapped chips.',
            'proc_cmdline': 'BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/sda2 ro '
                            'intel_iommu=on iommu=pt\n',
            'proc_interrupts': self.interrupts(),
            'iommu_units': [{'name': f'dmar{i}', 'type': 'intel', 'ecap': ECAP}
                            for i in range(2)],
            'groups': {str(k): v for k, v in self.groups.items()},
            'modules': {'vfio_iommu_type1': {'allow_unsafe_interrupts': 'N'}},
            # 2078 functions: the generic tests that run commands per device take a sample.
            'scale': True,
        }


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    host = BigSriov()
    os.makedirs(argv[1], exist_ok=True)
    with open(os.path.join(argv[1], f'{NAME}.umockdev'), 'w', encoding='utf-8') as f:
        f.write(host.umockdev())
    with open(os.path.join(argv[1], f'{NAME}.host.json'), 'w', encoding='utf-8') as f:
        json.dump(host.host_json(), f, indent=1)
        f.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
