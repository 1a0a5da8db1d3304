/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Authorization: the method table, the bus filter that applies it, and polkit's answers. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "bus-error.h"
#include "bus-util.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "space.h"

#define IOMMUD_INTERFACE_PREFIX "org.iommud1."
/* A person may take a while to type a password into a polkit agent. */
#define POLKIT_INTERACTIVE_TIMEOUT_USEC (300 * UINT64_C(1000000))

enum who {
        WHO_ANYONE,          /* reads what every user may read */
        WHO_POLKIT,          /* root, or whom polkit allows the action */
        WHO_CREATOR,         /* the space's creator: it changes the space */
        WHO_CREATOR_OR_ROOT, /* it reads the space's layout or marks pages dirty */
};

/* Every method of ours. A method of an org.iommud1 interface missing here is denied. */
static const struct method_rule {
        const char *interface;
        const char *member;
        enum who who;
        const char *action;
} method_rules[] = {
        {"org.iommud1.Manager", "Explain", WHO_ANYONE, NULL},
        /* What GetManagedObjects shows everyone, arranged for orchestrators. */
        {"org.iommud1.Manager", "Export", WHO_ANYONE, NULL},
        {"org.iommud1.Manager", "Assign", WHO_POLKIT, IOMMUD_ACTION_MANAGE},
        {"org.iommud1.Manager", "Release", WHO_POLKIT, IOMMUD_ACTION_MANAGE},
        {"org.iommud1.Manager", "Rebind", WHO_POLKIT, IOMMUD_ACTION_REBIND},
        /* Like a rebind, an administrator's change of the host's own devices, not a guest's. */
        {"org.iommud1.Manager", "SetVFs", WHO_POLKIT, IOMMUD_ACTION_REBIND},
        /* An administrator's decision that a device is fit for the host again. */
        {"org.iommud1.Manager", "ReleaseQuarantine", WHO_POLKIT, IOMMUD_ACTION_REBIND},
        {"org.iommud1.Manager", "ReloadPolicy", WHO_POLKIT, IOMMUD_ACTION_POLICY},
        {"org.iommud1.Manager", "CreateSpace", WHO_POLKIT, IOMMUD_ACTION_SPACES},
        {"org.iommud1.Space", "Map", WHO_CREATOR, NULL},
        {"org.iommud1.Space", "MapBatch", WHO_CREATOR, NULL},
        {"org.iommud1.Space", "Unmap", WHO_CREATOR, NULL},
        {"org.iommud1.Space", "SetDirtyTracking", WHO_CREATOR, NULL},
        {"org.iommud1.Space", "Destroy", WHO_CREATOR, NULL},
        {"org.iommud1.Space", "Translate", WHO_CREATOR_OR_ROOT, NULL},
        {"org.iommud1.Space", "GetDirty", WHO_CREATOR_OR_ROOT, NULL},
        {"org.iommud1.Space", "ListMappings", WHO_CREATOR_OR_ROOT, NULL},
};

/* A call held back by the filter: its sender's uid asked of the bus, then maybe polkit
 * asked; once allowed, the call is dispatched again and passes on this mark. */
struct auth_query {
        struct auth *auth;
        sd_bus_message *request;
        const struct method_rule *rule;
        sd_bus_slot *slot;
        uid_t uid;
        bool allowed;
};

struct auth {
        struct manager *manager;
        sd_bus_slot *filter;
        struct auth_query **queries;
        size_t n_queries;
        /* The call that passed last after its sender's uid was asked, kept referenced so that
         * no other message can take its address, and that uid: its handler asks. */
        sd_bus_message *passed;
        uid_t passed_uid;
};

static struct auth_query *query_free(struct auth_query *q) {
        if (!q)
                return NULL;
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->request);
        return mfree(q);
}

static void query_remove(struct auth_query *q) {
        struct auth *a = q->auth;

        for (size_t i = 0; i < a->n_queries; i++)
                if (a->queries[i] == q) {
                        a->queries[i] = a->queries[--a->n_queries];
                        break;
                }
        query_free(q);
}

static const struct method_rule *rule_for(const char *interface, const char *member) {
        /* A call without an interface is matched by its member: ours are unique. */
        for (size_t i = 0; i < ELEMENTSOF(method_rules); i++)
                if ((!interface || streq(method_rules[i].interface, interface)) &&
                    streq(method_rules[i].member, member))
                        return &method_rules[i];
        return NULL;
}

