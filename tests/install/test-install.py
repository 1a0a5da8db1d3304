#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What 'meson install' puts on a system: runs it from the build directory into a temporary
DESTDIR and checks the tree (programs, unit, D-Bus and polkit files, man pages, tmpfiles.d), the
directories systemd-tmpfiles makes from it, 'systemd-analyze verify' of the installed unit and its
'systemd-analyze security' exposure, which iommud(8) states. Nothing is written outside the
temporary directory.
Environment: $MESON (the meson command), $IOMMUD_BUILD_ROOT (a configured and built tree)."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'integration'))
from tap import main  # noqa: E402

# The exposure iommud(8) promises (SANDBOXING); systemd calls up to 3.9 "OK".
EXPOSURE_MAX = 3.5
UNIT = 'iommud.service'
BUS_NAME = 'org.iommud1'


def run(*args, env=None):
    """Runs a command; returns (exit status, stdout and stderr together)."""
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       env=env, check=False)
    return p.returncode, p.stdout


class Install(unittest.TestCase):
    longMessage = False  # our messages say what is wrong; the unit's text would bury them

    @classmethod
    def setUpClass(cls):
        cls.build = os.environ['IOMMUD_BUILD_ROOT']
        cls.tmp = tempfile.mkdtemp(prefix='iommud-install-')
        cls.destdir = os.path.join(cls.tmp, 'dest')
        status, out = run(os.environ['MESON'], 'install', '-C', cls.build, '--no-rebuild',
                          '--quiet', '--destdir', cls.destdir)
        if status != 0:
            raise AssertionError(f'meson install failed ({status}):\n{out}')
        status, out = run(os.environ['MESON'], 'introspect', cls.build, '--buildoptions')
        if status != 0:
            raise AssertionError(f'meson introspect failed ({status}):\n{out}')
        options = {o['name']: o['value'] for o in json.loads(out)}
        prefix = options['prefix']
        # Paths as the installed system sees them (the unit names them so); a relative option
        # is below the prefix.
        cls.dirs = {name: os.path.join(prefix, options[name])
                    for name in ('bindir', 'libexecdir', 'datadir', 'mandir')}
        cls.dirs['unitdir'] = os.path.join(prefix, 'lib', 'systemd', 'system')
        cls.dirs['tmpfilesdir'] = os.path.join(prefix, 'lib', 'tmpfiles.d')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def installed(self, directory, *names):
        """The path of an installed file below the DESTDIR."""
        return os.path.join(self.destdir, self.dirs[directory].lstrip('/'), *names)

    def test_tree(self):
        expected = [
            ('bindir', 'iommuctl'),
            ('libexecdir', 'iommud'),
            ('unitdir', UNIT),
            ('tmpfilesdir', 'iommud.conf'),
            ('datadir', 'dbus-1', 'system-services', f'{BUS_NAME}.service'),
            ('datadir', 'dbus-1', 'system.d', f'{BUS_NAME}.conf'),
            ('datadir', 'dbus-1', 'interfaces', f'{BUS_NAME}.xml'),
            ('datadir', 'polkit-1', 'actions', f'{BUS_NAME}.policy'),
            ('mandir', 'man1', 'iommuctl.1'),
            ('mandir', 'man5', 'iommud.policy.5'),
            ('mandir', 'man7', 'iommud.dbus.7'),
            ('mandir', 'man7', 'iommud.export.7'),
            ('mandir', 'man8', 'iommud.8'),
        ]
        for directory, *names in expected:
            with self.subTest(path=os.path.join(self.dirs[directory], *names)):
                path = self.installed(directory, *names)
                self.assertTrue(os.path.isfile(path), f'{path} is not installed')
        for program in (self.installed('bindir', 'iommuctl'), self.installed('libexecdir', 'iommud')):
            self.assertTrue(os.access(program, os.X_OK), f'{program} is not executable')

    def test_activation_names_the_unit(self):
        """D-Bus activation starts the unit through its alias, which the unit must declare."""
        with open(self.installed('datadir', 'dbus-1', 'system-services',
                                 f'{BUS_NAME}.service'), encoding='utf-8') as f:
            activation = f.read()
        with open(self.installed('unitdir', UNIT), encoding='utf-8') as f:
            unit = f.read()
        service = re.search(r'^SystemdService=(\S+)$', activation, re.M)
        self.assertIsNotNone(service, 'the activation file names no SystemdService=')
        for line in (f'Alias={service.group(1)}', f'BusName={BUS_NAME}',
                     f'ExecStart={self.dirs["libexecdir"]}/iommud'):
            self.assertIn(line, unit.splitlines(), f'{UNIT} lacks the line {line!r}')

    def test_tmpfiles(self):
        """systemd-tmpfiles makes the state and policy directories with the documented modes."""
        root = os.path.join(self.tmp, 'tmpfiles-root')
        os.mkdir(root)
        status, out = run('systemd-tmpfiles', f'--root={root}', '--create',
                          self.installed('tmpfilesdir', 'iommud.conf'))
        # Only root may give the directories to root; anyone may check the rest.
        problems = [line for line in out.splitlines()
                    if os.geteuid() == 0 or 'fchownat()' not in line]
        self.assertEqual(problems, [], f'systemd-tmpfiles failed ({status})')
        for path, mode in (('var/lib/iommud', 0o700), ('etc/iommud', 0o755),
                           ('etc/iommud/policy.d', 0o755)):
            with self.subTest(path=f'/{path}'):
                st = os.stat(os.path.join(root, path))
                self.assertEqual(oct(st.st_mode & 0o7777), oct(mode))

    def verify_root(self):
        """A root directory holding the installed tree over the host's own units, so that the
        unit's dependencies (sysinit.target, dbus.socket, modprobe@.service) resolve."""
        root = os.path.join(self.tmp, 'verify-root')
        if not os.path.isdir(root):
            shutil.copytree(self.destdir, root, symlinks=True)
            for host_units in ('/usr/lib/systemd/system', '/lib/systemd/system'):
                if os.path.isdir(host_units):
                    shutil.copytree(host_units, os.path.join(root, 'usr/lib/systemd/system'),
                                    symlinks=True, dirs_exist_ok=True,
                                    copy_function=self.copy_unless_installed)
                    break
        return root

    def copy_unless_installed(self, source, destination):
        if not os.path.lexists(destination):
            shutil.copy2(source, destination, follow_symlinks=False)

    def test_verify(self):
        """systemd-analyze verify finds no fault: settings, dependencies, the ExecStart= program
        and the man pages in Documentation= (looked up in the installed tree)."""
        root = self.verify_root()
        env = dict(os.environ, MANPATH=os.path.join(root, self.dirs['mandir'].lstrip('/')))
        status, out = run('systemd-analyze', 'verify', f'--root={root}',
                          os.path.join(root, self.dirs['unitdir'].lstrip('/'), UNIT), env=env)
        self.assertEqual((status, out), (0, ''), f'systemd-analyze verify:\n{out}')

    def test_security(self):
        root = self.verify_root()
        status, out = run('systemd-analyze', 'security', '--offline=true', f'--root={root}',
                          '--no-pager', os.path.join(self.dirs['unitdir'], UNIT))
        exposure = re.search(rf'Overall exposure level for {re.escape(UNIT)}: (\d+\.\d+)', out)
        self.assertIsNotNone(exposure, f'no exposure level in:\n{out}')
        exposed = '\n'.join(line for line in out.splitlines() if line.startswith('✗'))
        self.assertLessEqual(float(exposure.group(1)), EXPOSURE_MAX,
                             f'exposure {exposure.group(1)} > {EXPOSURE_MAX}:\n{exposed}')
        with open(self.installed('mandir', 'man8', 'iommud.8'), encoding='utf-8') as f:
            page = f.read().replace('\\&', '')  # roff's zero-width escapes after dots
        stated = re.search(r'rates its exposure (\d+\.\d+)', page)
        self.assertIsNotNone(stated, 'iommud(8) states no exposure (SANDBOXING)')
        self.assertEqual(stated.group(1), exposure.group(1),
                         f'iommud(8) states exposure {stated.group(1)}, '
                         f'systemd-analyze measures {exposure.group(1)}')
        warnings = re.findall(rf'^.*{re.escape(UNIT)}:\d+:.*$', out, re.M)
        self.assertEqual(warnings, [], 'systemd-analyze security warns:\n' + '\n'.join(warnings))


if __name__ == '__main__':
    sys.exit(main(Install))
