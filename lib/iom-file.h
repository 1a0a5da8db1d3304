/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Files replaced atomically: readers see the old content or the new one, never a torn one. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Writes @text to a hidden temporary in @path's directory (".<name>.XXXXXX": neither Node
 * Feature Discovery nor node_exporter's textfile collector reads it), sets @mode and renames it
 * over @path. With @durable, the file and then its directory are fsync'd before returning (the
 * state journal); without, a crash may lose the new content but never tears it (exports that
 * are written again at the next start). On failure @path is unchanged and no temporary is
 * left. */
int iom_file_replace(const char *path, const char *text, mode_t mode, bool durable);

/* Removes the temporaries of replacements of @path that a crash cut short; nothing else in
 * the directory is touched. */
void iom_file_remove_stale_temporaries(const char *path);
