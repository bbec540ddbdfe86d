// bgsync_conformance: the Background Sync conformance suite, run against a browser that speaks bgsync's IDL.
//
// Usage: bgsync_conformance [--endpoint DIR] [--filter PATTERN] [--list] [--json] [--verbose] [--keep-scratch]
//                           [--worker PATH] [--browser PATH] [parameters]
//   --endpoint DIR   run against a running browser whose runtime directory (holding browser.sock and admin.sock;
//                    bgsync_browser writes its path to <profile>/RuntimeDirectory) is DIR. Without it the suite
//                    launches bgsync_browser (next to this binary) on a fresh profile with the parameters below.
//                    Cases that restart, kill or launch browsers are skipped against a running browser.
//   --filter P       only the cases whose name contains P (comma-separated: any of them; "-P": not those)
//   --list           list the cases (name, what they need, what they cover) and exit
//   --json           print the report as JSON on stdout instead of text
//   --verbose        print the observed sequence of passing cases too
//   --keep-scratch   keep the scratch directory (worker logs, launched profiles) and print its path
//   --worker PATH    the bgsync_test_worker the browser launches as service workers (default: next to this binary)
//   --browser PATH   the bgsync_browser to launch (default: next to this binary)
// Parameters (what the browser runs with; passed to a launched browser, stated for a running one; see README.md):
//   --retry-delay S --retry-factor N --max-attempts N --event-timeout S --worker-idle-timeout S
//   --periodic-min-interval S --periodic-batch-interval S --periodic-max-attempts N
//   --quota-per-service-worker N --max-consecutive-interruptions N
// Exit status: 0 when no case failed, 1 when one did, 2 on a bad argument or when the browser cannot be reached.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "test/conformance/conformance_case.h"
#include "test/conformance/conformance_suite.h"

namespace bgsync::conformance {
namespace {

constexpr char kUsage[] =
    "usage: bgsync_conformance [--endpoint DIR] [--filter PATTERN] [--list] [--json] [--verbose] [--keep-scratch]\n"
    "                          [--worker PATH] [--browser PATH]\n"
    "                          [--retry-delay S] [--retry-factor N] [--max-attempts N] [--event-timeout S]\n"
    "                          [--worker-idle-timeout S] [--periodic-min-interval S]\n"
    "                          [--periodic-batch-interval S] [--periodic-max-attempts N]\n"
    "                          [--quota-per-service-worker N] [--max-consecutive-interruptions N]\n";

struct Flags {
  std::string endpoint;
  std::string filter;
  bool list = false;
  bool json = false;
  bool verbose = false;
  SuiteOptions suite;
};

bool ParseFlags(int argc, char** argv, Flags& flags) {
  BrowserParameters& p = flags.suite.parameters;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto text = [&](std::string& out) {
      if (i + 1 >= argc)
        return false;
      out = argv[++i];
      return true;
    };
    auto seconds = [&](absl::Duration& out, bool allow_zero) {
      double value = 0;
      if (i + 1 >= argc || !absl::SimpleAtod(argv[++i], &value) || value < 0 || (!allow_zero && value == 0))
        return false;
      out = absl::Seconds(value);
      return true;
    };
    auto count = [&](int& out) { return i + 1 < argc && absl::SimpleAtoi(argv[++i], &out) && out >= 1; };
    bool ok = true;
    if (arg == "--endpoint") {
      ok = text(flags.endpoint);
    } else if (arg == "--filter") {
      ok = text(flags.filter);
    } else if (arg == "--list") {
      flags.list = true;
    } else if (arg == "--json") {
      flags.json = true;
    } else if (arg == "--verbose") {
      flags.verbose = true;
    } else if (arg == "--keep-scratch") {
      flags.suite.keep_scratch = true;
    } else if (arg == "--worker") {
      ok = text(flags.suite.worker_binary);
    } else if (arg == "--browser") {
      ok = text(flags.suite.browser_binary);
    } else if (arg == "--retry-delay") {
      ok = seconds(p.retry_delay, true);
    } else if (arg == "--retry-factor") {
      ok = count(p.retry_factor);
    } else if (arg == "--max-attempts") {
      ok = count(p.max_attempts);
    } else if (arg == "--event-timeout") {
      ok = seconds(p.event_timeout, false);
    } else if (arg == "--worker-idle-timeout") {
      ok = seconds(p.worker_idle_timeout, false);
    } else if (arg == "--periodic-min-interval") {
      ok = seconds(p.periodic_min_interval, false);
    } else if (arg == "--periodic-batch-interval") {
      ok = seconds(p.periodic_batch_interval, true);
    } else if (arg == "--periodic-max-attempts") {
      ok = count(p.periodic_max_attempts);
    } else if (arg == "--quota-per-service-worker") {
      ok = count(p.max_registrations_per_service_worker);
    } else if (arg == "--max-consecutive-interruptions") {
      ok = count(p.max_consecutive_interruptions);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "bgsync_conformance: bad argument %s\n", arg.c_str());
      return false;
    }
  }
  return true;
}

