// conformance_unittests: every conformance case as a GoogleTest test, against one bgsync_browser (found next to
// this binary) that the first test launches with the suite's short parameters and that the restart cases
// restart. tools/test runs it like every other *_unittests binary; a failure prints what the case expected and
// the sequence it observed.
#include <cctype>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "test/conformance/conformance_case.h"
#include "test/conformance/conformance_suite.h"

namespace bgsync::conformance {
namespace {

// The browser every test shares, launched on first use and killed after the last test.
class SharedSuite : public ::testing::Environment {
 public:
  static absl::StatusOr<ConformanceSuite*> Get() {
    if (!suite_ && status_.ok()) {
      absl::StatusOr<std::unique_ptr<ConformanceSuite>> launched = ConformanceSuite::Launch(SuiteOptions());
      if (launched.ok())
        suite_ = *std::move(launched);
      else
        status_ = launched.status();
    }
    if (!suite_)
      return status_;
    return suite_.get();
  }
  void TearDown() override { suite_.reset(); }

 private:
  static inline std::unique_ptr<ConformanceSuite> suite_;
  static inline absl::Status status_;
};

[[maybe_unused]] ::testing::Environment* const kSharedSuite = ::testing::AddGlobalTestEnvironment(new SharedSuite);

class ConformanceTest : public ::testing::TestWithParam<const ConformanceCase*> {};

TEST_P(ConformanceTest, Case) {
  absl::StatusOr<ConformanceSuite*> suite = SharedSuite::Get();
  ASSERT_TRUE(suite.ok()) << suite.status();
  const ConformanceCase& c = *GetParam();
  const CaseResult result = RunConformanceCase(c, (*suite)->context());
  if (result.outcome == CaseResult::Outcome::kSkipped)
    GTEST_SKIP() << result.skip_reason;
  std::string report = c.name + "\n  covers: " + c.covers + "\n";
  for (const std::string& failure : result.failures)
    report += "  " + failure + "\n";
  report += "  observed:\n";
  for (const std::string& line : result.observed)
    report += "    " + line + "\n";
  EXPECT_EQ(result.outcome, CaseResult::Outcome::kPassed) << report;
}

std::vector<const ConformanceCase*> AllCasePointers() {
  std::vector<const ConformanceCase*> all;
  for (const ConformanceCase& c : AllConformanceCases())
    all.push_back(&c);
  return all;
}

// "one-shot/register/tag-length" -> "one_shot_register_tag_length".
std::string TestName(const ::testing::TestParamInfo<const ConformanceCase*>& info) {
  std::string name = info.param->name;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)))
      c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Spec, ConformanceTest, ::testing::ValuesIn(AllCasePointers()), TestName);

}  // namespace
}  // namespace bgsync::conformance
