#include "test.h"

#include <unistd.h>

#include "config.h"

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
    CHECK_STR(cfg.delete_policy, "always");
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
    CHECK_STR(cfg.log_level, "debug");
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

TEST_MAIN()