int auth_sender_is_root(struct auth *a, sd_bus_message *m) {
        if (!a->passed || a->passed != m)
                return -ENODATA;
        return a->passed_uid == 0;
}

/* A space's methods: its creator passes; anyone else is refused here (root is asked for
 * separately, where the method only reads). A space that does not exist passes: the object
 * tree answers that it is unknown. */
static int check_space(struct auth *a, sd_bus_message *m, const struct method_rule *rule,
                       sd_bus_error *error) {
        const char *sender = sd_bus_message_get_sender(m);
        const struct space *s;
        uint32_t id;

        if (bus_path_get_id(sd_bus_message_get_path(m), IOMMUD_SPACE_PREFIX, &id) < 0 ||
            !(s = space_find(a->manager, id)))
                return 0;
        if (sender && streq(sender, s->creator))
                return 0;
        return sd_bus_error_setf(
                error, IOMMUD_ERROR_NOT_OWNER,
                "Space %" PRIu32 " belongs to %s, which created it; %s", s->id, s->creator,
                rule->who == WHO_CREATOR ? "only it may change the space"
                                         : "only it and root may read its mappings or mark "
                                           "pages dirty");
}

static size_t pending_of(struct auth *a, const char *sender) {
        size_t n = 0;

        for (size_t i = 0; i < a->n_queries; i++)
                n += !a->queries[i]->allowed &&
                     streq_ptr(sd_bus_message_get_sender(a->queries[i]->request), sender);
        return n;
}

/* Answers the held call with @error (or AccessDenied saying @why) and forgets it. */
static int query_refuse(struct auth_query *q, const sd_bus_error *error, const char *why) {
        int r;

        if (error && sd_bus_error_is_set(error))
                r = sd_bus_reply_method_error(q->request, error);
        else
                r = sd_bus_reply_method_errorf(
                        q->request, SD_BUS_ERROR_ACCESS_DENIED, "Not authorized for %s%s",
                        q->rule->action ?: sd_bus_message_get_member(q->request), strempty(why));
        if (r < 0)
                log_debug_errno(r, "Cannot answer a refused call: %m");
        query_remove(q);
        return 0;
}

/* Dispatched again, the call passes the filter on this mark. */
static int query_allow(struct auth_query *q) {
        int r;

        q->allowed = true;
        r = sd_bus_enqueue_for_read(sd_bus_message_get_bus(q->request), q->request);
        if (r >= 0)
                return 0;
        log_error_errno(r, "Cannot dispatch an authorized call again: %m");
        return query_refuse(q, NULL, NULL);
}

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        struct auth_query *q = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        _cleanup_free_ char *why = NULL;
        int authorized = false, challenge, r;

        q->slot = sd_bus_slot_unref(q->slot);
        if (!e) {
                r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
                if (r < 0)
                        authorized = false;
        }
        if (authorized)
                return query_allow(q);
        if (e && asprintf(&why, ": polkit did not answer: %s", strempty(e->message)) < 0)
                why = NULL;
        return query_refuse(q, NULL, why);
}

/* org.freedesktop.PolicyKit1.Authority.CheckAuthorization for the sender's bus name; with
 * interaction when the caller allows it (flag 1), so polkit may ask the user for a password. */
static int polkit_ask(struct auth_query *q) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        sd_bus *bus = sd_bus_message_get_bus(q->request);
        bool interactive = sd_bus_message_get_allow_interactive_authorization(q->request) > 0;
        int r;

        r = sd_bus_message_new_method_call(
                bus, &call, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
                "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r < 0)
                return r;
        r = sd_bus_message_append(call, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s",
                                  sd_bus_message_get_sender(q->request), q->rule->action, 0,
                                  (uint32_t) interactive, "");
        if (r < 0)
                return r;
        return sd_bus_call_async(bus, &q->slot, call, on_polkit_reply, q,
                                 interactive ? POLKIT_INTERACTIVE_TIMEOUT_USEC : 0);
}

/* The bus's answer to who the sender is: root passes; anyone else is asked of polkit, or
 * refused what only a space's creator and root may do. */
static int on_uid_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        struct auth_query *q = userdata;
        uint32_t uid;
        int r;

        q->slot = sd_bus_slot_unref(q->slot);
        r = sd_bus_message_get_errno(reply);
        if (r == 0)
                r = sd_bus_message_read(reply, "u", &uid);
        if (r < 0)
                return query_refuse(q, NULL, ": the caller cannot be told apart");
        q->uid = uid;
        if (uid == 0)
                return query_allow(q);
        if (q->rule->who == WHO_POLKIT) {
                r = polkit_ask(q);
                if (r < 0)
                        return query_refuse(q, NULL, ": polkit cannot be asked");
                return 0;
        }
        (void) check_space(q->auth, q->request, q->rule, &error);
        return query_refuse(q, &error, NULL);
}

