/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rendering an explanation as JSON with json-c. */
#include <string.h>

#include <json-c/json.h>

#include "iom-json-explain.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

char *iom_json_explain(const char *device, const char *guest, bool allowed, char *const *kinds,
                       char *const *texts, size_t n) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *reasons = json_object_new_array();
        const char *s;

        if (!o || !reasons) {
                json_object_put(reasons);
                return NULL;
        }
        json_object_object_add(o, "device", json_object_new_string(device));
        json_object_object_add(o, "guest", guest && *guest ? json_object_new_string(guest) : NULL);
        json_object_object_add(o, "allowed", json_object_new_boolean(allowed));
        for (size_t i = 0; i < n; i++) {
                json_object *r = json_object_new_object();
                json_object_object_add(r, "kind", json_object_new_string(kinds[i]));
                json_object_object_add(r, "text", json_object_new_string(texts[i]));
                json_object_array_add(reasons, r);
        }
        json_object_object_add(o, "reasons", reasons);
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
        return s ? strdup(s) : NULL;
}
