# SPDX-License-Identifier: LGPL-2.1-or-later
# Fetches Debian's linux-image-amd64 into a cache (never installs it) and builds the initramfs.
"""The guest kernel and its initramfs.

The kernel is Debian's linux-image-amd64 for the host's release, fetched with
`apt-get download` and unpacked with `dpkg-deb -x` under the build directory.
The package ships no modules.dep (its postinst runs depmod), so busybox's depmod
writes one into the cache; module closures are resolved from it.
"""

import os
import shutil
import stat
import subprocess
import tempfile

from .errors import HarnessError

META_PACKAGE = "linux-image-amd64"
APT_TIMEOUT = 300


def _run(argv, cwd=None, timeout=APT_TIMEOUT):
        try:
                proc = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                      capture_output=True, text=True, timeout=timeout)
        except FileNotFoundError:
                raise HarnessError(f"'{argv[0]}' is not installed (run tools/install-deps)")
        except subprocess.TimeoutExpired:
                raise HarnessError(f"'{' '.join(argv)}' did not finish within {timeout} s")
        return proc


def _apt_download(package, into):
        """apt-get download PACKAGE into INTO; 'apt-get update' once if the first try fails."""
        argv = ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", package]
        proc = _run(argv, cwd=into)
        if proc.returncode != 0:
                update = _run(["apt-get", "update", "-q"])
                if update.returncode != 0:
                        raise HarnessError(f"cannot fetch the guest kernel: 'apt-get update' "
                                           f"failed:\n{update.stderr.strip()}")
                proc = _run(argv, cwd=into)
        if proc.returncode != 0:
                raise HarnessError(f"cannot fetch the guest kernel: 'apt-get download {package}' "
                                   f"failed:\n{proc.stderr.strip()}")
        debs = [f for f in os.listdir(into) if f.startswith(package + "_") and f.endswith(".deb")]
        if len(debs) != 1:
                raise HarnessError(f"'apt-get download {package}' left {debs or 'no .deb'} "
                                   f"in {into}")
        return os.path.join(into, debs[0])


def _deb_field(deb, field):
        proc = _run(["dpkg-deb", "-f", deb, field])
        if proc.returncode != 0:
                raise HarnessError(f"cannot read {field} of {deb}: {proc.stderr.strip()}")
        return proc.stdout.strip()


class Kernel:
        """An unpacked kernel: vmlinuz, version, module tree with modules.dep."""

        def __init__(self, root):
                self.root = root
                moddir = os.path.join(root, "lib", "modules")
                versions = os.listdir(moddir) if os.path.isdir(moddir) else []
                if len(versions) != 1:
                        raise HarnessError(f"expected one kernel under {moddir}, found {versions}")
                self.version = versions[0]
                self.moddir = os.path.join(moddir, self.version)
                self.vmlinuz = os.path.join(root, "boot", "vmlinuz-" + self.version)
                self._deps = None

        def _load_deps(self):
                deps = {}
                with open(os.path.join(self.moddir, "modules.dep")) as f:
                        for line in f:
                                path, _, rest = line.partition(":")
                                deps[_module_name(path)] = (path, rest.split())
                return deps

        def closure(self, names):
                """Module paths (relative to the module dir) in an order insmod accepts."""
                if self._deps is None:
                        self._deps = self._load_deps()
                order, seen = [], set()

                def visit(name, wanted_by):
                        key = _module_name(name)
                        if key in seen:
                                return
                        if key not in self._deps:
                                raise HarnessError(f"module '{name}' (wanted by {wanted_by}) is "
                                                   f"not in {self.moddir}/modules.dep")
                        seen.add(key)
                        path, deps = self._deps[key]
                        for dep in deps:
                                visit(dep, key)
                        order.append(path)

                for name in names:
                        visit(name, "tests/vm/guest/modules")
                return order


