#include "glm/models.h"

#include <stdio.h>
#include <string.h>

#include "util/jstr.h"

/* Variants a built-in name is listed with (bit set). */
enum {
    V_THINK = 1 << 0,          /* -think */
    V_ZERO = 1 << 1,           /* -zero */
    V_DEEP = 1 << 2,           /* -deepresearch */
    V_SILENT = 1 << 3,         /* -silent */
    V_THINK_SILENT = 1 << 4,   /* -think-silent */
    V_THINKING = 1 << 5,       /* -thinking (2026) */
    V_DEEP_THINKING = 1 << 6,  /* -deep-thinking (2026) */
    V_THINKING_SILENT = 1 << 7, /* -thinking-silent (2026) */
    V_ALL = V_THINK | V_ZERO | V_DEEP | V_SILENT | V_THINK_SILENT,
    V_REASON = V_THINK | V_SILENT | V_THINK_SILENT,
    V_2026 = V_THINKING | V_DEEP_THINKING | V_DEEP | V_SILENT | V_THINKING_SILENT,
};

/* The names /v1/models lists: today's models first, then the older names,
 * which stay as aliases of today's (models_resolve says which). Vision and
 * legacy models get no deep research, which the site only offers for text. */
static const struct {
    const char *name;
    unsigned variants;
    int since_2026;     /* not listed when speaking the 2025 site */
} models_builtin[] = {
    { "glm-5.3", V_2026, 1 },
    { "glm-5.3-flash", V_2026 & ~V_DEEP, 1 },
    { "glm-3-turbo", V_SILENT, 0 },
    { "glm-4", V_ALL, 0 },
    { "glm-4-plus", V_ALL, 0 },
    { "glm-4v", V_SILENT, 0 },
    { "glm-4-flash", V_ALL, 0 },
    { "glm-4-air", V_ALL, 0 },
    { "glm-4.5", V_ALL, 0 },
    { "glm-4.6", V_ALL, 0 },
    { "glm-z1", V_REASON, 0 },
    { "glm-v1", V_REASON, 0 },
    { "glm-v1-vision", V_REASON, 0 },
};

static const struct {
    unsigned bit;
    const char *suffix;
} models_suffixes[] = {
    { V_THINK, "-think" },
    { V_ZERO, "-zero" },
    { V_DEEP, "-deepresearch" },
    { V_SILENT, "-silent" },
    { V_THINK_SILENT, "-think-silent" },
    { V_THINKING, "-thinking" },
    { V_DEEP_THINKING, "-deep-thinking" },
    { V_THINKING_SILENT, "-thinking-silent" },
};

/* The chat_mode values an extra-table entry may name: those seen on the site
 * (spec 6.2, 8.2, 12.3), and "fast" for the empty mode. struct model_route
 * holds a pointer, so each must be a string that lives forever. */
static const char *const models_modes[] = {
    "zero", "deep_research", "thinking", "deep_thinking", "video", "ppt", "fast",
};

/* meta_data.reasoning_effort values (spec 12.4: am_effort). */
static const char *const models_efforts[] = { "low", "medium", "high", "max" };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct model_entry {
    const char *name, *id, *mode;   /* mode is NULL when absent */
    const char *model, *effort;     /* selected_model, reasoning_effort; NULL when absent */
    size_t name_len, id_len, mode_len, model_len, effort_len;
};

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*s)[*n - 1]))
        (*n)--;
}

static int is_assistant_id(const char *s, size_t n)
{
    if (n < 24 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

static const char *known_in(const char *const *set, size_t nset, const char *s, size_t n)
{
    for (size_t i = 0; i < nset; i++)
        if (strlen(set[i]) == n && memcmp(set[i], s, n) == 0)
            return set[i];
    return NULL;
}

static const char *known_mode(const char *s, size_t n)
{
    const char *m = known_in(models_modes, NELEM(models_modes), s, n);
    return m && strcmp(m, "fast") == 0 ? "" : m;
}

static int is_model_name(const char *s, size_t n)
{
    if (n == 0 || n > 47)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
              s[i] == '.' || s[i] == '_'))
            return 0;
    return 1;
}

/* Splits off the next ":"-separated field of [*s, *s+*n) into (f, fn).
 * Returns 1 when a colon followed it (another field comes). */
