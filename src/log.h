/* Leveled logging to stderr (or a file). Secrets are never passed here: callers
 * log fingerprints (crypto_fingerprint) instead of tokens. */
#ifndef GLM_LOG_H
#define GLM_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

extern enum log_level log_min_level;

/* Returns -1 for an unknown name. */
int log_level_parse(const char *name, enum log_level *out);
void log_set_level(enum log_level level);
/* 0 = human-readable text, 1 = one JSON object per line. */
void log_set_json(int json);
/* Logs to this file instead of stderr (reopened by log_reopen); NULL = stderr.
 * Returns -1 when the file cannot be opened. */
int log_set_file(const char *path);
int log_reopen(void);

/* rid may be NULL: the request id the line belongs to. */
void log_write(enum log_level level, const char *rid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Arguments are evaluated only when the level is enabled. */
#define LOG(level, ...) \
    do { if ((level) >= log_min_level) log_write((level), NULL, __VA_ARGS__); } while (0)
#define LOGR(level, rid, ...) \
    do { if ((level) >= log_min_level) log_write((level), (rid), __VA_ARGS__); } while (0)

/* Copies at most 64 bytes of untrusted input into out as printable ASCII
 * (others become \xNN), for quoting in log lines. */
void log_escape(const char *in, size_t len, char out[260]);

#endif
