// Runs a fuzz target over a checked-in corpus outside libFuzzer, so that every build (gcc included) and every
// `tools/test` run replays the seed corpora and the regression inputs kept in them. See //build/fuzzer.gni.
#ifndef BUILD_FUZZING_CORPUS_REPLAY_H_
#define BUILD_FUZZING_CORPUS_REPLAY_H_

#include <cstddef>
#include <cstdint>

namespace bgsync {
namespace fuzzing {

using FuzzTarget = int (*)(const uint8_t* data, size_t size);

// Runs `target` over every regular file of `corpus_dir` (relative to the source root), in name order, and reports
// a GoogleTest failure for a missing or empty corpus or for a target that does not return 0. The source root is
// $BGSYNC_SOURCE_ROOT if set, else the current directory if it holds `corpus_dir`, else found from the binary's
// location in the build directory. A crash on an input kills the binary after printing the input's path.
void ReplayCorpus(const char* corpus_dir, FuzzTarget target);

}  // namespace fuzzing
}  // namespace bgsync

#endif  // BUILD_FUZZING_CORPUS_REPLAY_H_
