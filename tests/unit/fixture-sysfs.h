/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fake sysfs and procfs trees for unit tests: files, relative links, removal. */
#pragma once

#include "macro.h"

/* Writes @content to the file @format names below @root, making the directories above it;
 * aborts on failure (test setup). */
_printf_(3, 4) void fixture_put(const char *root, const char *content, const char *format, ...);

/* Makes @link (below @root) point at @target (below @root too), relatively, as sysfs does; a
 * @target starting with '@' is written as it stands (a /proc/PID/ns link). */
void fixture_link(const char *root, const char *target, const char *link);

/* Removes the file or link @path below @root; aborts when there is none. */
void fixture_unlink(const char *root, const char *path);

/* Creates a fresh directory "/tmp/iommud-@name.XXXXXX" and returns its path. */
char *fixture_mkdtemp(const char *name);

/* Removes the tree at @root, if any. */
void fixture_remove(const char *root);
