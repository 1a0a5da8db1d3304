/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading sysfs and procfs attributes: whole small files, numbers, link targets. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define IOM_SYSFS_ROOT "/sys"

/* Reads a whole regular file of at most @max_size bytes into a NUL-terminated string, and its
 * size (NULs included) into *@ret_size unless NULL; -EFBIG when it is larger, -EISDIR for a
 * directory, -EBADFD for anything else that is not a regular file (a FIFO: never waits). */
int iom_read_file(const char *path, size_t max_size, char **ret, size_t *ret_size);
/* The same from an open file descriptor (a pipe too), also giving the size (NULs included). */
int iom_read_fd(int fd, size_t max_size, char **ret, size_t *ret_size);

/* Reads @dir/@name (at most 64 KiB) with trailing newlines removed into a new string; waits
 * as the attribute's read does (whatever the file is). */
int iom_sysfs_read_string(const char *dir, const char *name, char **ret);

/* Reads a number in C notation ("0x8086", "12", "-1"). */
int iom_sysfs_read_int64(const char *dir, const char *name, int64_t *ret);

/* Reads the last path element of the symlink @dir/@name ("driver" -> "e1000e"). Returns
 * -ENOENT when there is no such link. */
int iom_sysfs_read_link_name(const char *dir, const char *name, char **ret);

/* Returns the directory procfs files are read from: $IOMMUD_PROC_ROOT, or "/proc". The
 * variable exists so tests and replays of a recorded host can supply /proc/cmdline and
 * /proc/interrupts. */
const char *iom_proc_root(void);

/* Reads up to @size bytes at @offset of the binary attribute @dir/@name (PCI "config");
 * returns the number of bytes read. */
int iom_sysfs_read_binary(const char *dir, const char *name, size_t offset, void *buf, size_t size);
