// Floods from hostile renderers against a real bgsync_browser (reliability.md P5; issue 5, section 4): one client
// calling as fast as it can, one creating as many tags as it can, and well-behaved pages whose Register latency is
// measured in calm and flooded windows, interleaved, in the same test. Timing is reported ("figure: ..."), and
// asserted only generously (the p99 ratio below 10x; the target is 2x).
//
// The tag hoarder makes 20,000 attempts here; BGSYNC_FLOOD_TAGS=1000000 makes the full million:
//   BGSYNC_FLOOD_TAGS=1000000 out/Default/renderer_flood_unittests --gtest_filter='*Hoard*'
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/background_sync/session_registry.h"
#include "test/browser_test_fixture.h"
#include "test/process_probe.h"
#include "test/reliability_support.h"

namespace bgsync {
namespace {

// Sanitizer builds slow everything down and keep freed memory in quarantine: timing and memory figures are
// printed there but only asserted in normal builds.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// The counts a bgsync_flood_client process wrote when it ended.
struct FloodCounts {
  int64_t calls = 0, ok = 0, rate_limited = 0, quota_exceeded = 0, unauthenticated = 0, other = 0;
  double seconds = 0;
};

FloodCounts ParseFloodCounts(const std::string& text) {
  FloodCounts counts;
  for (absl::string_view field : absl::StrSplit(absl::StripAsciiWhitespace(text), ' ')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(field, absl::MaxSplits('=', 1));
    if (kv.first == "seconds" && !absl::SimpleAtod(kv.second, &counts.seconds))
      counts.seconds = 0;
    int64_t* target = kv.first == "calls"             ? &counts.calls
                      : kv.first == "ok"              ? &counts.ok
                      : kv.first == "rate_limited"    ? &counts.rate_limited
                      : kv.first == "quota_exceeded"  ? &counts.quota_exceeded
                      : kv.first == "unauthenticated" ? &counts.unauthenticated
                      : kv.first == "other"           ? &counts.other
                                                      : nullptr;
    if (target && !absl::SimpleAtoi(kv.second, target))
      *target = -1;  // a report that cannot be read fails the checks on it
  }
  return counts;
}

class RendererFloodTest : public BrowserTestFixture {
 protected:
  // A clean stop ends the processes the browser launched too (SIGKILL would orphan them).
  void TearDown() override {
    if (browser_pid_ != 0) {
      EXPECT_EQ(StopBrowser(SIGTERM), 0);
    }
    BrowserTestFixture::TearDown();
  }

  // A bgsync_test_worker for `origin`, on a scope of its own (so that an origin may have several).
  int64_t InstallTestWorker(const std::string& origin) {
    const int64_t id = InstallServiceWorker(*admin_, origin, absl::StrCat(origin, "/app", ++scopes_, "/"),
                                            {BinaryDirectory() + "/bgsync_test_worker"});
    EXPECT_NE(id, 0) << origin;
    return id;
  }
  int scopes_ = 0;