def _module_name(path):
        base = os.path.basename(path)
        for suffix in (".ko", ".ko.xz", ".ko.zst", ".ko.gz"):
                if base.endswith(suffix):
                        base = base[: -len(suffix)]
        return base.replace("-", "_")


def fetch(cache):
        """The cached kernel, fetching it first if the cache has none.

        The caller holds the cache's lock (vm.py's prepare()): tests run side by side."""
        root = os.path.join(cache, "kernel")
        if os.path.exists(os.path.join(root, ".complete")):
                return Kernel(root)
        if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
                raise HarnessError("cannot fetch the guest kernel: apt-get and dpkg-deb "
                                   "are missing (the vm tier needs a Debian host)")
        shutil.rmtree(root, ignore_errors=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
                meta = _apt_download(META_PACKAGE, tmp)
                # The meta package depends on exactly one versioned image package.
                image = _deb_field(meta, "Depends").split(",")[0].split()[0]
                deb = _apt_download(image, tmp)
                unpack = os.path.join(tmp, "root")
                proc = _run(["dpkg-deb", "-x", deb, unpack])
                if proc.returncode != 0:
                        raise HarnessError(f"dpkg-deb -x {deb} failed: {proc.stderr.strip()}")
                kernel = Kernel(unpack)
                proc = _run(["busybox", "depmod", "-b", unpack, kernel.version])
                if proc.returncode != 0:
                        raise HarnessError(f"busybox depmod failed: {proc.stderr.strip()}")
                os.rename(unpack, root)
        open(os.path.join(root, ".complete"), "w").close()
        return Kernel(root)


class _Cpio:
        """A newc archive written straight from Python (no staging tree, no cpio binary)."""

        def __init__(self, f):
                self.f = f
                self.ino = 1

        def _entry(self, name, mode, data=b""):
                fields = [self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
                self.ino += 1
                header = b"070701" + b"".join(b"%08X" % v for v in fields)
                self.f.write(header + name.encode() + b"\0")
                self.f.write(b"\0" * (-(len(header) + len(name) + 1) % 4))
                self.f.write(data)
                self.f.write(b"\0" * (-len(data) % 4))

        def dir(self, name):
                self._entry(name, stat.S_IFDIR | 0o755)

        def file(self, name, data, mode=0o644):
                self._entry(name, stat.S_IFREG | mode, data)

        def symlink(self, name, target):
                self._entry(name, stat.S_IFLNK | 0o777, target.encode())

        def close(self):
                self._entry("TRAILER!!!", 0)


def build_initramfs(kernel, modules, init_script, output):
        """Busybox, the init script and the closure of MODULES, as an uncompressed newc cpio."""
        busybox = shutil.which("busybox")
        if busybox is None:
                raise HarnessError("busybox is not installed (run tools/install-deps: "
                                   "busybox-static)")
        with open(busybox, "rb") as f:
                busybox_data = f.read()
        if b"/ld-linux" in busybox_data[:4096]:
                raise HarnessError(f"{busybox} is dynamically linked; the initramfs needs "
                                   f"busybox-static")
        paths = kernel.closure(modules)
        tmp = output + ".tmp"
        with open(tmp, "wb") as f:
                cpio = _Cpio(f)
                for d in ("bin", "dev", "proc", "sys", "run", "host", "newroot", "rw", "lib",
                          "lib/modules"):
                        cpio.dir(d)
                cpio.file("bin/busybox", busybox_data, 0o755)
                cpio.symlink("bin/sh", "busybox")
                with open(init_script, "rb") as s:
                        cpio.file("init", s.read(), 0o755)
                order = []
                for i, path in enumerate(paths):
                        name = f"lib/modules/{i:03d}-{os.path.basename(path)}"
                        with open(os.path.join(kernel.moddir, path), "rb") as m:
                                cpio.file(name, m.read())
                        order.append(os.path.basename(name))
                cpio.file("lib/modules/order", ("\n".join(order) + "\n").encode())
                cpio.close()
        os.rename(tmp, output)
        return paths

