/* The config-file parser on any text, on top of the defaults, then the model
 * table it may set (models_table_check, models_resolve): no crash, no leak
 * (every setting is freed after each input). */
#include <stdio.h>

#include "config.h"
#include "fuzz.h"
#include "glm/models.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *argv[] = { (char *)"glm-free-api", NULL };
    int exit_now, check_only;
    FUZZ_ASSERT(config_load(1, argv, &exit_now, &check_only) == 0);
    if (config_parse_text((const char *)data, size, "fuzz") == 0 && cfg.models) {
        char err[256];
        struct model_route route;
        if (models_table_check(cfg.models, err, sizeof(err)) == 0) {
            enum models_era era = models_era_of(cfg.upstream_era);
            (void)models_resolve("glm-4-think", cfg.default_assistant, cfg.models, era, &route);
            (void)models_resolve(cfg.models, cfg.default_assistant, cfg.models, era, &route);
        }
    }
    config_free();
    return 0;
}
