#include "test.h"

#include <unistd.h>

#include "config.h"
#include "log.h"

static const char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/glm-config-test-%d.conf", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

#include <stdarg.h>

/* load("x", "--port", "1", NULL): config_load over copies of the strings. */
static int load(const char *first, ...)
{
    char *argv[16];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 15; a = va_arg(ap, const char *))
        argv[argc++] = strdup(a);
    va_end(ap);
    argv[argc] = NULL;
    int exit_now, check;
    int rc = config_load(argc, argv, &exit_now, &check);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return rc;
}

TEST(defaults_need_no_configuration)
{
    CHECK_INT(load("glm-free-api", NULL), 0);
    CHECK_STR(cfg.host, "0.0.0.0");
    CHECK_INT(cfg.port, 8000);
    CHECK_STR(cfg.upstream, "https://chatglm.cn");
    CHECK_INT(cfg.delete_policy, CFG_DELETE_ALWAYS);
    CHECK_INT(cfg.max_body, 32L * 1024 * 1024);
}

TEST(flags_beat_environment_which_beats_the_file)
{
    const char *path = write_tmp("# comment\nport = 9001\nhost=\"127.0.0.1\"\nlog_level = debug # trailing\n");
    setenv("GLM_PORT", "9002", 1);
    char cfgflag[128];
    snprintf(cfgflag, sizeof(cfgflag), "--config=%s", path);
    CHECK_INT(load("x", cfgflag, NULL), 0);
    CHECK_INT(cfg.port, 9002);
    CHECK_STR(cfg.host, "127.0.0.1");
    CHECK_INT(cfg.log_level, LOG_DEBUG);
    CHECK_INT(load("x", cfgflag, "--port", "9003", "--upstream=http://127.0.0.1:1/", NULL), 0);
    CHECK_INT(cfg.port, 9003);
    CHECK_STR(cfg.upstream, "http://127.0.0.1:1"); /* trailing slash dropped */
    unsetenv("GLM_PORT");
    unlink(path);
}

TEST(sizes_take_suffixes_and_bounds_are_enforced)
{
    CHECK_INT(load("x", "--max-body", "2M", NULL), 0);
    CHECK_INT(cfg.max_body, 2L * 1024 * 1024);
    CHECK_INT(load("x", "--port", "70000", NULL), -1);
    CHECK_INT(load("x", "--delete-policy", "sometimes", NULL), -1);
    CHECK_INT(load("x", "--no-such-flag", "1", NULL), -1);
    CHECK_INT(load("x", "--upstream", "ftp://x", NULL), -1);
}

TEST(file_errors_are_refused)
{
    const char *cases[] = {
        "port = 1\nbogus = 2\n",        /* unknown key */
        "port 1\n",                     /* no '=' */
        "host = \"unterminated\n",      /* quote */
        "port = abc\n",                 /* not a number */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *path = write_tmp(cases[i]);
        char flag[128];
        snprintf(flag, sizeof(flag), "--config=%s", path);
        CHECK_INT(load("x", flag, NULL), -1);
        unlink(path);
    }
    config_free();
}

TEST(settings_parse_from_memory)
{
    CHECK_INT(load("x", NULL), 0);
    static const char text[] = "# comment\n  port = 81  \nhost=\"a # b \\\"q\\\"\"\n"
                               "log_level = debug # trailing\n\n";
    CHECK_INT(config_parse_text(text, sizeof(text) - 1, "mem"), 0);
    CHECK_INT(cfg.port, 81);
    CHECK_STR(cfg.host, "a # b \"q\"");
    CHECK_INT(cfg.log_level, LOG_DEBUG);
    CHECK_INT(config_parse_text("", 0, "mem"), 0);
    /* A NUL byte ends what the line says; the rest of that line is ignored. */
    static const char nul[] = "port = 82\0garbage\nurl-prefix = /p\n";
    CHECK_INT(config_parse_text(nul, sizeof(nul) - 1, "mem"), 0);
    CHECK_INT(cfg.port, 82);
    CHECK_STR(cfg.url_prefix, "/p");
    /* No final newline, a line too long, bad lines: refused, nothing overflows. */
    CHECK_INT(config_parse_text("port = 83", 9, "mem"), 0);
    CHECK_INT(cfg.port, 83);
    size_t n = 20000;
    char *big = malloc(n);
    memset(big, 'a', n);
    memcpy(big, "host = ", 7);
    CHECK_INT(config_parse_text(big, n, "mem"), -1);
    big[8190] = '\n';
    CHECK_INT(config_parse_text(big, n, "mem"), -1);
    memset(big, '"', n);
    memcpy(big, "host = ", 7);
    big[8000] = '\n';
    CHECK_INT(config_parse_text(big, 8001, "mem"), -1);
    free(big);
    CHECK_INT(config_parse_text("config = x\n", 11, "mem"), -1);
    CHECK_INT(config_parse_text("= 1\n", 4, "mem"), -1);
    config_free();
}

TEST_MAIN()
