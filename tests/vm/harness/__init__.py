# SPDX-License-Identifier: LGPL-2.1-or-later
# The host side of the vm test tier: kernel cache, initramfs, topologies, QEMU supervision.
