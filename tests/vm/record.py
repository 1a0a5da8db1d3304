# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/record-hosts' job: records the guest's PCI devices and IOMMU groups in the format
# tests/hosts/README.md describes (run with --topology; writes into the results directory).
import os


def run(vm):
        topology = vm.config["topology"]
        name = topology["name"]
        recorder = os.path.join(vm.source_dir, "tests", "integration", "record-host.py")
        vm.check(os.path.exists(recorder), f"{recorder} is missing: the integration tier's "
                 f"recorder of what umockdev does not record (tests/hosts/README.md)")
        recording = vm.sh("umockdev-record /sys/bus/pci/devices/*", quiet=True)
        host = vm.sh(["python3", recorder, "--description", topology["description"]],
                     quiet=True)
        for suffix, text in ((".umockdev", recording), (".host.json", host)):
                with open(os.path.join("/run/vm", name + suffix), "w") as f:
                        f.write(text)
        vm.log(f"recorded {recording.count('P: /devices/')} devices and "
               f"{len(os.listdir('/sys/kernel/iommu_groups'))} IOMMU groups of '{name}'")