/* Holds @m back while the bus says who sent it (org.freedesktop.DBus.GetConnectionUnixUser:
 * dbus-daemon attaches no credentials to messages, and a synchronous question would stall
 * the loop); the answer goes on in on_uid_reply. */
static int ask_uid(struct auth *a, sd_bus_message *m, const struct method_rule *rule,
                   sd_bus_error *error) {
        const char *sender = sd_bus_message_get_sender(m);
        struct auth_query *q;
        int r;

        if (!sender)
                return -EBADMSG;
        if (a->n_queries >= AUTH_PENDING_MAX ||
            pending_of(a, sender) >= AUTH_PENDING_PER_SENDER_MAX)
                return sd_bus_error_setf(error, IOMMUD_ERROR_BUSY,
                                         "Too many authorization questions are waiting; try again "
                                         "when polkit has answered them");
        if (GREEDY_REALLOC(a->queries, a->n_queries + 1) < 0)
                return -ENOMEM;
        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        *q = (struct auth_query){.auth = a, .request = sd_bus_message_ref(m), .rule = rule};
        r = sd_bus_call_method_async(sd_bus_message_get_bus(m), &q->slot, "org.freedesktop.DBus",
                                     "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                     "GetConnectionUnixUser", on_uid_reply, q, "s", sender);
        if (r < 0) {
                query_free(q);
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Not authorized for %s: the caller cannot be told apart",
                                         rule->action ?: rule->member);
        }
        a->queries[a->n_queries++] = q;
        return 1; /* the answer comes later */
}

/* A call dispatched again after its question was answered yes: it passes, once. */
static bool passes_again(struct auth *a, sd_bus_message *m) {
        for (size_t i = 0; i < a->n_queries; i++)
                if (a->queries[i]->request == m && a->queries[i]->allowed) {
                        sd_bus_message_unref(a->passed);
                        a->passed = sd_bus_message_ref(m);
                        a->passed_uid = a->queries[i]->uid;
                        query_remove(a->queries[i]);
                        return true;
                }
        return false;
}

/* Runs before the object tree sees a message: returns 0 to let it dispatch, 1 when the call
 * waits for the bus or polkit, or a negative errno with @error set to answer it at once. */
static int auth_filter(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct auth *a = userdata;
        const char *interface = sd_bus_message_get_interface(m), *member;
        const struct method_rule *rule;
        int r;

        if (!sd_bus_message_is_method_call(m, NULL, NULL))
                return 0;
        member = sd_bus_message_get_member(m);
        if (interface && !startswith(interface, IOMMUD_INTERFACE_PREFIX))
                return 0; /* the standard interfaces: properties, introspection, peer */
        rule = member ? rule_for(interface, member) : NULL;
        if (!rule) {
                if (!interface)
                        return 0; /* not ours: the standard interfaces answer or refuse it */
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "%s is not a method anyone may call", strempty(member));
        }
        if (passes_again(a, m))
                return 0;
        switch (rule->who) {
        case WHO_ANYONE:
                return 0;
        case WHO_POLKIT:
                return ask_uid(a, m, rule, error);
        case WHO_CREATOR:
                return check_space(a, m, rule, error);
        case WHO_CREATOR_OR_ROOT:
                r = check_space(a, m, rule, error);
                if (r >= 0)
                        return r;
                sd_bus_error_free(error);
                return ask_uid(a, m, rule, error);
        }
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                 "%s is not a method anyone may call", member);
}

int auth_new(struct manager *m, struct auth **ret) {
        struct auth *a = calloc(1, sizeof(*a));
        int r;

        if (!a)
                return -ENOMEM;
        a->manager = m;
        r = sd_bus_add_filter(m->bus, &a->filter, auth_filter, a);
        if (r < 0) {
                free(a);
                return r;
        }
        *ret = a;
        return 0;
}

struct auth *auth_free(struct auth *a) {
        if (!a)
                return NULL;
        sd_bus_slot_unref(a->filter);
        sd_bus_message_unref(a->passed);
        for (size_t i = 0; i < a->n_queries; i++)
                query_free(a->queries[i]);
        free(a->queries);
        return mfree(a);
}
