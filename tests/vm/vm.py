#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# The vm tier's command: boots a topology under QEMU and runs a scenario, the demo or a recording.
"""Usage:
  vm.py run JOB [--build-dir DIR] [--topology NAME] [--echo all|job] [--shell]
  vm.py expect-failure JOB --match TEXT... [--build-dir DIR]
  vm.py prepare [--build-dir DIR]

JOB is a Python file with run(vm), executed inside the guest (tests/vm/scenarios/*.py); it
names its machine with TOPOLOGY = "name" (tests/vm/topologies/NAME.json) and may set
TIMEOUT (seconds, default 420) and INIT ("busybox", the default, or "systemd": PID 1 is
systemd and the installed iommud.service runs the daemon).  Exit status: 0 pass, 1 fail, 2 usage or missing requirement.
"""

import argparse
import ast
import fcntl
import hashlib
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import kernel as kernellib  # noqa: E402
from harness.errors import HarnessError  # noqa: E402
from harness.machine import INITS, Machine, qemu_binary  # noqa: E402
from harness.topology import Topology  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
DEFAULT_TIMEOUT = 420
READY_TIMEOUT = 240


def job_settings(path):
        """TOPOLOGY and TIMEOUT of a job file, read without running it (it runs in the guest)."""
        try:
                with open(path) as f:
                        tree = ast.parse(f.read(), path)
        except OSError as e:
                raise HarnessError(f"{path}: {e.strerror}")
        except SyntaxError as e:
                raise HarnessError(f"{path}:{e.lineno}: {e.msg}")
        settings = {}
        for node in tree.body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                                node.targets[0], ast.Name) and node.targets[0].id.isupper():
                        try:
                                settings[node.targets[0].id] = ast.literal_eval(node.value)
                        except ValueError:
                                pass
        return settings


