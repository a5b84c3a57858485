/* badabi -- a plugin built for an ABI this host does not speak (tests). */
#include <atum/plugin.h>

static const struct atum_plugin descriptor = {
    .abi = ATUM_PLUGIN_ABI + 998,
    .size = sizeof(struct atum_plugin),
    .name = "badabi",
    .version = "1.0",
};

const struct atum_plugin *atum_plugin_entry(void)
{
    return &descriptor;
}
