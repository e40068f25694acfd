// One configuration reader's fuzz target: FUZZ_READER names it (config_readers.cpp).
#include <cstddef>
#include <cstdint>
#include <string_view>

int fuzz_config_reader(std::string_view reader, const uint8_t* data, size_t size);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return fuzz_config_reader(FUZZ_READER, data, size); }
