# SPDX-License-Identifier: LGPL-2.1-or-later
# 'meson install' of the build into a directory the guest copies onto its root (vm.init=systemd).
import json
import os
import shutil
import subprocess

from .errors import HarnessError

INSTALL_TIMEOUT = 120


def _meson():
        """The meson that configured the build (meson.build passes it as $MESON), else PATH's."""
        path = os.environ.get("MESON") or shutil.which("meson")
        if path is None:
                raise HarnessError("meson is not installed: a systemd guest needs 'meson install'")
        return path


def _run(argv):
        try:
                proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                      text=True, timeout=INSTALL_TIMEOUT)
        except subprocess.TimeoutExpired:
                raise HarnessError(f"'{' '.join(argv)}' did not finish within {INSTALL_TIMEOUT} s")
        if proc.returncode != 0:
                raise HarnessError(f"'{' '.join(argv)}' failed with exit status "
                                   f"{proc.returncode}:\n{(proc.stderr + proc.stdout).strip()}")
        return proc.stdout


def install(build_dir, destdir):
        """Installs BUILD_DIR below DESTDIR as a package would put it on a system.

        The system bus reads bus policies from /usr/share and /etc only: with another prefix
        (/usr/local by default) the policy is also put into /etc/dbus-1/system.d, as an
        administrator installing from source must."""
        meson = _meson()
        _run([meson, "install", "-C", build_dir, "--no-rebuild", "--quiet", "--destdir", destdir])
        options = {o["name"]: o["value"] for o in json.loads(
                _run([meson, "introspect", build_dir, "--buildoptions"]))}
        datadir = os.path.join(options["prefix"], options["datadir"])
        policy = os.path.join(datadir, "dbus-1", "system.d", "org.iommud1.conf")
        if datadir != "/usr/share":
                etc = os.path.join(destdir, "etc", "dbus-1", "system.d")
                os.makedirs(etc, exist_ok=True)
                shutil.copy(os.path.join(destdir, policy.lstrip("/")), etc)
