# SPDX-License-Identifier: LGPL-2.1-or-later
# Breaks on purpose (a test of the harness): a command in the guest fails; the harness must report
# the command's own output. Run through 'vm.py expect-failure', which passes when it does.
TOPOLOGY = "workstation"
TIMEOUT = 300


def run(vm):
        vm.start_daemon()
        vm.sh("echo 'broken-command: about to fail on purpose' >&2; "
              "ls /sys/kernel/iommu_groups/4242/devices")
