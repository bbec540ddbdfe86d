// The fuzzers' invariant check: a failed invariant prints what failed and traps, so libFuzzer (and the corpus
// replay in fuzz_corpus_unittests) reports a crash with the input that caused it.
#ifndef COMPONENTS_BACKGROUND_SYNC_FUZZERS_FUZZ_CHECK_H_
#define COMPONENTS_BACKGROUND_SYNC_FUZZERS_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

namespace bgsync {
namespace fuzzing {

[[noreturn]] inline void FailInvariant(const char* file, int line, const char* condition, const std::string& what) {
  std::fprintf(stderr, "\nINVARIANT FAILED at %s:%d: %s\n  %s\n", file, line, condition, what.c_str());
  std::fflush(stderr);
  __builtin_trap();
}

// True when BGSYNC_FUZZ_TRACE is set: the fuzzers then print each action they decode (to read a crash's input).
inline bool TraceEnabled() {
  static const bool enabled = std::getenv("BGSYNC_FUZZ_TRACE") != nullptr;
  return enabled;
}

}  // namespace fuzzing
}  // namespace bgsync

// FUZZ_TRACE(message): prints `message` (a std::string expression, only evaluated when tracing) to stderr.
#define FUZZ_TRACE(message)                                              \
  do {                                                                   \
    if (::bgsync::fuzzing::TraceEnabled())                               \
      std::fprintf(stderr, "trace: %s\n", std::string(message).c_str()); \
  } while (0)

// FUZZ_CHECK(condition, message): `message` (a std::string expression) is only evaluated when the check fails.
#define FUZZ_CHECK(condition, message)                                             \
  do {                                                                             \
    if (!(condition))                                                              \
      ::bgsync::fuzzing::FailInvariant(__FILE__, __LINE__, #condition, (message)); \
  } while (0)

#endif  // COMPONENTS_BACKGROUND_SYNC_FUZZERS_FUZZ_CHECK_H_
