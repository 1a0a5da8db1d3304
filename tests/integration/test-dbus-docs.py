#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every member the running iommud introspects on its manager, group, device and space objects is
documented, with its signature, in iommud.dbus(7), and every documented member exists; and the
introspection equals the snapshot daemon/org.iommud1.xml (installed to dbus-1/interfaces).
Usage: test-dbus-docs.py tests/hosts/NAME (a host with IOMMU groups); $IOMMUD_DBUS_MAN is
the man page's scdoc source, $IOMMUD_DBUS_XML the snapshot; with IOMMUD_UPDATE_XML=1 the test
rewrites the snapshot instead of comparing."""

import os
import re
import sys
import xml.etree.ElementTree as ET

from bus_client import Client
from harness import BUS_NAME, HostCase, host_main, object_path

PREFIX = 'org.iommud1.'


# '*Name*' or '*Name* (sig)'; a signature may hold one level of parentheses: 'a(tts)'.
TOKEN = r'\*([A-Z][A-Za-z]+)\*(?: \(((?:[^()]|\([^()]*\))*)\))?'
PROPERTY_LINE = re.compile(rf'{TOKEN}(?:, {TOKEN})*')
METHOD_LINE = re.compile(r'\*([A-Z][A-Za-z]+)\*\(')


def documented(path):
    """{interface: {member: signature or None}} from the page's '# org.iommud1.X' sections.
    Properties are lines '*Name* (sig)', '*A* (s), *B* (s)' or '*A*, *B* (q)' (the signature
    written last applies to the names before it); methods are lines '*Name*(args) -> result'."""
    sections, current = {}, None
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            heading = re.fullmatch(r'# (\S+)', line)
            if heading:
                name = heading.group(1)
                current = sections.setdefault(name, {}) if name.startswith(PREFIX) else None
            elif current is None:
                continue
            elif METHOD_LINE.match(line):
                current[METHOD_LINE.match(line).group(1)] = None
            elif PROPERTY_LINE.fullmatch(line):
                pending = []
                for name, signature in re.findall(TOKEN, line):
                    pending.append(name)
                    if signature:
                        current.update((n, signature) for n in pending)
                        pending = []
    return sections


class DbusDocsTest(HostCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A space exists only while its creator is on the bus: this one stays for the class.
        cls.client = Client(cls.harness.bus.address)
        cls.addClassCleanup(cls.client.close)
        cls.space = cls.client.create('docs')

    def introspect(self, path):
        xml = self.harness.bus.busctl('introspect', '--xml-interface', BUS_NAME, path).stdout
        members = {}
        for iface in ET.fromstring(xml).iter('interface'):
            if not iface.get('name').startswith(PREFIX):
                continue
            m = members.setdefault(iface.get('name'), {})
            for prop in iface.iter('property'):
                m[prop.get('name')] = prop.get('type')
            for kind in ('method', 'signal'):
                for node in iface.iter(kind):
                    m[node.get('name')] = None
        return members

    def paths(self):
        group = min(self.host.groups)
        return ('/org/iommud1', f'/org/iommud1/group/{group}',
                object_path(self.host.members(group)[0].address), self.space)

    def snapshot(self):
        """Our interfaces, as the daemon introspects them, in one <node>."""
        node = ET.Element('node')
        for path in self.paths():
            xml = self.harness.bus.busctl('introspect', '--xml-interface', BUS_NAME, path).stdout
            for iface in ET.fromstring(xml).iter('interface'):
                if iface.get('name').startswith(PREFIX):
                    node.append(iface)
        ET.indent(node, space='  ')
        return ('<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
                ' "https://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n'
                '<!-- SPDX-License-Identifier: LGPL-2.1-or-later -->\n'
                '<!-- The D-Bus API of iommud, as the daemon introspects it; prose in '
                'iommud.dbus(7).\n     Regenerate: IOMMUD_UPDATE_XML=1 meson test -C build '
                'dbus-docs -->\n' + ET.tostring(node, encoding='unicode') + '\n')

    def test_introspection_snapshot(self):
        path = os.environ['IOMMUD_DBUS_XML']
        live = self.snapshot()
        if os.environ.get('IOMMUD_UPDATE_XML') == '1':
            with open(path, 'w', encoding='utf-8') as f:
                f.write(live)
        with open(path, encoding='utf-8') as f:
            self.assertEqual(f.read(), live, f'{path} is not what the daemon introspects; '
                             'regenerate it with IOMMUD_UPDATE_XML=1 and review the change')

    def test_members_documented(self):
        docs = documented(os.environ['IOMMUD_DBUS_MAN'])
        live = {}
        for path in self.paths():
            live.update(self.introspect(path))
        self.assertEqual(sorted(live), sorted(docs), 'interfaces served and documented')
        for iface, members in live.items():
            with self.subTest(interface=iface):
                self.assertEqual(sorted(members), sorted(docs[iface]),
                                 'members served (left) and documented (right)')
                for name, signature in members.items():
                    if signature is not None:
                        self.assertEqual(docs[iface].get(name), signature,
                                         f'signature of {iface}.{name}')


if __name__ == '__main__':
    sys.exit(host_main(DbusDocsTest, sys.argv))
