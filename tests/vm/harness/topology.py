# SPDX-License-Identifier: LGPL-2.1-or-later
# Reads a topology file (tests/vm/topologies/*.json) and turns it into QEMU arguments.
"""A topology is a machine as data: a list of QEMU devices and what the guest does with them.

    {
      "description": "...",
      "memory_mb": 1024,
      "devices": [
        {"id": "display", "driver": "bochs-display", "bus": "pcie.0", "addr": "02.0",
         "multifunction": "on"},
        {"id": "nvme0", "driver": "nvme", "bus": "rp1", "serial": "nvme0",
         "disk": {"size_mb": 64, "label": "data", "mount": "/mnt/data",
                  "files": {"hello.txt": "text"}}},
        {"id": "lan0", "driver": "e1000e", "bus": "rp2", "mac": "52:54:00:12:34:01",
         "network": {"address": "10.0.2.15/24", "gateway": "10.0.2.2"}}
      ]
    }

Every key of a device other than "disk" and "network" is passed to QEMU's -device as is.
"disk" gives the device a drive: a raw image of size_mb, with an ext4 filesystem when
"label" is set (holding "files"), mounted by the guest at "mount".  "network" gives a NIC a
user-mode network: with "address" (and "gateway") the guest configures the interface with
that MAC; "restrict": true isolates it.
"""

import json
import os
import subprocess
import tempfile

from .errors import HarnessError

SPECIAL_KEYS = {"disk", "network"}
DISK_KEYS = {"size_mb", "label", "mount", "files"}
NETWORK_KEYS = {"address", "gateway", "restrict"}


class Topology:
        def __init__(self, path):
                self.path = path
                self.name = os.path.splitext(os.path.basename(path))[0]
                try:
                        with open(path) as f:
                                data = json.load(f)
                except OSError as e:
                        raise HarnessError(f"{path}: cannot read the topology: {e.strerror}")
                except json.JSONDecodeError as e:
                        raise HarnessError(f"{path}:{e.lineno}:{e.colno}: {e.msg}")
                self.description = self._get(data, "description", str, "")
                self.memory_mb = self._get(data, "memory_mb", int, 1024)
                self.devices = self._get(data, "devices", list, None)
                ids = set()
                for i, dev in enumerate(self.devices):
                        self._check_device(i, dev, ids)

        def _fail(self, where, what):
                raise HarnessError(f"{self.path}: {where}: {what}")

        def _get(self, obj, key, kind, default):
                if key not in obj:
                        if default is None:
                                self._fail(key, "missing")
                        return default
                if not isinstance(obj[key], kind) or isinstance(obj[key], bool) != (kind is bool):
                        self._fail(key, f"must be {kind.__name__}, not {obj[key]!r}")
                return obj[key]

        def _check_device(self, i, dev, ids):
                where = f"devices[{i}]"
                if not isinstance(dev, dict):
                        self._fail(where, "must be an object")
                for key in ("id", "driver"):
                        if not isinstance(dev.get(key), str) or not dev[key]:
                                self._fail(where, f"'{key}' must be a non-empty string")
                if dev["id"] in ids:
                        self._fail(where, f"id '{dev['id']}' is used twice")
                ids.add(dev["id"])
                for key, value in dev.items():
                        if key in SPECIAL_KEYS:
                                continue
                        if not isinstance(value, (str, int)) or isinstance(value, bool):
                                self._fail(f"{where}.{key}", f"must be a string or a number")
                        if isinstance(value, str) and "," in value:
                                self._fail(f"{where}.{key}", "must not contain ','")
                for key, allowed in (("disk", DISK_KEYS), ("network", NETWORK_KEYS)):
                        if key not in dev:
                                continue
                        if not isinstance(dev[key], dict):
                                self._fail(f"{where}.{key}", "must be an object")
                        unknown = set(dev[key]) - allowed
                        if unknown:
                                self._fail(f"{where}.{key}", f"unknown keys {sorted(unknown)}")
                disk = dev.get("disk")
                if disk is not None:
                        if not isinstance(disk.get("size_mb"), int) or disk["size_mb"] <= 0:
                                self._fail(f"{where}.disk.size_mb", "must be a positive number")
                        if "mount" in disk and "label" not in disk:
                                self._fail(f"{where}.disk", "'mount' needs a 'label'")
                net = dev.get("network")
                if net is not None and "address" in net and "mac" not in dev:
                        self._fail(f"{where}.network", "a configured NIC needs a 'mac'")

        def qemu_args(self, workdir):
                """-device/-drive/-netdev arguments; disk images are made in WORKDIR."""
                args = []
                for dev in self.devices:
                        props = {k: v for k, v in dev.items() if k not in SPECIAL_KEYS}
                        if "disk" in dev:
                                image = self._make_disk(dev, workdir)
                                drive = "drive-" + dev["id"]
                                args += ["-drive", f"if=none,id={drive},format=raw,file={image}"]
                                props["drive"] = drive
                        if "network" in dev:
                                netdev = "net-" + dev["id"]
                                restrict = "on" if dev["network"].get("restrict") else "off"
                                args += ["-netdev", f"user,id={netdev},restrict={restrict}"]
                                props["netdev"] = netdev
                        driver = props.pop("driver")
                        args += ["-device", ",".join([driver] + [f"{k}={v}"
                                                                 for k, v in props.items()])]
                return args

        def guest_config(self):
                """What the guest sets up: interfaces by MAC, filesystems by label."""
                nets = [dict(dev["network"], mac=dev["mac"], id=dev["id"])
                        for dev in self.devices if "address" in dev.get("network", {})]
                mounts = [{"id": dev["id"], "label": dev["disk"]["label"],
                           "mount": dev["disk"]["mount"]}
                          for dev in self.devices if "mount" in dev.get("disk", {})]
                return {"name": self.name, "description": self.description,
                        "networks": nets, "mounts": mounts}

        def _make_disk(self, dev, workdir):
                disk = dev["disk"]
                image = os.path.join(workdir, dev["id"] + ".img")
                with open(image, "wb") as f:
                        f.truncate(disk["size_mb"] << 20)
                if "label" not in disk:
                        return image
                with tempfile.TemporaryDirectory(dir=workdir) as content:
                        for name, text in disk.get("files", {}).items():
                                with open(os.path.join(content, name), "w") as f:
                                        f.write(text)
                        try:
                                proc = subprocess.run(["mkfs.ext4", "-q", "-F", "-L", disk["label"],
                                                       "-d", content, image],
                                                      capture_output=True, text=True, timeout=60)
                        except FileNotFoundError:
                                raise HarnessError("mkfs.ext4 is missing (install e2fsprogs)")
                if proc.returncode != 0:
                        raise HarnessError(f"{self.path}: mkfs.ext4 for '{dev['id']}' failed: "
                                           f"{proc.stderr.strip()}")
                return image
