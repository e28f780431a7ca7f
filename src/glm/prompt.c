#include "glm/prompt.h"

#include <stdint.h>
#include <string.h>

/* Inserted before a last message that carries a file or an image, so the
 * model looks at the attachment rather than at the older turns. */
static const char prompt_attention[] = "关注用户最新发送文件和消息";

static const char prompt_default_system_tag[] = "<|sytstem|>";

static const char *prompt_role_label(const struct turn_msg *m, const char *system_tag)
{
    switch (m->role) {
    case TURN_ROLE_SYSTEM: return system_tag;
    case TURN_ROLE_ASSISTANT: return "<|assistant|>";
    case TURN_ROLE_USER: return "<|user|>";
    case TURN_ROLE_TOOL: return m->role_name.s ? m->role_name.s : "tool";
    case TURN_ROLE_OTHER: break;
    }
    return m->role_name.s ? m->role_name.s : "";
}

/* label "\n" text "\n", or just text "\n" when label is NULL. */
static int prompt_put(struct buf *out, const char *label, const char *text, size_t n)
{
    if (label && (buf_puts(out, label) < 0 || buf_putc(out, '\n') < 0))
        return -1;
    if (buf_append(out, text, n) < 0 || buf_putc(out, '\n') < 0)
        return -1;
    return 0;
}

/* One message: one block per text part; other parts add nothing. */
static int prompt_put_message(struct buf *out, const struct turn_msg *m, const char *label)
{
    for (size_t i = 0; i < m->nparts; i++) {
        const struct turn_part *p = &m->parts[i];
        if (p->type != TURN_PART_TEXT || !p->text.s)
            continue;
        if (prompt_put(out, label, p->text.s, p->text.len) < 0)
            return -1;
    }
    return 0;
}

int prompt_merge(const struct turn *t, int passthrough, const char *system_tag, struct buf *out)
{
    size_t start = out->len;
    size_t n = t->nmsgs;
    int rc = -1;
    if (!system_tag)
        system_tag = prompt_default_system_tag;
    /* The attention message is written where the spec inserts it instead of
     * being added to the turn, which is borrowed. */
    int attention = !passthrough && turn_last_has_attachment(t);

    if (t->system.s &&
        prompt_put(out, passthrough ? NULL : system_tag, t->system.s, t->system.len) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const struct turn_msg *m = &t->msgs[i];
        const char *label = passthrough ? NULL : prompt_role_label(m, system_tag);
        if (attention && i == n - 1 &&
            prompt_put(out, system_tag, prompt_attention, sizeof(prompt_attention) - 1) < 0)
            goto out;
        if (prompt_put_message(out, m, label) < 0)
            goto out;
    }
    if (!passthrough) {
        if (buf_puts(out, "<|assistant|>\n") < 0)
            goto out;
        out->len = start + prompt_strip(out->data + start, out->len - start);
        out->data[out->len] = '\0';
    }
    rc = 0;
out:
    if (rc < 0)
        buf_truncate(out, start); /* leave out as it was, like a failed append */
    return rc;
}

int prompt_conversation_id_valid(const char *id)
{
    if (!id)
        return 0;
    int run = 0;
    for (const char *p = id; *p; p++) {
        char c = *p;
        if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) {
            if (++run == 24)
                return 1;
        } else {
            run = 0;
        }
    }
    return 0;
}

/* Length of the JavaScript line terminator starting at s[i] (\n, \r, U+2028,
 * U+2029: the characters a regex "." does not match), or 0. */
static size_t js_line_term(const char *s, size_t i, size_t len)
{
    if (s[i] == '\n' || s[i] == '\r')
        return 1;
    if ((unsigned char)s[i] == 0xE2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
        ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9))
        return 3;
    return 0;
}

static size_t js_line_end(const char *s, size_t i, size_t len)
{
    while (i < len && !js_line_term(s, i, len))
        i++;
    return i;
}

/* One line's match of /!\[.+\]\(.+\)/ as [*from, *to), if any. Every match
 * ends at the line's last ')' (the second greedy ".+" backtracks to it), so
 * a line holds at most one match. It starts at the line's first "![" provided
 * some "](" sits at least 3 bytes after it and at least 3 bytes before that
 * ')'; a later "![" could only need more, so the first is the one JS finds. */
static int strip_image_in_line(const char *s, size_t b, size_t e, size_t *from, size_t *to)
{
    size_t bang = SIZE_MAX, close = SIZE_MAX;
    for (size_t i = b; i < e; i++) {
        if (bang == SIZE_MAX && s[i] == '!' && i + 1 < e && s[i + 1] == '[')
            bang = i;
        if (s[i] == ')')
            close = i;
    }
    if (bang == SIZE_MAX || close == SIZE_MAX || close < bang + 6)
        return 0;
    for (size_t j = close - 3; j >= bang + 3; j--) {
        if (s[j] == ']' && s[j + 1] == '(') {
            *from = bang;
            *to = close + 1;
            return 1;
        }
    }
    return 0;
}

/* One line's match of /\/mnt\/data\/.+/: from the first "/mnt/data/" to the
 * end of the line, provided at least one character follows it. */
static int strip_mnt_in_line(const char *s, size_t b, size_t e, size_t *from, size_t *to)
{
    static const char needle[] = "/mnt/data/";
    const size_t nl = sizeof(needle) - 1;
    for (size_t i = b; i + nl <= e; i++) {
        if (s[i] == '/' && memcmp(s + i, needle, nl) == 0) {
            if (i + nl == e)
                return 0; /* nothing after it: ".+" needs a character */
            *from = i;
            *to = e;
            return 1;
        }
    }
    return 0;
}

/* Applies one per-line remover to the whole text, compacting in place. */
static size_t strip_lines(char *s, size_t len,
                          int (*match)(const char *, size_t, size_t, size_t *, size_t *))
{
    size_t r = 0, w = 0;
    while (r < len) {
        size_t e = js_line_end(s, r, len);
        size_t next = e < len ? e + js_line_term(s, e, len) : len;
        size_t from, to;
        if (match(s, r, e, &from, &to)) {
            memmove(s + w, s + r, from - r);
            w += from - r;
            memmove(s + w, s + to, next - to);
            w += next - to;
        } else {
            memmove(s + w, s + r, next - r);
            w += next - r;
        }
        r = next;
    }
    return w;
}

size_t prompt_strip(char *s, size_t len)
{
    /* Two passes in the order of the original's two replace() calls: removing
     * an image can join the pieces of a "/mnt/data/" path. */
    size_t n = strip_lines(s, len, strip_image_in_line);
    n = strip_lines(s, n, strip_mnt_in_line);
    if (n < len)
        s[n] = '\0';
    return n;
}
