#include "tools/benchmarks/bench_report.h"

#include "gtest/gtest.h"

namespace bgsync {
namespace bench {
namespace {

TEST(BenchReportTest, RulesJudgeTheRatioOrTheValue) {
  Figure latency{"1a", "Register p50", "us", 300, "echo p50", 250, Rule::kRatioAtMost, 1.25, ""};
  EXPECT_DOUBLE_EQ(Ratio(latency), 1.2);
  EXPECT_TRUE(Met(latency));
  latency.value = 320;
  EXPECT_FALSE(Met(latency));

  Figure throughput{"2a", "Register/s", "calls/s", 900, "gRPC + sync write", 1000, Rule::kRatioAtLeast, 0.9, ""};
  EXPECT_TRUE(Met(throughput));
  throughput.value = 899;
  EXPECT_FALSE(Met(throughput));

  Figure memory{"6b", "bytes per registration", "B", 150, "limit", 200, Rule::kValueAtMost, 200, ""};
  EXPECT_TRUE(Met(memory));
  memory.value = 201;
  EXPECT_FALSE(Met(memory));

  Figure idle{"7", "idle CPU", "% CPU", 1.4, "idle gRPC server", 0.5, Rule::kExcessAtMost, 1, ""};
  EXPECT_TRUE(Met(idle));
  idle.value = 1.6;
  EXPECT_FALSE(Met(idle));
}

TEST(BenchReportTest, ARatioWithoutABaselineIsNeverMet) {
  Figure figure{"1a", "x", "us", 1, "y", 0, Rule::kRatioAtMost, 1.25, ""};
  EXPECT_FALSE(Met(figure));
  EXPECT_EQ(Ratio(figure), 0);
}

TEST(BenchReportTest, TheLineIsOneJsonObjectWithEscapedStrings) {
  Figure figure{"3", "a \"quoted\"\nname", "ms", 1.5, "base\\line", 1.0, Rule::kRatioAtMost, 1.2, ""};
  const std::string line = FigureLine(figure);
  EXPECT_EQ(line.rfind("BENCH {", 0), 0u);
  EXPECT_NE(line.find(R"("name":"a \"quoted\"\u000aname")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("baseline_name":"base\\line")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("ratio":1.5,)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("met":false)"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(BenchReportTest, PercentileIsNearestRank) {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i)
    samples.push_back(i);
  EXPECT_EQ(Percentile(samples, 50), 50);
  EXPECT_EQ(Percentile(samples, 99), 99);
  EXPECT_EQ(Percentile(samples, 100), 100);
  EXPECT_EQ(Percentile(samples, 0), 1);
  EXPECT_EQ(Percentile({}, 50), 0);
}

}  // namespace
}  // namespace bench
}  // namespace bgsync