def prepare(build_dir):
        """The cached kernel and an initramfs for the current init, module list and kernel.

        Tests run side by side: one prepares while the others wait on the cache's lock."""
        cache = os.path.join(build_dir, "tests", "vm", "cache")
        os.makedirs(cache, exist_ok=True)
        with open(os.path.join(cache, ".lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                return prepare_locked(cache)


def prepare_locked(cache):
        kernel = kernellib.fetch(cache)
        init = os.path.join(HERE, "guest", "init")
        modlist = os.path.join(HERE, "guest", "modules")
        with open(modlist) as f:
                modules = [line.split("#")[0].strip() for line in f]
        modules = [m for m in modules if m]
        digest = hashlib.sha256()
        for path in (init, modlist):
                with open(path, "rb") as f:
                        digest.update(f.read())
        digest.update(kernel.version.encode())
        initramfs = os.path.join(cache, f"initramfs-{digest.hexdigest()[:16]}.cpio")
        if not os.path.exists(initramfs):
                kernellib.build_initramfs(kernel, modules, init, initramfs)
                for old in os.listdir(cache):
                        # Only finished images: a .tmp is another test's build in progress.
                        if old.startswith("initramfs-") and old.endswith(".cpio") and \
                                        old != os.path.basename(initramfs):
                                os.unlink(os.path.join(cache, old))
        return kernel, initramfs


def cmd_run(args):
        job = os.path.abspath(args.job)
        settings = job_settings(job)
        topo_name = args.topology or settings.get("TOPOLOGY")
        if not topo_name:
                raise HarnessError(f"{job}: names no TOPOLOGY and no --topology was given")
        topology = Topology(os.path.join(HERE, "topologies", topo_name + ".json"))
        timeout = int(settings.get("TIMEOUT", DEFAULT_TIMEOUT))
        init = settings.get("INIT", "busybox")
        if init not in INITS:
                raise HarnessError(f"{job}: INIT = {init!r} is not one of {', '.join(INITS)}")
        build_dir = os.path.abspath(args.build_dir)
        for binary in ("daemon/iommud", "cli/iommuctl"):
                if not os.access(os.path.join(build_dir, binary), os.X_OK):
                        raise HarnessError(f"{build_dir}/{binary} is not built (ninja -C "
                                           f"{build_dir})")
        qemu_binary()
        t0 = time.monotonic()
        kernel, initramfs = prepare(build_dir)
        prep = time.monotonic() - t0
        name = os.path.splitext(os.path.basename(job))[0]
        if args.topology:
                name += "-" + topology.name
        results = os.path.join(build_dir, "tests", "vm", "results", name)
        machine = Machine(kernel=kernel, initramfs=initramfs, topology=topology,
                          source_dir=SOURCE_DIR, build_dir=build_dir, results=results,
                          init=init)
        print(f"vm: {name}: booting '{topology.name}' (kernel {kernel.version}, "
              f"QEMU TCG, emulated Intel IOMMU, PID 1 {init})", flush=True)
        result = machine.run(job, timeout=timeout, ready_timeout=min(READY_TIMEOUT, timeout),
                             echo=args.echo, interactive=args.shell)
        timing = f"{result.wall_s + prep:.1f} s wall (preparing {prep:.1f} s"
        if not args.shell:
                ready = f"{result.ready_s:.1f} s" if result.ready_s is not None else "never"
                timing += f", guest ready after {ready}"
        timing += ")"
        if result.ok:
                print(f"vm: {name}: PASS in {timing}")
                return 0
        print(f"vm: {name}: FAIL in {timing}")
        print(result.message)
        print(f"--- the guest's console, last lines (full log: {results}/console.log) ---")
        print(result.console_tail())
        print("--- end of the guest's console ---", flush=True)
        return 1


def cmd_expect_failure(args):
        """Tests the harness: JOB must fail, promptly, and the report must quote the guest."""
        argv = [sys.executable, os.path.abspath(__file__), "run", args.job,
                "--build-dir", args.build_dir]
        limit = DEFAULT_TIMEOUT + 120
        start = time.monotonic()
        try:
                proc = subprocess.run(argv, capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
                print(f"FAIL: the harness itself hung: no result within {limit} s")
                return 1
        wall = time.monotonic() - start
        report = proc.stdout + proc.stderr
        print("--- the harness's report on the broken job ---")
        print(report.rstrip())
        print("---")
        problems = []
        if proc.returncode != 1:
                problems.append(f"the harness exited with {proc.returncode}, not 1 (fail)")
        for text in args.match:
                if text not in report:
                        problems.append(f"the report does not quote the guest's '{text}'")
        if problems:
                print("FAIL: " + "; ".join(problems))
                return 1
        print(f"PASS: the harness reported the broken guest's failure in {wall:.1f} s")
        return 0


def main():
        parser = argparse.ArgumentParser(description=__doc__,
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("--build-dir", default=os.path.join(SOURCE_DIR, "build"))
        sub = parser.add_subparsers(dest="command", required=True)
        run = sub.add_parser("run")
        run.add_argument("job")
        run.add_argument("--build-dir", default=argparse.SUPPRESS)
        run.add_argument("--topology")
        run.add_argument("--echo", choices=("all", "job"))
        run.add_argument("--shell", action="store_true")
        fail = sub.add_parser("expect-failure")
        fail.add_argument("job")
        fail.add_argument("--build-dir", default=argparse.SUPPRESS)
        fail.add_argument("--match", action="append", required=True)
        prep = sub.add_parser("prepare")
        prep.add_argument("--build-dir", default=argparse.SUPPRESS)
        args = parser.parse_args()
        try:
                if args.command == "run":
                        return cmd_run(args)
                if args.command == "expect-failure":
                        return cmd_expect_failure(args)
                kernel, initramfs = prepare(os.path.abspath(args.build_dir))
                print(f"vm: kernel {kernel.vmlinuz}\nvm: initramfs {initramfs}")
                return 0
        except HarnessError as e:
                print(f"vm: error: {e}", file=sys.stderr)
                return 2


if __name__ == "__main__":
        sys.exit(main())
