#include "tools/benchmarks/bench_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace bgsync {
namespace bench {
namespace {

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string JsonNumber(double value) {
  if (!std::isfinite(value))
    return "null";
  return absl::StrFormat("%.6g", value);
}

const char* RuleName(Rule rule) {
  switch (rule) {
    case Rule::kRatioAtMost:
      return "ratio<=";
    case Rule::kRatioAtLeast:
      return "ratio>=";
    case Rule::kValueAtMost:
      return "value<=";
    case Rule::kExcessAtMost:
      return "excess<=";
  }
  return "?";
}

}  // namespace

double Ratio(const Figure& figure) {
  return figure.baseline > 0 ? figure.value / figure.baseline : 0;
}

bool Met(const Figure& figure) {
  switch (figure.rule) {
    case Rule::kRatioAtMost:
      return figure.baseline > 0 && Ratio(figure) <= figure.target;
    case Rule::kRatioAtLeast:
      return figure.baseline > 0 && Ratio(figure) >= figure.target;
    case Rule::kValueAtMost:
      return figure.value <= figure.target;
    case Rule::kExcessAtMost:
      return figure.value - figure.baseline <= figure.target;
  }
  return false;
}

std::string FigureLine(const Figure& figure) {
  return absl::StrCat("BENCH {\"id\":", JsonString(figure.id), ",\"name\":", JsonString(figure.name),
                      ",\"unit\":", JsonString(figure.unit), ",\"value\":", JsonNumber(figure.value),
                      ",\"baseline_name\":", JsonString(figure.baseline_name),
                      ",\"baseline\":", JsonNumber(figure.baseline), ",\"ratio\":", JsonNumber(Ratio(figure)),
                      ",\"rule\":", JsonString(RuleName(figure.rule)), ",\"target\":", JsonNumber(figure.target),
                      ",\"met\":", Met(figure) ? "true" : "false", ",\"note\":", JsonString(figure.note), "}");
}

void PrintFigure(const Figure& figure) {
  std::printf("%s\n", FigureLine(figure).c_str());
  std::fflush(stdout);
}

double Percentile(std::vector<double> samples, double p) {
  if (samples.empty())
    return 0;
  std::sort(samples.begin(), samples.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(samples.size()));
  const size_t index = rank < 1 ? 0 : std::min(samples.size() - 1, static_cast<size_t>(rank) - 1);
  return samples[index];
}

}  // namespace bench
}  // namespace bgsync
