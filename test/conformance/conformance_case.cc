#include "test/conformance/conformance_case.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "test/conformance/case_run.h"
#include "test/conformance/conformance_areas.h"

namespace bgsync::conformance {

CaseResult RunConformanceCase(const ConformanceCase& c, ConformanceContext& context) {
  CaseResult skipped;
  skipped.outcome = CaseResult::Outcome::kSkipped;
  if (c.needs == CaseNeeds::kRestart && !context.browser->can_restart()) {
    skipped.skip_reason = "needs a browser the suite can restart";
    return skipped;
  }
  if (c.needs == CaseNeeds::kOwnBrowser && !context.launch_browser) {
    skipped.skip_reason = "needs to launch a browser of its own";
    return skipped;
  }
  CaseRun run(context, c.name);
  try {
    c.body(run);
  } catch (const std::exception& e) {
    run.Check(false, "the case to run to its end", std::string("exception: ") + e.what());
  }
  return run.Finish();
}

const std::vector<ConformanceCase>& AllConformanceCases() {
  static const std::vector<ConformanceCase>* const cases = [] {
    auto* all = new std::vector<ConformanceCase>();
    for (auto area : {OneShotRegisterCases, OneShotFiringCases, RestartCases, PeriodicCases, PeriodicSchedulingCases,
                      ProtocolCases}) {
      for (ConformanceCase& c : area())
        all->push_back(std::move(c));
    }
    return all;
  }();
  return *cases;
}

std::vector<const ConformanceCase*> SelectCases(const std::string& filter) {
  std::vector<absl::string_view> include;
  std::vector<absl::string_view> exclude;
  for (absl::string_view part : absl::StrSplit(filter, ',', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&part, "-"))
      exclude.push_back(part);
    else
      include.push_back(part);
  }
  std::vector<const ConformanceCase*> selected;
  for (const ConformanceCase& c : AllConformanceCases()) {
    auto matches = [&c](absl::string_view part) { return absl::StrContains(c.name, part); };
    const bool in = include.empty() || std::any_of(include.begin(), include.end(), matches);
    const bool out = std::any_of(exclude.begin(), exclude.end(), matches);
    if (in && !out)
      selected.push_back(&c);
  }
  return selected;
}

}  // namespace bgsync::conformance
