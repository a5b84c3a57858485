/* failinit -- a plugin whose init() fails (tests). */
#include <atum/plugin.h>

static int init(const struct atum_host *host, const struct atum_conf *conf, void **state)
{
    (void)conf;
    (void)state;
    host->log(ATUM_LOG_ERROR, "refusing to start on purpose");
    return -1;
}

static const struct atum_plugin descriptor = {
    .abi = ATUM_PLUGIN_ABI,
    .size = sizeof(struct atum_plugin),
    .name = "failinit",
    .version = "1.0",
    .init = init,
};

const struct atum_plugin *atum_plugin_entry(void)
{
    return &descriptor;
}
