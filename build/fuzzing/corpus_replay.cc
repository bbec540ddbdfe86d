#include "build/fuzzing/corpus_replay.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "gtest/gtest.h"

namespace bgsync {
namespace fuzzing {
namespace {

namespace fs = std::filesystem;

// The input being replayed, for the crash message (written before each run, read by the signal handler).
char g_current_input[4096];

void PrintInputAndDie(int signal_number) {
  static const char kPrefix[] = "\ncorpus replay: crashed on input ";
  ssize_t ignored = write(STDERR_FILENO, kPrefix, sizeof(kPrefix) - 1);
  ignored = write(STDERR_FILENO, g_current_input, strnlen(g_current_input, sizeof(g_current_input)));
  ignored = write(STDERR_FILENO, "\n", 1);
  (void)ignored;
  signal(signal_number, SIG_DFL);
  raise(signal_number);
}

void InstallCrashHandlers() {
  for (int signal_number : {SIGABRT, SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGFPE})
    signal(signal_number, PrintInputAndDie);
}

fs::path FindSourceRoot(const fs::path& corpus_dir) {
  if (const char* root = std::getenv("BGSYNC_SOURCE_ROOT"))
    return root;
  std::error_code error;
  if (fs::is_directory(corpus_dir, error))
    return fs::current_path();
  // The binary lives in the build directory.
  const fs::path binary = fs::read_symlink("/proc/self/exe", error);
  if (error)
    return fs::current_path();
  return (binary.parent_path() / BGSYNC_SOURCE_ROOT_FROM_BUILD_DIR).lexically_normal();
}

}  // namespace

void ReplayCorpus(const char* corpus_dir, FuzzTarget target) {
  const fs::path dir = FindSourceRoot(corpus_dir) / corpus_dir;
  std::error_code error;
  ASSERT_TRUE(fs::is_directory(dir, error)) << "no corpus directory " << dir;
  std::vector<fs::path> inputs;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    if (entry.is_regular_file())
      inputs.push_back(entry.path());
  }
  ASSERT_FALSE(error) << dir << ": " << error.message();
  ASSERT_FALSE(inputs.empty()) << "empty corpus " << dir;
  std::sort(inputs.begin(), inputs.end());

  InstallCrashHandlers();
  for (const fs::path& input : inputs) {
    std::ifstream file(input, std::ios::binary);
    ASSERT_TRUE(file) << "cannot read " << input;
    const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    strncpy(g_current_input, input.c_str(), sizeof(g_current_input) - 1);
    // A copy of exactly the input's size, so that ASan sees reads past its end as libFuzzer's runs would.
    std::vector<uint8_t> data(bytes.begin(), bytes.end());
    const uint8_t* start = data.empty() ? nullptr : data.data();
    EXPECT_EQ(target(start, data.size()), 0) << input;
  }
  std::cout << "replayed " << inputs.size() << " inputs from " << corpus_dir << "\n";
}

}  // namespace fuzzing
}  // namespace bgsync