static int next_field(const char **s, size_t *n, const char **f, size_t *fn)
{
    const char *colon = memchr(*s, ':', *n);
    *f = *s;
    *fn = colon ? (size_t)(colon - *s) : *n;
    trim(f, fn);
    if (colon) {
        *n -= (size_t)(colon + 1 - *s);
        *s = colon + 1;
        return 1;
    }
    *s += *n;
    *n = 0;
    return 0;
}

/* Splits the entry text [s, s+n) (already trimmed) into e. On a syntax error
 * writes why into err and returns -1. */
static int entry_parse(const char *s, size_t n, struct model_entry *e, char *err, size_t errlen)
{
    const char *eq = memchr(s, '=', n);
    if (!eq) {
        snprintf(err, errlen, "models entry \"%.*s\" has no '=' (expected name=assistant_id[:chat_mode])",
                 (int)(n > 64 ? 64 : n), s);
        return -1;
    }
    e->name = s;
    e->name_len = (size_t)(eq - s);
    trim(&e->name, &e->name_len);
    if (e->name_len == 0) {
        snprintf(err, errlen, "models entry \"%.*s\" has an empty name", (int)(n > 64 ? 64 : n), s);
        return -1;
    }
    for (size_t i = 0; i < e->name_len; i++) {
        if ((unsigned char)e->name[i] < 0x20 || e->name[i] == ' ' || e->name[i] == 0x7f) {
            snprintf(err, errlen, "models name \"%.*s\" contains a space or control character",
                     (int)(e->name_len > 64 ? 64 : e->name_len), e->name);
            return -1;
        }
    }
    const char *v = eq + 1;
    size_t vn = n - (size_t)(v - s);
    int more = next_field(&v, &vn, &e->id, &e->id_len);
    e->mode = e->model = e->effort = NULL;
    e->mode_len = e->model_len = e->effort_len = 0;
    if (!is_assistant_id(e->id, e->id_len)) {
        snprintf(err, errlen,
                 "models entry \"%.*s\": assistant id \"%.*s\" is not 24 to 64 lowercase letters and digits",
                 (int)(e->name_len > 64 ? 64 : e->name_len), e->name,
                 (int)(e->id_len > 64 ? 64 : e->id_len), e->id);
        return -1;
    }
    if (more) {
        more = next_field(&v, &vn, &e->mode, &e->mode_len);
        if (!known_mode(e->mode, e->mode_len)) {
            snprintf(err, errlen,
                     "models entry \"%.*s\": unknown chat_mode \"%.*s\" (known: fast, zero, thinking, "
                     "deep_thinking, deep_research, video, ppt)",
                     (int)(e->name_len > 64 ? 64 : e->name_len), e->name,
                     (int)(e->mode_len > 32 ? 32 : e->mode_len), e->mode);
            return -1;
        }
    }
    if (more) {
        more = next_field(&v, &vn, &e->model, &e->model_len);
        if (!is_model_name(e->model, e->model_len)) {
            snprintf(err, errlen, "models entry \"%.*s\": selected_model \"%.*s\" is not 1 to 47 of "
                     "a-z 0-9 . - _", (int)(e->name_len > 64 ? 64 : e->name_len), e->name,
                     (int)(e->model_len > 47 ? 47 : e->model_len), e->model);
            return -1;
        }
    }
    if (more) {
        more = next_field(&v, &vn, &e->effort, &e->effort_len);
        if (!known_in(models_efforts, NELEM(models_efforts), e->effort, e->effort_len) || more) {
            snprintf(err, errlen, "models entry \"%.*s\": reasoning_effort \"%.*s\" is not one of "
                     "low, medium, high, max", (int)(e->name_len > 64 ? 64 : e->name_len), e->name,
                     (int)(e->effort_len > 16 ? 16 : e->effort_len), e->effort);
            return -1;
        }
    }
    return 0;
}

/* Walks the table: fills e with the entry at *pos and moves *pos past it.
 * Returns 1 for an entry, 0 at the end, -1 on a syntax error (err set). */
static int table_next(const char *table, size_t len, size_t *pos, struct model_entry *e,
                      char *err, size_t errlen)
{
    if (*pos >= len)
        return 0;
    const char *s = table + *pos;
    const char *comma = memchr(s, ',', len - *pos);
    size_t n = comma ? (size_t)(comma - s) : len - *pos;
    *pos += n + (comma ? 1 : 0);
    trim(&s, &n);
    if (n == 0 && !comma)
        return 0; /* a trailing comma is harmless */
    if (n == 0) {
        snprintf(err, errlen, "models has an empty entry (a stray comma?)");
        return -1;
    }
    return entry_parse(s, n, e, err, errlen) < 0 ? -1 : 1;
}

