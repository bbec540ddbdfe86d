// One figure of tools/bench: a value of ours against a baseline measured in the same run on the same machine
// (these machines are noisy: only ratios are comparable), and the target the ratio must meet.
//
// Every benchmark program prints each of its figures as one line "BENCH <json>" on stdout (PrintFigure);
// tools/bench collects those lines from all programs and prints the table (or, with --json, the objects).
//
// Thread-safety: the functions are stateless; PrintFigure writes one whole line under stdio's own lock.
#ifndef TOOLS_BENCHMARKS_BENCH_REPORT_H_
#define TOOLS_BENCHMARKS_BENCH_REPORT_H_

#include <string>
#include <vector>

namespace bgsync {
namespace bench {

// How a figure's target is judged.
enum class Rule {
  kRatioAtMost,   // value / baseline <= target (latencies, times, CPU)
  kRatioAtLeast,  // value / baseline >= target (throughputs)
  kValueAtMost,   // value <= target, baseline shown for context (e.g. bytes per registration)
  kExcessAtMost,  // value - baseline <= target (e.g. CPU percentage points above an idle server)
};

struct Figure {
  std::string id;             // the numbering: "1a", "1b", "2a", ...
  std::string name;           // what was measured, e.g. "Register p50, relaxed durability"
  std::string unit;           // "us", "ms", "calls/s", "B/registration", "% CPU"
  double value = 0;           // ours
  std::string baseline_name;  // e.g. "bare gRPC unary echo p50"
  double baseline = 0;
  Rule rule = Rule::kRatioAtMost;
  double target = 0;
  std::string note;  // optional: sample counts, configuration
};

// Whether `figure` meets its target (false when a ratio's baseline is not positive).
bool Met(const Figure& figure);
// value / baseline, or 0 when the baseline is not positive.
double Ratio(const Figure& figure);

// The "BENCH {...}" line of `figure` (JSON: id, name, unit, value, baseline_name, baseline, ratio, rule, target,
// met, note).
std::string FigureLine(const Figure& figure);
// Prints FigureLine(figure) and a newline to stdout and flushes.
void PrintFigure(const Figure& figure);

// The p-th percentile (0..100, nearest rank) of `samples`; 0 for none.
double Percentile(std::vector<double> samples, double p);

}  // namespace bench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_BENCH_REPORT_H_
