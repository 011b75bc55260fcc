/* fuzz_config_json.c — the JSON configuration loader (daemon_load_json)
 * and the cross-field checks after it, on arbitrary text. */
#include "ferry/daemon.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ferry_config cfg;
	struct config_error err;
	daemon_config_init(&cfg);
	if (daemon_load_json((const char *)data, size, "fuzz.json", &cfg, &err) == 0)
		(void)daemon_validate(&cfg, &err);
	daemon_config_free(&cfg);
	return 0;
}