static int table_is_blank(const char *table)
{
    if (!table)
        return 1;
    for (const char *p = table; *p; p++)
        if (!is_space(*p))
            return 0;
    return 1;
}

int models_table_check(const char *extra_table, char *err, size_t errlen)
{
    char scratch[1];
    if (!err || errlen == 0) {
        err = scratch;
        errlen = sizeof(scratch);
    }
    err[0] = '\0';
    if (table_is_blank(extra_table))
        return 0;
    size_t len = strlen(extra_table), pos = 0;
    struct model_entry e;
    int r;
    while ((r = table_next(extra_table, len, &pos, &e, err, errlen)) == 1) {
        /* Tables are a handful of entries: comparing with every earlier
         * entry is cheap. Parsing them again cannot fail. */
        size_t pos2 = 0;
        struct model_entry prev;
        while (table_next(extra_table, len, &pos2, &prev, err, errlen) == 1 &&
               prev.name != e.name) {
            if (prev.name_len == e.name_len && memcmp(prev.name, e.name, e.name_len) == 0) {
                snprintf(err, errlen, "models names \"%.*s\" twice",
                         (int)(e.name_len > 64 ? 64 : e.name_len), e.name);
                return -1;
            }
        }
    }
    return r < 0 ? -1 : 0;
}

/* The table entry for name, if any (the table has been checked). */
static int table_find(const char *table, const char *name, struct model_entry *out)
{
    if (table_is_blank(table))
        return 0;
    size_t len = strlen(table), pos = 0, n = strlen(name);
    char err[1];
    while (table_next(table, len, &pos, out, err, sizeof(err)) == 1)
        if (out->name_len == n && memcmp(out->name, name, n) == 0)
            return 1;
    return 0;
}

/* Today's model for a name that is no agent and not in the table. */
static const char *alias_model(const char *model)
{
    if (strncmp(model, "glm-5.3-flash", 13) == 0)
        return "glm-5.3-flash";
    if (strstr(model, "flash") || strstr(model, "air") || strncmp(model, "glm-3", 5) == 0)
        return "glm-5.3-flash";
    return "glm-5.3";
}

static void set_tier(struct model_route *r, const char *mode, const char *effort)
{
    r->chat_mode = mode;
    r->reasoning_effort = effort;
}

int models_resolve(const char *model, const char *default_assistant, const char *extra_table,
                   enum models_era era, struct model_route *out)
{
    memset(out, 0, sizeof(*out));
    if (models_table_check(extra_table, NULL, 0) < 0)
        return -1;
    if (!model)
        model = "";
    if (era == MODELS_ERA_2025) {
        if (strstr(model, "deepresearch"))
            out->chat_mode = "deep_research";
        else if (strstr(model, "think") || strstr(model, "zero"))
            out->chat_mode = "zero";
    } else if (strstr(model, "deepresearch")) {
        set_tier(out, "deep_research", NULL);
    } else if (strstr(model, "deep-thinking") || strstr(model, "deepthink") ||
               strstr(model, "deep_thinking")) {
        set_tier(out, "deep_thinking", "max");
    } else if (strstr(model, "think") || strstr(model, "zero")) {
        set_tier(out, "thinking", "high");
    } else {
        set_tier(out, "", "low");
    }
    out->silent = strstr(model, "silent") != NULL;

    struct model_entry e;
    size_t n = strlen(model);
    if (table_find(extra_table, model, &e)) {
        memcpy(out->assistant_id, e.id, e.id_len);
        out->assistant_id[e.id_len] = '\0';
        if (e.mode)
            out->chat_mode = known_mode(e.mode, e.mode_len);
        if (era == MODELS_ERA_2026 && e.mode && !e.effort && out->chat_mode[0] == '\0')
            out->reasoning_effort = "low";
        else if (era == MODELS_ERA_2026 && e.mode && !e.effort)
            out->reasoning_effort = NULL;
        if (e.model) {
            memcpy(out->selected_model, e.model, e.model_len);
            out->selected_model[e.model_len] = '\0';
        }
        if (e.effort)
            out->reasoning_effort = known_in(models_efforts, NELEM(models_efforts), e.effort,
                                             e.effort_len);
    } else if (is_assistant_id(model, n)) {
        /* Longer than 64 is no id the site hands out: such a name falls
         * through to the default assistant. An agent picks its own model. */
        memcpy(out->assistant_id, model, n + 1);
        out->agent = 1;
        out->chat_mode = NULL;
        out->reasoning_effort = NULL;
    } else {
        snprintf(out->assistant_id, sizeof(out->assistant_id), "%s",
                 default_assistant ? default_assistant : "");
        if (era == MODELS_ERA_2026)
            snprintf(out->selected_model, sizeof(out->selected_model), "%s", alias_model(model));
    }
    return 0;
}

