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
        # SR-IOV: the VFs are recorded enabled, without drivers (autoprobe off first).
        for pf in vm.sh("ls -d /sys/bus/pci/devices/*/sriov_totalvfs | xargs -r dirname",
                        quiet=True).split():
                vm.run(f"echo 0 > {pf}/sriov_drivers_autoprobe && "
                       f"cat {pf}/sriov_totalvfs > {pf}/sriov_numvfs")
        vm.run(["udevadm", "settle", "--timeout=60"], timeout=70, quiet=True)
        recording = vm.sh("umockdev-record /sys/bus/pci/devices/*", quiet=True)
        host = vm.sh(["python3", recorder, "--description", topology["description"]],
                     quiet=True)
        for suffix, text in ((".umockdev", recording), (".host.json", host)):
                with open(os.path.join("/run/vm", name + suffix), "w") as f:
                        f.write(text)
        vm.log(f"recorded {recording.count('P: /devices/')} devices and "
               f"{len(os.listdir('/sys/kernel/iommu_groups'))} IOMMU groups of '{name}'")
