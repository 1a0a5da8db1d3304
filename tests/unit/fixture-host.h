/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Recorded hosts (tests/hosts/<name>.umockdev) as umockdev testbeds for unit tests that read
 * /sys through libudev, libpci or plain paths. The test runs under libumockdev-preload. */
#pragma once

struct fixture_host {
        void *testbed; /* UMockdevTestbed; its destructor removes the tree */
        char *root;    /* holds sys/ and dev/, which the preload shows as /sys and /dev */
        char *proc;    /* stands for /proc: $IOMMUD_PROC_ROOT */
};

/* The reserved region every group of an x86 host has: the MSI window. */
#define FIXTURE_HOST_MSI_REGION "0x00000000fee00000 0x00000000feefffff msi\n"

/* Plays the recorded host @name from $IOM_HOSTS and adds what umockdev leaves out, as
 * tests/integration/testbed.py does: each linked driver's directory (with "bind" and "unbind"
 * files to write to), each linked IOMMU group's directory (type "DMA", the MSI window
 * reserved) and /proc/cmdline (intel_iommu=on). Aborts on failure (test setup). */
struct fixture_host *fixture_host_new(const char *name);
struct fixture_host *fixture_host_free(struct fixture_host *h);
void fixture_host_freep(struct fixture_host **h);
