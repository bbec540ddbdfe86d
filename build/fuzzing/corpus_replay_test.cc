// The replay test of one fuzzer_test (//build/fuzzer.gni): compiled into each fuzzer's replay target with
// LLVMFuzzerTestOneInput renamed to that fuzzer's entry point, BGSYNC_FUZZER_NAME and BGSYNC_FUZZER_CORPUS set.
#include <cstddef>
#include <cstdint>

#include "build/fuzzing/corpus_replay.h"
#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

TEST(FuzzCorpus, BGSYNC_FUZZER_NAME) {
  bgsync::fuzzing::ReplayCorpus(BGSYNC_FUZZER_CORPUS, &LLVMFuzzerTestOneInput);
}
