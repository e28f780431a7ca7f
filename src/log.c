#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#include "util/buf.h"
#include "util/xalloc.h"

enum log_level log_min_level = LOG_INFO;
static int log_json;
static FILE *log_fp;
static char *log_path;

static const char *const level_names[] = { "debug", "info", "warn", "error", "off" };

int log_level_parse(const char *name, enum log_level *out)
{
    for (int i = 0; i <= LOG_OFF; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    return -1;
}

void log_set_level(enum log_level level)
{
    log_min_level = level;
}

void log_set_json(int json)
{
    log_json = json;
}

int log_reopen(void)
{
    if (!log_path)
        return 0;
    FILE *fp = fopen(log_path, "a");
    if (!fp)
        return -1;
    setvbuf(fp, NULL, _IOLBF, 0);
    if (log_fp)
        fclose(log_fp);
    log_fp = fp;
    return 0;
}

int log_set_file(const char *path)
{
    free(log_path);
    log_path = path ? xstrdup(path) : NULL;
    if (!path) {
        if (log_fp)
            fclose(log_fp);
        log_fp = NULL;
        return 0;
    }
    return log_reopen();
}

static void json_str(struct buf *b, const char *s)
{
    int rc = buf_putc(b, '"');
    for (; *s && rc == 0; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            rc = buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            rc = buf_printf(b, "\\u%04x", c);
        else
            rc = buf_putc(b, (char)c);
    }
    if (rc == 0)
        rc = buf_putc(b, '"');
    (void)rc; /* a line cut at the cap is still worth printing */
}

void log_write(enum log_level level, const char *rid, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[96];
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(tv.tv_usec / 1000));

    struct buf line;
    buf_init(&line, sizeof(msg) * 3);
    int rc;
    if (log_json) {
        rc = buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\"", ts, level_names[level]);
        if (rid && rc == 0) {
            rc = buf_puts(&line, ",\"rid\":");
            json_str(&line, rid);
        }
        if (rc == 0)
            rc = buf_puts(&line, ",\"msg\":");
        json_str(&line, msg);
        rc = buf_puts(&line, "}\n");
    } else {
        rc = buf_printf(&line, "%s %-5s %s%s%s%s\n", ts, level_names[level], rid ? "[" : "",
                        rid ? rid : "", rid ? "] " : "", msg);
    }
    (void)rc;
    FILE *fp = log_fp ? log_fp : stderr;
    fwrite(line.data, 1, line.len, fp);
    buf_cleanup(&line);
}

void log_escape(const char *in, size_t len, char out[260])
{
    size_t o = 0;
    if (len > 64)
        len = 64;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out[o++] = (char)c;
        } else {
            snprintf(out + o, 5, "\\x%02x", c);
            o += 4;
        }
    }
    out[o] = '\0';
}
