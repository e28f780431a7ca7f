#include "util/jschema.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 160

struct jcheck {
    char *msg;
    size_t cap;
    char path[PATH_MAX_LEN];
};

static int fail(struct jcheck *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct jcheck *c, const char *fmt, ...)
{
    if (c->cap) {
        int n = snprintf(c->msg, c->cap, "%s: ", c->path);
        if (n >= 0 && (size_t)n < c->cap) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->msg + n, c->cap - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static const char *type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static int type_is(const char *t, const json_t *v)
{
    if (strcmp(t, "string") == 0)
        return json_is_string(v);
    if (strcmp(t, "number") == 0)
        return json_is_number(v);
    if (strcmp(t, "integer") == 0) {
        if (json_is_integer(v))
            return 1;
        if (!json_is_real(v))
            return 0;
        double d = json_real_value(v);
        return isfinite(d) && d == floor(d);
    }
    if (strcmp(t, "boolean") == 0)
        return json_is_boolean(v);
    if (strcmp(t, "object") == 0)
        return json_is_object(v);
    if (strcmp(t, "array") == 0)
        return json_is_array(v);
    if (strcmp(t, "null") == 0)
        return json_is_null(v);
    return 1; /* an unknown type name restricts nothing */
}

/* Equality for enum/const: jansson's, except that 1 and 1.0 are equal. */
static int same(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    return json_equal(a, b);
}

static int check(struct jcheck *c, const json_t *s, const json_t *v, int depth);

/* Appends ".key" or "[i]" to the path for the duration of one check. */
static int check_at(struct jcheck *c, const json_t *s, const json_t *v, int depth,
                    const char *key, size_t index)
{
    size_t len = strlen(c->path);
    if (key)
        snprintf(c->path + len, sizeof(c->path) - len, ".%s", key);
    else
        snprintf(c->path + len, sizeof(c->path) - len, "[%zu]", index);
    int rc = check(c, s, v, depth + 1);
    c->path[len] = '\0'; /* a failure's message is already written */
    return rc;
}

static int check_type(struct jcheck *c, const json_t *t, const json_t *v)
{
    if (json_is_string(t)) {
        if (!type_is(json_string_value(t), v))
            return fail(c, "expected %s%s, got %s",
                        strchr("aeiou", json_string_value(t)[0]) ? "an " : "a ",
                        json_string_value(t), type_of(v));
        return 0;
    }
    if (!json_is_array(t) || json_array_size(t) == 0)
        return 0;
    size_t i;
    const json_t *x;
    char names[96] = "";
    json_array_foreach(t, i, x) {
        if (!json_is_string(x) || type_is(json_string_value(x), v))
            return 0;
        size_t n = strlen(names);
        snprintf(names + n, sizeof(names) - n, "%s%s", n ? " or " : "", json_string_value(x));
    }
    return fail(c, "expected %s, got %s", names, type_of(v));
}

static int check_object(struct jcheck *c, const json_t *s, const json_t *v, int depth)
{
    const json_t *props = json_object_get(s, "properties");
    const json_t *req = json_object_get(s, "required");
    const json_t *extra = json_object_get(s, "additionalProperties");
    size_t i;
    const json_t *x;
    json_array_foreach(req, i, x) {
        if (json_is_string(x) && !json_object_get(v, json_string_value(x)))
            return fail(c, "the required property \"%s\" is missing", json_string_value(x));
    }
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        const json_t *ps = json_object_get(props, key);
        if (ps) {
            if (check_at(c, ps, val, depth, key, 0) < 0)
                return -1;
        } else if (json_is_false(extra)) {
            return fail(c, "the property \"%s\" is not allowed", key);
        } else if (json_is_object(extra) && check_at(c, extra, val, depth, key, 0) < 0) {
            return -1;
        }
    }
    return 0;
}

static int check_array(struct jcheck *c, const json_t *s, const json_t *v, int depth)
{
    const json_t *items = json_object_get(s, "items");
    const json_t *mn = json_object_get(s, "minItems"), *mx = json_object_get(s, "maxItems");
    size_t n = json_array_size(v);
    if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn))
        return fail(c, "expected at least %lld items, got %zu", (long long)json_integer_value(mn),
                    n);
    if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx))
        return fail(c, "expected at most %lld items, got %zu", (long long)json_integer_value(mx),
                    n);
    if (!json_is_object(items))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (check_at(c, items, json_array_get(v, i), depth, NULL, i) < 0)
            return -1;
    return 0;
}

static int check(struct jcheck *c, const json_t *s, const json_t *v, int depth)
{
    if (!json_is_object(s) || depth > JSCHEMA_MAX_DEPTH)
        return 0;
    if (check_type(c, json_object_get(s, "type"), v) < 0)
        return -1;
    const json_t *e = json_object_get(s, "enum");
    if (json_is_array(e)) {
        size_t i;
        const json_t *x;
        int found = 0;
        json_array_foreach(e, i, x) {
            if (same(x, v)) {
                found = 1;
                break;
            }
        }
        if (!found) {
            char *list = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
            int rc = fail(c, "expected one of %.120s", list ? list : "the enum");
            free(list);
            return rc;
        }
    }
    const json_t *k = json_object_get(s, "const");
    if (k && !same(k, v))
        return fail(c, "expected the constant value");
    const json_t *all = json_object_get(s, "allOf");
    size_t i;
    const json_t *x;
    json_array_foreach(all, i, x) {
        if (check(c, x, v, depth + 1) < 0)
            return -1;
    }
    const json_t *any = json_object_get(s, "anyOf");
    if (!json_is_array(any))
        any = json_object_get(s, "oneOf");
    if (json_is_array(any) && json_array_size(any)) {
        int ok = 0;
        json_array_foreach(any, i, x) {
            if (check(c, x, v, depth + 1) == 0) {
                ok = 1;
                break;
            }
        }
        if (!ok)
            return -1; /* the message of the last alternative tried */
    }
    if (json_is_object(v))
        return check_object(c, s, v, depth);
    if (json_is_array(v))
        return check_array(c, s, v, depth);
    return 0;
}

int jschema_check(const json_t *schema, const json_t *value, const char *root, char *msg,
                  size_t cap)
{
    struct jcheck c = { msg, cap, "" };
    snprintf(c.path, sizeof(c.path), "%s", root ? root : "value");
    if (cap)
        msg[0] = '\0';
    return check(&c, schema, value, 0);
}

int jschema_is_string(const json_t *schema)
{
    const json_t *t = json_object_get(schema, "type");
    if (json_is_string(t))
        return strcmp(json_string_value(t), "string") == 0;
    size_t i;
    const json_t *x;
    int str = 0;
    json_array_foreach(t, i, x) {
        if (!json_is_string(x))
            return 0;
        if (strcmp(json_string_value(x), "string") == 0)
            str = 1;
        else if (strcmp(json_string_value(x), "null") != 0)
            return 0;
    }
    return str;
}
