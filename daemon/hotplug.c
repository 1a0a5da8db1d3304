/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Following the host: udev's pci uevents (add, remove, bind, unbind) trigger a rescan. */
#include <libudev.h>

#include "binder.h"
#include "log.h"
#include "manager.h"

/* A device that appears binds its driver a moment later; one rescan covers the burst. */
#define REFRESH_DELAY_USEC (100 * 1000)

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev *, udev_unref);

static int on_refresh(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;

        m->refresh_source = sd_event_source_unref(m->refresh_source);
        /* The host changed: a device a change was waiting for may be free now. */
        manager_request_rescan(m, true);
        return 0;
}

static int on_uevent(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct manager *m = userdata;
        struct udev_device *d;
        int r;

        while ((d = udev_monitor_receive_device(m->monitor))) {
                log_debug("uevent: %s %s", udev_device_get_action(d) ?: "?",
                          udev_device_get_sysname(d) ?: "?");
                udev_device_unref(d);
        }
        if (m->refresh_source)
                return 0;
        r = sd_event_add_time_relative(m->event, &m->refresh_source, CLOCK_MONOTONIC,
                                       REFRESH_DELAY_USEC, 0, on_refresh, m);
        if (r < 0)
                log_warning_errno(r, "Failed to schedule a rescan, ignoring: %m");
        return 0;
}

int hotplug_start(struct manager *m) {
        _cleanup_(udev_unrefp) struct udev *udev = udev_new();
        int r;

        if (!udev)
                return log_oom();
        /* "udev" events come after udev's rules ran, so device nodes and names are in place. */
        m->monitor = udev_monitor_new_from_netlink(udev, "udev");
        if (!m->monitor)
                return log_error_errno(ENOMEM, "Failed to create a udev monitor.");
        r = udev_monitor_filter_add_match_subsystem_devtype(m->monitor, "pci", NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to filter uevents: %m");
        r = udev_monitor_enable_receiving(m->monitor);
        if (r < 0)
                return log_error_errno(r, "Failed to listen to uevents: %m");
        r = sd_event_add_io(m->event, &m->monitor_source, udev_monitor_get_fd(m->monitor), EPOLLIN,
                            on_uevent, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch uevents: %m");
        return 0;
}
