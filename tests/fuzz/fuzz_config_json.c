/* fuzz_config_json.c — the JSON configuration loader (config_load_json)
 * and the cross-field checks after it, on arbitrary text. */
#include "ferry/config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ferry_config cfg;
	struct config_error err;
	config_init(&cfg);
	if (config_load_json((const char *)data, size, "fuzz.json", &cfg, &err) == 0)
		(void)config_validate(&cfg, &err);
	config_free(&cfg);
	return 0;
}