  // A hostile renderer process flooding on `session` (see test/bgsync_flood_client.cc).
  struct FloodProcess {
    pid_t pid = 0;
    std::string out;
    std::shared_ptr<absl::Notification> exited = std::make_shared<absl::Notification>();
    std::shared_ptr<int> wait_status = std::make_shared<int>(-1);  // set before `exited`
  };
  FloodProcess StartFlood(const RendererSession& session,
                          const std::string& mode,
                          const std::vector<int64_t>& sws,
                          const std::vector<std::string>& flags) {
    FloodProcess flood;
    flood.out = absl::StrCat(dir_, "/flood-", ++floods_, ".out");
    LaunchOptions options;
    options.argv = {BinaryDirectory() + "/bgsync_flood_client",
                    "--socket=" + session.socket_path,
                    "--token=" + session.token,
                    "--mode=" + mode,
                    "--sw=" + absl::StrJoin(sws, ","),
                    "--out=" + flood.out};
    options.argv.insert(options.argv.end(), flags.begin(), flags.end());
    // BGSYNC_FLOOD_NICE=N runs the flooders at nice N, which a browser cannot do to renderers: with it, CPU
    // contention on a small machine can be told apart from interference inside the browser.
    if (const char* nice = std::getenv("BGSYNC_FLOOD_NICE"))
      options.argv.insert(options.argv.begin(), {"nice", "-n", nice});
    absl::StatusOr<pid_t> pid =
        launcher_.Launch(options, [exited = flood.exited, wait_status = flood.wait_status](pid_t, int status) {
          *wait_status = status;
          exited->Notify();
        });
    EXPECT_TRUE(pid.ok()) << pid.status();
    flood.pid = pid.value_or(0);
    return flood;
  }
  FloodCounts WaitForFlood(const FloodProcess& flood) {
    EXPECT_TRUE(flood.exited->WaitForNotificationWithTimeout(absl::Minutes(30)));
    EXPECT_EQ(*flood.wait_status, 0) << "bgsync_flood_client did not exit cleanly: wait status " << *flood.wait_status;
    return ParseFloodCounts(ReadFile(flood.out));
  }
  int floods_ = 0;

