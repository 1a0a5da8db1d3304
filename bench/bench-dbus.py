#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs bench-dbus against the real iommud on a private dbus-daemon, then stops both.
Usage: bench-dbus.py BENCH-DBUS IOMMUD POLICY-DIR."""

import os
import subprocess
import sys
import tempfile


def main(bench, iommud, policy_dir):
    with tempfile.TemporaryDirectory(prefix='iommud-bench.') as tmp:
        # A session-style bus: any peer may own any name, so iommud needs no system policy.
        bus = subprocess.Popen(['dbus-daemon', '--session', '--nofork', '--print-address=1',
                                f'--address=unix:path={tmp}/bus'],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.stdout.readline().strip())
            daemon = subprocess.Popen([iommud, f'--journal={tmp}/state.json',
                                       f'--policy-dir={policy_dir}'], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                status = subprocess.run([bench], env=env).returncode
            finally:
                daemon.terminate()
                _, errors = daemon.communicate(timeout=30)
            if status != 0:
                print(f'iommud said:\n{errors}', file=sys.stderr)
            return status
        finally:
            bus.terminate()
            bus.wait()


if __name__ == '__main__':
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
