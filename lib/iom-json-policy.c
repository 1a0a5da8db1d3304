/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rendering the policy in force as JSON with json-c. */
#include <string.h>

#include <json-c/json.h>

#include "iom-json-policy.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static json_object *strv(char *const *l) {
        json_object *a = json_object_new_array();
        for (char *const *i = l; a && i && *i; i++)
                json_object_array_add(a, json_object_new_string(*i));
        return a;
}

char *iom_json_policy_show(char *const *files, const struct iom_json_policy_rule *rules,
                           size_t n_rules) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *list = json_object_new_array();
        const char *s;

        if (!o || !list) {
                json_object_put(list);
                return NULL;
        }
        json_object_object_add(o, "files", strv(files));
        for (size_t i = 0; i < n_rules; i++) {
                json_object *r = json_object_new_object();
                json_object_object_add(r, "id", json_object_new_string(rules[i].id));
                json_object_object_add(r, "file", json_object_new_string(rules[i].file));
                json_object_object_add(r, "line", json_object_new_int64(rules[i].line));
                json_object_object_add(r, "action", json_object_new_string(rules[i].action));
                json_object_object_add(r, "match", json_object_new_string(rules[i].match));
                json_object_object_add(r, "options", json_object_new_string(rules[i].options));
                json_object_object_add(r, "guests", strv(rules[i].guests));
                json_object_array_add(list, r);
        }
        json_object_object_add(o, "rules", list);
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
        return s ? strdup(s) : NULL;
}