  // Well-behaved pages of one origin taking turns: `count` Registers (each followed by its
  // DidResolveRegistration), one every `interval`, page i % pages.size() making the i-th on service worker
  // sws[i % sws.size()], each page well inside the rate limit. Appends the Register latencies in milliseconds to
  // `latencies`; counts refusals in `refused`.
  void PoliteRegisters(std::vector<RendererSession*> pages,
                       const std::vector<int64_t>& sws,
                       const std::string& prefix,
                       int count,
                       absl::Duration interval,
                       std::vector<double>& latencies,
                       int& refused) {
    absl::Time next = absl::Now();
    for (int i = 0; i < count; ++i) {
      absl::SleepFor(next - absl::Now());
      next += interval;
      RendererSession& page = *pages[i % pages.size()];
      const int64_t sw = sws[i % sws.size()];
      const std::string tag = absl::StrCat(prefix, i);
      grpc::ClientContext context;
      context.AddMetadata(kSessionMetadataKey, page.token);
      context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
      mojom::RegisterRequest request;
      request.set_service_worker_registration_id(sw);
      request.mutable_options()->set_tag(tag);
      mojom::RegisterReply reply;
      const int64_t start = MonotonicNanos();
      grpc::Status status = page.one_shot->Register(&context, request, &reply);
      latencies.push_back(static_cast<double>(MonotonicNanos() - start) / 1e6);
      if (!status.ok() || !reply.has_registration()) {
        ++refused;
        continue;
      }
      grpc::ClientContext resolve_context;
      resolve_context.AddMetadata(kSessionMetadataKey, page.token);
      mojom::DidResolveRegistrationRequest resolve;
      resolve.set_service_worker_registration_id(sw);
      resolve.set_tag(tag);
      mojom::DidResolveRegistrationReply ignored;
      if (!page.one_shot->DidResolveRegistration(&resolve_context, resolve, &ignored).ok())
        ++refused;
    }
  }
};

// p50/p99/p99.9 of `samples` as "a/b/c".
std::string Percentiles(const std::vector<double>& samples) {
  return absl::StrFormat("%.2f/%.2f/%.2f", Percentile(samples, 50), Percentile(samples, 99), Percentile(samples, 99.9));
}

// Under the default limits (100 calls/s, burst 200 per session): a client flooding GetRegistrations and a client
// creating tags as fast as they can are refused with RESOURCE_EXHAUSTED, while well-behaved pages on their own
// sessions are never refused and keep their Register latency; browser memory stays bounded.
//
// The latency is compared in interleaved windows, so that the machine's load drift (other jobs on a shared VM)
// falls on both conditions alike: kRounds rounds of one calm window (the flooder processes stopped with SIGSTOP)
// and one flood window (SIGCONT), in the order calm-flood, flood-calm, calm-flood, ... (each condition's windows
// then sit at the same mean time), each window kWindow samples after a settling pause.
TEST_F(RendererFloodTest, FloodersAreRefusedWhileAWellBehavedClientKeepsItsLatency) {
  StartBrowser();  // the browser's default rate limit
  // 2,040 registrations over three service workers: below the quota of 1,000 each.
  std::vector<int64_t> polite_sws;
  for (int i = 0; i < 3; ++i)
    polite_sws.push_back(InstallTestWorker(kMail));
  const int64_t flood_sw = InstallTestWorker("https://flood.example");
  const int64_t hoard_sw = InstallTestWorker("https://hoard.example");
  // Two pages taking turns, each registering every 25 ms (40 Registers, 80 calls a second: inside the limit).
  RendererSession page_a = OpenRendererSession(*admin_, kMail);
  RendererSession page_b = OpenRendererSession(*admin_, kMail);
  RendererSession flood = OpenRendererSession(*admin_, "https://flood.example");
  RendererSession hoard = OpenRendererSession(*admin_, "https://hoard.example");
  constexpr int kRounds = 6;
  constexpr int kWindow = 170;  // samples per window: 1,020 per condition
  const absl::Duration pace = absl::Microseconds(12'500);
  // After SIGSTOP the browser still answers the refusals it holds (250 ms); after SIGCONT the floods need a moment
  // to reach their steady state.
  const absl::Duration settle = absl::Milliseconds(500);

  const int64_t rss_before = ResidentKib(browser_pid_);
  const int threads_before = ThreadCount(browser_pid_);
  std::atomic<int64_t> rss_peak{rss_before};
  std::atomic<int> threads_peak{threads_before};
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling) {
      rss_peak = std::max<int64_t>(rss_peak, ResidentKib(browser_pid_));
      threads_peak = std::max(threads_peak.load(), ThreadCount(browser_pid_));
      absl::SleepFor(absl::Milliseconds(50));
    }
  });
  // Two hostile renderer processes: one calling as fast as it can, one creating tags as fast as it can (up to a
  // million). They run until SIGTERM, stopped (SIGSTOP) during the calm windows.
  const absl::Time flood_start = absl::Now();
  FloodProcess flooder =
      StartFlood(flood, "get-tags", {flood_sw}, {"--in-flight=1024", "--channels=16", "--seconds=600"});
  FloodProcess hoarder =
      StartFlood(hoard, "new-tags", {hoard_sw}, {"--in-flight=64", "--max-calls=1000000", "--seconds=600"});
  bool flooding = true;
  absl::Time running_since = flood_start;
  double seconds_running = 0;  // the flooders' time not stopped
  auto set_flooding = [&](bool on) {
    if (on == flooding)
      return;
    for (pid_t pid : {flooder.pid, hoarder.pid})
      kill(pid, on ? SIGCONT : SIGSTOP);
    if (on)
      running_since = absl::Now();
    else
      seconds_running += absl::ToDoubleSeconds(absl::Now() - running_since);
    flooding = on;
    absl::SleepFor(settle);
  };
  absl::SleepFor(settle);  // both connect and start
  set_flooding(false);

