// ConformanceSuite: the setup both runners share (bgsync_conformance and conformance_unittests): a scratch
// directory for the workers' logs, the browser under test (launched, or found through its runtime directory) and
// the context the cases run with. Removes the scratch directory (and kills a launched browser) when destroyed.
#ifndef TEST_CONFORMANCE_CONFORMANCE_SUITE_H_
#define TEST_CONFORMANCE_CONFORMANCE_SUITE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "test/conformance/browser_under_test.h"
#include "test/conformance/conformance_case.h"

namespace bgsync::conformance {

struct SuiteOptions {
  BrowserParameters parameters;
  // bgsync_test_worker; default: next to this executable.
  std::string worker_binary;
  // For a launched browser: bgsync_browser; default: next to this executable.
  std::string browser_binary;
  // Keep the scratch directory (worker logs, launched profiles) instead of removing it.
  bool keep_scratch = false;
};

class ConformanceSuite {
 public:
  // Launches a bgsync_browser on a fresh profile with `options.parameters` (the suite may restart it and launch
  // others).
  static absl::StatusOr<std::unique_ptr<ConformanceSuite>> Launch(SuiteOptions options);
  // Attaches to a running browser whose runtime directory (holding admin.sock and browser.sock) is
  // `runtime_directory`, started with `options.parameters`. Restores its network emulation mode when destroyed.
  static absl::StatusOr<std::unique_ptr<ConformanceSuite>> Attach(std::string runtime_directory, SuiteOptions options);
  ~ConformanceSuite();

  ConformanceContext& context() { return context_; }
  const std::string& scratch_directory() const { return scratch_; }
  // "a bgsync_browser launched by the suite (profile ...)" or "the browser at <runtime directory>".
  const std::string& description() const { return description_; }

 private:
  ConformanceSuite() = default;
  absl::Status Prepare(SuiteOptions& options);

  SuiteOptions options_;
  std::string scratch_;
  std::string description_;
  std::unique_ptr<BrowserUnderTest> browser_;
  std::string restore_emulation_;  // Attach: the mode to restore ("auto", "offline", "online")
  int launched_ = 0;
  ConformanceContext context_;
};

}  // namespace bgsync::conformance

#endif  // TEST_CONFORMANCE_CONFORMANCE_SUITE_H_