std::string NeedsName(CaseNeeds needs) {
  switch (needs) {
    case CaseNeeds::kAnyBrowser:
      return "any browser";
    case CaseNeeds::kRestart:
      return "restarts the browser";
    case CaseNeeds::kOwnBrowser:
      return "launches a browser";
  }
  return "";
}

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (c < 0x20 || c >= 0x7f)
          absl::StrAppendFormat(&out, "\\u%04x", c);
        else
          out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

std::string JsonArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i)
    absl::StrAppend(&out, i ? ", " : "", JsonString(items[i]));
  return out + "]";
}

std::string OutcomeName(CaseResult::Outcome outcome) {
  switch (outcome) {
    case CaseResult::Outcome::kPassed:
      return "passed";
    case CaseResult::Outcome::kFailed:
      return "failed";
    case CaseResult::Outcome::kSkipped:
      return "skipped";
  }
  return "";
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, flags)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::vector<const ConformanceCase*> cases = SelectCases(flags.filter);
  if (flags.list) {
    for (const ConformanceCase* c : cases)
      std::printf("%-58s %-20s %s\n", c->name.c_str(), NeedsName(c->needs).c_str(), c->covers.c_str());
    return 0;
  }
  if (cases.empty()) {
    std::fprintf(stderr, "bgsync_conformance: no case matches --filter %s\n", flags.filter.c_str());
    return 2;
  }

  absl::StatusOr<std::unique_ptr<ConformanceSuite>> suite = flags.endpoint.empty()
                                                                ? ConformanceSuite::Launch(flags.suite)
                                                                : ConformanceSuite::Attach(flags.endpoint, flags.suite);
  if (!suite.ok()) {
    std::fprintf(stderr, "bgsync_conformance: %s\n", suite.status().ToString().c_str());
    return 2;
  }
  ConformanceContext& context = (*suite)->context();
  if (!flags.json) {
    std::printf("bgsync conformance: %zu cases against %s\nparameters: %s\n", cases.size(),
                (*suite)->description().c_str(), context.parameters.ToString().c_str());
    std::fflush(stdout);
  }

  int passed = 0;
  int failed = 0;
  int skipped = 0;
  std::vector<std::string> json_cases;
  for (const ConformanceCase* c : cases) {
    const CaseResult result = RunConformanceCase(*c, context);
    const double seconds = absl::ToDoubleSeconds(result.duration);
    switch (result.outcome) {
      case CaseResult::Outcome::kPassed:
        ++passed;
        break;
      case CaseResult::Outcome::kFailed:
        ++failed;
        break;
      case CaseResult::Outcome::kSkipped:
        ++skipped;
        break;
    }
    if (flags.json) {
      json_cases.push_back(absl::StrFormat(
          "{\"name\": %s, \"covers\": %s, \"result\": %s, \"skip_reason\": %s, \"seconds\": %.3f, "
          "\"failures\": %s, \"observed\": %s}",
          JsonString(c->name), JsonString(c->covers), JsonString(OutcomeName(result.outcome)),
          JsonString(result.skip_reason), seconds, JsonArray(result.failures), JsonArray(result.observed)));
      continue;
    }
    if (result.outcome == CaseResult::Outcome::kSkipped) {
      std::printf("SKIP %s: skipped (%s)\n", c->name.c_str(), result.skip_reason.c_str());
    } else {
      const bool ok = result.outcome == CaseResult::Outcome::kPassed;
      std::printf("%s %s (%.2f s)\n", ok ? "PASS" : "FAIL", c->name.c_str(), seconds);
      if (!ok) {
        std::printf("  covers: %s\n", c->covers.c_str());
        for (const std::string& failure : result.failures)
          std::printf("  %s\n", failure.c_str());
      }
      if (!ok || flags.verbose) {
        std::printf("  observed:\n");
        for (const std::string& line : result.observed)
          std::printf("    %s\n", line.c_str());
      }
    }
    std::fflush(stdout);
  }
  if (flags.json) {
    std::printf(
        "{\"browser\": %s, \"parameters\": %s, \"cases\": [\n  %s\n], \"passed\": %d, \"failed\": %d, "
        "\"skipped\": %d}\n",
        JsonString((*suite)->description()).c_str(), JsonString(context.parameters.ToString()).c_str(),
        absl::StrJoin(json_cases, ",\n  ").c_str(), passed, failed, skipped);
  } else {
    if (flags.suite.keep_scratch)
      std::printf("scratch directory kept: %s\n", (*suite)->scratch_directory().c_str());
    std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace bgsync::conformance

int main(int argc, char** argv) {
  return bgsync::conformance::Main(argc, argv);
}