  std::vector<double> calm, during;
  std::vector<std::string> rounds;  // per-round p99s, for the figure
  double cpu_calm = 0, cpu_flood = 0, cpu_flooders = 0, seconds_calm = 0, seconds_flood = 0;
  int refused = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<double> round_calm, round_flood;
    for (bool flood_window : {round % 2 == 1, round % 2 == 0}) {
      set_flooding(flood_window);
      std::vector<double>& samples = flood_window ? round_flood : round_calm;
      const double cpu_start = CpuSeconds(browser_pid_);
      const double flooders_cpu_start = CpuSeconds(flooder.pid) + CpuSeconds(hoarder.pid);
      const absl::Time start = absl::Now();
      PoliteRegisters({&page_a, &page_b}, polite_sws, absl::StrCat(round, flood_window ? "-storm-" : "-calm-"), kWindow,
                      pace, samples, refused);
      (flood_window ? cpu_flood : cpu_calm) += CpuSeconds(browser_pid_) - cpu_start;
      if (flood_window)
        cpu_flooders += CpuSeconds(flooder.pid) + CpuSeconds(hoarder.pid) - flooders_cpu_start;
      (flood_window ? seconds_flood : seconds_calm) += absl::ToDoubleSeconds(absl::Now() - start);
    }
    calm.insert(calm.end(), round_calm.begin(), round_calm.end());
    during.insert(during.end(), round_flood.begin(), round_flood.end());
    rounds.push_back(absl::StrFormat("%.1f/%.1f", Percentile(round_calm, 99), Percentile(round_flood, 99)));
  }
  set_flooding(true);  // a stopped process would not see SIGTERM
  for (pid_t pid : {flooder.pid, hoarder.pid})
    kill(pid, SIGTERM);
  seconds_running += absl::ToDoubleSeconds(absl::Now() - running_since);
  // The flooders' calls still held come back at their sessions' rate (about 10 s for 1,024); ending the sessions
  // answers them at once.
  CloseRendererSession(*admin_, flood.id);
  CloseRendererSession(*admin_, hoard.id);
  const FloodCounts flooded = WaitForFlood(flooder);
  const FloodCounts hoarded = WaitForFlood(hoarder);
  const double wall_seconds = absl::ToDoubleSeconds(absl::Now() - flood_start);
  sampling = false;
  sampler.join();
  const int64_t rss_after = ResidentKib(browser_pid_);

  EXPECT_EQ(refused, 0) << "a well-behaved page was refused";
  // Each flooder gets its burst and then the sustained rate (its bucket refills while it is stopped, too), and
  // its refusals back at that rate too, plus the calls it had in flight when its session ended; everything beyond
  // the rate is RESOURCE_EXHAUSTED.
  const double allowed = 200 + 100 * wall_seconds + 20;
  EXPECT_LE(flooded.ok, allowed);
  // Being limited is not a punishment: the flooder's calls kept being answered at the rate until its session was
  // closed (well beyond its burst), and nothing was a bad message.
  EXPECT_GT(flooded.ok, 200 + 100 * seconds_running / 2);
  EXPECT_EQ(GetBrowserStatus(*admin_).bad_messages(), 0);
  EXPECT_LE(flooded.calls, 2 * allowed + 1024);
  EXPECT_GT(flooded.rate_limited, 0);
  EXPECT_EQ(flooded.other, 0);
  EXPECT_LE(hoarded.ok, allowed);
  EXPECT_LE(hoarded.calls, 2 * allowed + 64);
  EXPECT_GT(hoarded.rate_limited, 0);
  EXPECT_EQ(hoarded.other, 0);
  const double p99_ratio = Percentile(during, 99) / Percentile(calm, 99);
  if (!kSanitized) {
    EXPECT_LT(p99_ratio, 10) << "the floods took the well-behaved pages' time";
    EXPECT_LT(rss_after - rss_before, 64 * 1024) << "memory grew by more than 64 MiB";
  }
  // Every refusal is counted where an operator sees it (admin GetStatus, `bgsyncctl status`).
  EXPECT_EQ(GetBrowserStatus(*admin_).rate_limited_calls(), flooded.rate_limited + hoarded.rate_limited);
  // One "Rate limited" line per flooding session; none for the well-behaved ones.
  const std::vector<admin::LogEntry> log = ReadEventLog(*admin_);
  EXPECT_EQ(CountEvents(log, "Rate limited"), 2);

  std::printf(
      "figure: %d rounds of %d calm + %d flooded Registers (2 pages, one every %.1f ms): well-behaved Register "
      "p50/p99/p99.9 %s ms calm, %s ms flooded: p99 ratio %.2f (target < 2, asserted < 10), p50 ratio %.2f, refused "
      "%d; per-round p99 calm/flooded %s ms\n",
      kRounds, kWindow, kWindow, absl::ToDoubleMilliseconds(pace), Percentiles(calm).c_str(),
      Percentiles(during).c_str(), p99_ratio, Percentile(during, 50) / Percentile(calm, 50), refused,
      absl::StrJoin(rounds, " ").c_str());
  std::printf(
      "figure: flooders running %.1f s of %.1f s: GetRegistrations flooder %lld calls (%.0f/s offered), %lld "
      "answered, %lld RESOURCE_EXHAUSTED, %lld UNAUTHENTICATED (read after its session ended); tag hoarder %lld "
      "Registers (%.0f/s), %lld stored, %lld RESOURCE_EXHAUSTED, %lld QUOTA_EXCEEDED, %lld UNAUTHENTICATED; browser "
      "CPU %.2f cores flooded, %.2f calm; flooders' CPU %.2f cores; RSS %lld -> peak %lld -> %lld KiB; threads %d -> "
      "peak %d\n",
      seconds_running, wall_seconds, static_cast<long long>(flooded.calls), flooded.calls / seconds_running,
      static_cast<long long>(flooded.ok), static_cast<long long>(flooded.rate_limited),
      static_cast<long long>(flooded.unauthenticated), static_cast<long long>(hoarded.calls),
      hoarded.calls / seconds_running, static_cast<long long>(hoarded.ok), static_cast<long long>(hoarded.rate_limited),
      static_cast<long long>(hoarded.quota_exceeded), static_cast<long long>(hoarded.unauthenticated),
      cpu_flood / seconds_flood, cpu_calm / seconds_calm, cpu_flooders / seconds_flood,
      static_cast<long long>(rss_before), static_cast<long long>(rss_peak.load()), static_cast<long long>(rss_after),
      threads_before, threads_peak.load());
}

