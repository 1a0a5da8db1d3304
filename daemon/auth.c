/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Authorization: the method table and the polkit question. */
#include <errno.h>
#include <string.h>

#include "auth.h"
#include "macro.h"

static const struct {
        const char *member;
        const char *action;
} method_actions[] = {
        {"Assign", IOMMUD_ACTION_MANAGE},
        {"Release", IOMMUD_ACTION_MANAGE},
        {"Rebind", IOMMUD_ACTION_MANAGE},
        {"ReloadPolicy", IOMMUD_ACTION_POLICY},
        {"CreateSpace", IOMMUD_ACTION_SPACES},
};

static const char *action_for(const char *member) {
        for (size_t i = 0; member && i < ELEMENTSOF(method_actions); i++)
                if (streq(method_actions[i].member, member))
                        return method_actions[i].action;
        return NULL;
}

int auth_sender_is_root(sd_bus_message *m) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t uid;
        int r;

        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return r;
        return uid == 0;
}

/* org.freedesktop.PolicyKit1.Authority.CheckAuthorization for the sender's bus name, with no
 * interaction (flags 0): polkit answers at once. */
static int polkit_check(sd_bus_message *m, const char *action) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        sd_bus *bus = sd_bus_message_get_bus(m);
        const char *sender = sd_bus_message_get_sender(m);
        int authorized, challenge, r;

        if (!sender)
                return -EBADMSG;
        r = sd_bus_message_new_method_call(
                bus, &call, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
                "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r < 0)
                return r;
        r = sd_bus_message_append(call, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s",
                                  sender, action, 0, 0, "");
        if (r < 0)
                return r;
        r = sd_bus_call(bus, call, 0, NULL, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r < 0)
                return r;
        return authorized;
}

int auth_check(sd_bus_message *m, sd_bus_error *error) {
        const char *action = action_for(sd_bus_message_get_member(m));
        int r;

        if (!action)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "%s is not an authorized method",
                                         strempty(sd_bus_message_get_member(m)));
        r = auth_sender_is_root(m);
        if (r > 0)
                return 1;
        r = polkit_check(m, action);
        if (r > 0)
                return 1;
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Not authorized for %s%s%s",
                                 action, r < 0 ? ": polkit did not answer: " : "",
                                 r < 0 ? strerror(-r) : "");
}