/* OpenAI's reasoning_effort -> 0 fast, 1 thinking, 2 deep; -1 unknown. */
static int effort_tier(const char *effort)
{
    static const struct {
        const char *name;
        int tier;
    } map[] = {
        { "none", 0 }, { "minimal", 0 }, { "low", 1 }, { "medium", 1 }, { "high", 1 },
        { "xhigh", 2 }, { "max", 2 },
    };
    for (size_t i = 0; effort && i < NELEM(map); i++)
        if (strcmp(effort, map[i].name) == 0)
            return map[i].tier;
    return -1;
}

int models_effort_known(const char *effort)
{
    return effort_tier(effort) >= 0;
}

int models_apply_effort(struct model_route *r, const char *effort, enum models_era era)
{
    int tier = effort_tier(effort);
    if (tier < 0)
        return -1;
    if (r->agent || (r->chat_mode && strcmp(r->chat_mode, "deep_research") == 0))
        return 0;
    if (era == MODELS_ERA_2025)
        r->chat_mode = tier ? "zero" : NULL;
    else if (tier == 0)
        set_tier(r, "", "low");
    else if (tier == 1)
        set_tier(r, "thinking", "high");
    else
        set_tier(r, "deep_thinking", "max");
    return 0;
}

static int list_put(struct buf *out, int *first, const char *name, size_t n, const char *suffix,
                    long long created)
{
    if (!*first && buf_putc(out, ',') < 0)
        return -1;
    *first = 0;
    if (buf_puts(out, "{\"id\":") < 0)
        return -1;
    if (suffix) {
        /* Built-in names and suffixes are plain ASCII: no escaping needed. */
        if (buf_printf(out, "\"%.*s%s\"", (int)n, name, suffix) < 0)
            return -1;
    } else if (json_append_string(out, name, n) < 0) {
        return -1;
    }
    return buf_printf(out, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":\"glm-free-api\"}",
                      created);
}

static int is_builtin_name(const char *name, size_t n)
{
    for (size_t i = 0; i < NELEM(models_builtin); i++) {
        size_t bl = strlen(models_builtin[i].name);
        if (n < bl || memcmp(name, models_builtin[i].name, bl) != 0)
            continue;
        if (n == bl)
            return 1;
        for (size_t k = 0; k < NELEM(models_suffixes); k++)
            if ((models_builtin[i].variants & models_suffixes[k].bit) &&
                strlen(models_suffixes[k].suffix) == n - bl &&
                memcmp(name + bl, models_suffixes[k].suffix, n - bl) == 0)
                return 1;
    }
    return 0;
}

int models_list_json(struct buf *out, const char *extra_table, enum models_era era,
                     long long created)
{
    size_t start = out->len;
    int first = 1, rc = -1;
    if (buf_puts(out, "{\"object\":\"list\",\"data\":[") < 0)
        goto out;
    for (size_t i = 0; i < NELEM(models_builtin); i++) {
        const char *name = models_builtin[i].name;
        if (models_builtin[i].since_2026 && era == MODELS_ERA_2025)
            continue;
        if (list_put(out, &first, name, strlen(name), "", created) < 0)
            goto out;
        for (size_t k = 0; k < NELEM(models_suffixes); k++)
            if ((models_builtin[i].variants & models_suffixes[k].bit) &&
                list_put(out, &first, name, strlen(name), models_suffixes[k].suffix, created) < 0)
                goto out;
    }
    /* A malformed table lists nothing extra (models_resolve refuses it and
     * the startup check reports it); the built-ins are still worth showing. */
    if (models_table_check(extra_table, NULL, 0) == 0 && !table_is_blank(extra_table)) {
        size_t len = strlen(extra_table), pos = 0;
        struct model_entry e;
        char err[1];
        while (table_next(extra_table, len, &pos, &e, err, sizeof(err)) == 1)
            if (!is_builtin_name(e.name, e.name_len) &&
                list_put(out, &first, e.name, e.name_len, NULL, created) < 0)
                goto out;
    }
    if (buf_puts(out, "]}") < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0)
        buf_truncate(out, start); /* leave out as it was, like a failed append */
    return rc;
}