// Without a rate limit, a client hoarding tags over its origin's service workers meets the quotas: 1,000
// registrations per service worker and 10,000 per origin are stored, every further Register is QUOTA_EXCEEDED, and
// the browser's memory stays bounded.
TEST_F(RendererFloodTest, HoardingTagsMeetsTheQuotas) {
  int64_t attempts = 20'000;
  if (const char* env = std::getenv("BGSYNC_FLOOD_TAGS")) {
    ASSERT_TRUE(absl::SimpleAtoi(env, &attempts) && attempts > 0) << env;
  }
  StartBrowser({"--rate-limit", "0"});
  const std::string origin = "https://hoard.example";
  std::vector<int64_t> sws;
  for (int i = 0; i < 12; ++i)  // 12,000 per-SW slots, more than the origin's 10,000
    sws.push_back(InstallTestWorker(origin));
  RendererSession hoard = OpenRendererSession(*admin_, origin);
  const int64_t rss_before = ResidentKib(browser_pid_);
  const int fds_before = DescriptorCount(browser_pid_);
  const absl::Time start = absl::Now();
  FloodProcess hoarding =
      StartFlood(hoard, "new-tags", sws, {"--in-flight=64", absl::StrCat("--max-calls=", attempts), "--seconds=3600"});
  const FloodCounts hoarded = WaitForFlood(hoarding);
  EXPECT_EQ(hoarded.calls, attempts);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const int64_t rss_after = ResidentKib(browser_pid_);
  EXPECT_EQ(hoarded.ok, 10'000) << "the origin's quota";
  EXPECT_EQ(hoarded.quota_exceeded, attempts - 10'000);
  EXPECT_EQ(hoarded.other, 0);
  EXPECT_EQ(Registrations().size(), 10'000u);
  if (!kSanitized) {
    EXPECT_LT(rss_after - rss_before, 128 * 1024);
  }
  std::printf(
      "figure: tag hoarding without a rate limit: %lld Registers in %.1f s (%.0f/s): %lld stored (origin "
      "quota 10,000; 1,000 per service worker), %lld QUOTA_EXCEEDED; browser RSS %lld -> %lld KiB, "
      "descriptors %d -> %d\n",
      static_cast<long long>(attempts), seconds, attempts / seconds, static_cast<long long>(hoarded.ok),
      static_cast<long long>(hoarded.quota_exceeded), static_cast<long long>(rss_before),
      static_cast<long long>(rss_after), fds_before, DescriptorCount(browser_pid_));
}

}  // namespace
}  // namespace bgsync
