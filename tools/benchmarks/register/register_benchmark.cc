#include "tools/benchmarks/register/register_benchmark.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "test/process_probe.h"
#include "tools/benchmarks/bench_report.h"
#include "tools/benchmarks/register/cpu_time.h"
#include "tools/benchmarks/register/load_drivers.h"
#include "tools/benchmarks/register/raw_baselines.h"

namespace bgsync {
namespace regbench {
namespace {

// The payload of the echo baseline: about what a Register request carries (tag and ids; the session token is
// metadata).
constexpr int kEchoPayloadBytes = 32;
constexpr int kSocketpairMessageBytes = 64;
constexpr int kRegistrationsPerServiceWorker = 900;  // under the quota of 1,000

void Progress(const std::string& line) {
  std::fprintf(stderr, "bgsync_bench_register: %s\n", line.c_str());
}

std::string Microseconds(double us) {
  return absl::StrFormat("%.0f", us);
}

// "p50 A us (rounds B..C), p90 D us".
std::string Spread(const std::vector<std::vector<double>>& rounds) {
  std::vector<double> all;
  std::vector<double> medians;
  for (const std::vector<double>& round : rounds) {
    all.insert(all.end(), round.begin(), round.end());
    medians.push_back(bench::Percentile(round, 50));
  }
  const auto [low, high] = std::minmax_element(medians.begin(), medians.end());
  return absl::StrCat("p50 ", Microseconds(bench::Percentile(all, 50)), " us (rounds ", Microseconds(*low), "..",
                      Microseconds(*high), "), p90 ", Microseconds(bench::Percentile(all, 90)), " us");
}

double MedianOfAll(const std::vector<std::vector<double>>& rounds) {
  std::vector<double> all;
  for (const std::vector<double>& round : rounds)
    all.insert(all.end(), round.begin(), round.end());
  return bench::Percentile(all, 50);
}

// Per-round rates and their total.
struct Rates {
  std::vector<double> per_round;
  int64_t calls = 0;
  double seconds = 0;

  void Add(const Throughput& t) {
    per_round.push_back(t.per_second());
    calls += t.calls;
    seconds += t.seconds;
  }
  double overall() const { return seconds > 0 ? static_cast<double>(calls) / seconds : 0; }
  std::string Describe() const {
    std::vector<std::string> rounds;
    for (double r : per_round)
      rounds.push_back(absl::StrFormat("%.0f", r));
    return absl::StrCat(absl::StrFormat("%.0f", overall()), "/s (rounds ", absl::StrJoin(rounds, ", "), ")");
  }
};

// Each client's Register calls: on the generated stub alone, or through its SyncManager (with the
// acknowledgement that follows each).
std::vector<AsyncCall> RegisterCalls(const std::vector<std::unique_ptr<RendererClient>>& clients,
                                     bool with_acknowledgement) {
  std::vector<AsyncCall> calls;
  for (const std::unique_ptr<RendererClient>& client : clients)
    calls.push_back(with_acknowledgement ? client->Register() : client->RegisterCallOnly());
  return calls;
}

}  // namespace

Sizes Sizes::Full() {
  Sizes s;
  s.socketpair_samples = 5000;
  s.latency_samples = 2000;
  s.latency_rounds = 10;
  s.latency_warmup = 20;
  s.clients = 32;
  s.throughput_rounds = 10;
  s.throughput_warmup = absl::Milliseconds(200);
  s.throughput_window = absl::Seconds(1);
  s.service_workers_per_client = 10;
  s.leveldb_duration = absl::Seconds(2);
  s.idle_window = absl::Seconds(10);
  return s;
}

Sizes Sizes::Quick() {
  Sizes s;
  s.socketpair_samples = 500;
  s.latency_samples = 200;
  s.latency_rounds = 2;
  s.latency_warmup = 20;
  s.clients = 32;
  s.throughput_rounds = 1;
  s.throughput_warmup = absl::Milliseconds(100);
  s.throughput_window = absl::Milliseconds(500);
  s.service_workers_per_client = 2;
  s.leveldb_duration = absl::Milliseconds(300);
  s.idle_window = absl::Seconds(2);
  return s;
}

RegisterBenchmark::RegisterBenchmark(ProcessLauncher* launcher, std::string directory, Sizes sizes)
    : launcher_(launcher), directory_(std::move(directory)), sizes_(sizes) {}

RegisterBenchmark::~RegisterBenchmark() = default;

absl::Status RegisterBenchmark::Run() {
  for (auto step :
       {&RegisterBenchmark::MeasureRawBaselines, &RegisterBenchmark::StartServers, &RegisterBenchmark::MeasureLatency,
        &RegisterBenchmark::MeasureThroughput, &RegisterBenchmark::MeasureIdle}) {
    if (absl::Status status = (this->*step)(); !status.ok())
      return status;
  }
  return absl::OkStatus();
}

absl::Status RegisterBenchmark::MeasureRawBaselines() {
  Progress("socketpair round trips");
  absl::StatusOr<std::vector<double>> round_trips =
      SocketpairRoundTrips(launcher_, {BinaryDirectory() + "/bgsync_bench_baseline_server", "--socketpair-echo"},
                           kSocketpairMessageBytes, sizes_.socketpair_samples / 10, sizes_.socketpair_samples);
  if (!round_trips.ok())
    return round_trips.status();
  socketpair_p50_us_ = bench::Percentile(*round_trips, 50);
  socketpair_note_ = absl::StrCat(round_trips->size(), " round trips of ", kSocketpairMessageBytes, " B, p90 ",
                                  Microseconds(bench::Percentile(*round_trips, 90)), " us");

  Progress("raw LevelDB synced writes, 1 and 32 threads");
  const RecordMaker record = [](int thread, int) {
    return RegistrationRecord("https://raw.example", thread + 1, NextTag());
  };
  absl::StatusOr<double> one = LevelDbSyncWriteRate(directory_ + "/raw-1", 1, sizes_.leveldb_duration, record);
  if (!one.ok())
    return one.status();
  absl::StatusOr<double> many = LevelDbSyncWriteRate(directory_ + "/raw-32", 32, sizes_.leveldb_duration, record);
  if (!many.ok())
    return many.status();
  bench::Figure figure;
  figure.id = "0w";
  figure.name = "raw LevelDB synced writes, 32 threads (informational)";
  figure.unit = "writes/s";
  figure.value = *many;
  figure.baseline_name = "the same, 1 thread";
  figure.baseline = *one;
  figure.rule = bench::Rule::kRatioAtLeast;
  figure.target = 1;
  figure.note = absl::StrCat(
      "one leveldb::DB::Write(sync=true) per registration record (key and value as the "
      "browser stores them) for ",
      absl::FormatDuration(sizes_.leveldb_duration),
      " each, same disk as the profiles; LevelDB group-commits concurrent writers");
  bench::PrintFigure(figure);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<StartedProcess>> RegisterBenchmark::StartBaselineServer(const std::string& name,
                                                                                       int write_threads) {
  std::vector<std::string> argv = {BinaryDirectory() + "/bgsync_bench_baseline_server", "--socket", SocketOf(name)};
  if (write_threads >= 0) {
    argv.insert(argv.end(), {"--db", directory_ + "/" + name + "-db", "--write-threads", absl::StrCat(write_threads)});
  }
  absl::StatusOr<std::unique_ptr<StartedProcess>> process = StartedProcess::Launch(launcher_, std::move(argv));
  if (!process.ok())
    return process.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  std::error_code error;
  while (!std::filesystem::exists(SocketOf(name), error) && absl::Now() < deadline && !(*process)->exited())
    absl::SleepFor(absl::Milliseconds(5));
  if (!BaselineClient(SocketOf(name)).WaitUntilServing(30))
    return absl::DeadlineExceededError(absl::StrCat("the ", name, " baseline server did not come up"));
  return process;
}

absl::Status RegisterBenchmark::StartServers() {
  Progress("starting the baseline servers and two browsers");
  struct Baseline {
    std::unique_ptr<StartedProcess>* process;
    const char* name;
    int write_threads;  // -1: no database
  };
  for (const Baseline& b : {Baseline{&echo_server_, "echo", -1}, Baseline{&write_server_, "write", 0},
                            Baseline{&pool_server_, "pool", 32}, Baseline{&serial_server_, "serial", 1}}) {
    absl::StatusOr<std::unique_ptr<StartedProcess>> process = StartBaselineServer(b.name, b.write_threads);
    if (!process.ok())
      return process.status();
    *b.process = *std::move(process);
  }
  // Offline, so that no event fires; no per-session rate limit, which would throttle the clients.
  const std::vector<std::string> flags = {"--no-netlink", "--offline", "--rate-limit", "0"};
  std::vector<std::string> relaxed_flags = flags;
  relaxed_flags.push_back("--relaxed-durability");
  const std::string browser = BinaryDirectory() + "/bgsync_browser";
  absl::StatusOr<std::unique_ptr<BrowserUnderTest>> relaxed =
      BrowserUnderTest::Start(launcher_, browser, directory_ + "/relaxed-profile", relaxed_flags);
  if (!relaxed.ok())
    return relaxed.status();
  relaxed_browser_ = *std::move(relaxed);
  absl::StatusOr<std::unique_ptr<BrowserUnderTest>> durable =
      BrowserUnderTest::Start(launcher_, browser, directory_ + "/durable-profile", flags);
  if (!durable.ok())
    return durable.status();
  durable_browser_ = *std::move(durable);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RendererClient>> RegisterBenchmark::NewRendererClient(BrowserUnderTest& browser,
                                                                                     const std::string& origin,
                                                                                     int service_workers) {
  // The worker never runs (the browser is offline); the command only has to be a real one.
  const std::vector<std::string> worker = {BinaryDirectory() + "/bgsync_test_worker"};
  std::vector<int64_t> ids;
  for (int i = 0; i < service_workers; ++i) {
    absl::StatusOr<int64_t> id = browser.InstallServiceWorker(origin, absl::StrCat(origin, "/sw", i, "/"), worker);
    if (!id.ok())
      return id.status();
    ids.push_back(*id);
  }
  absl::StatusOr<BrowserUnderTest::Session> session = browser.OpenWindowSession(origin);
  if (!session.ok())
    return session.status();
  return std::make_unique<RendererClient>(session->socket_path, session->token, std::move(ids));
}

absl::Status RegisterBenchmark::MeasureLatency() {
  Progress("latency: echo / relaxed Register / gRPC + synced write / durable Register, alternating");
  const int per_round = sizes_.latency_samples / sizes_.latency_rounds;
  // Each client registers through its SyncManager and through the bare stub.
  const int registrations = 2 * sizes_.latency_rounds * (sizes_.latency_warmup + per_round);
  const int service_workers = (registrations + kRegistrationsPerServiceWorker - 1) / kRegistrationsPerServiceWorker;
  const std::string origin = "https://latency.example";
  absl::StatusOr<std::unique_ptr<RendererClient>> relaxed =
      NewRendererClient(*relaxed_browser_, origin, service_workers);
  if (!relaxed.ok())
    return relaxed.status();
  absl::StatusOr<std::unique_ptr<RendererClient>> durable =
      NewRendererClient(*durable_browser_, origin, service_workers);
  if (!durable.ok())
    return durable.status();
  BaselineClient echo(SocketOf("echo"));
  BaselineClient write(SocketOf("write"));

  // Each Register sample ends at the Register reply (the page's promise); the SyncManager's
  // DidResolveRegistration follows outside the measured interval and is finished before the next sample.
  struct Side {
    AsyncCall call;
    std::function<void()> after_each;
    std::vector<std::vector<double>> rounds;
  };
  Side sides[] = {
      {echo.Echo(kEchoPayloadBytes), nullptr, {}},
      {(*relaxed)->Register(), [&] { (*relaxed)->WaitForPendingCalls(); }, {}},
      {write.Put(origin, 1), nullptr, {}},
      {(*durable)->Register(), [&] { (*durable)->WaitForPendingCalls(); }, {}},
      {(*relaxed)->RegisterCallOnly(), nullptr, {}},
      {(*durable)->RegisterCallOnly(), nullptr, {}},
  };
  for (int round = 0; round < sizes_.latency_rounds; ++round) {
    for (Side& side : sides) {
      absl::StatusOr<std::vector<double>> samples =
          SequentialLatencies(side.call, sizes_.latency_warmup, per_round, side.after_each);
      if (!samples.ok())
        return absl::InternalError(absl::StrCat("latency side ", &side - sides, ": ", samples.status().message()));
      side.rounds.push_back(*std::move(samples));
    }
  }
  const double echo_p50 = MedianOfAll(sides[0].rounds);
  const std::string rounds_note =
      absl::StrCat(sizes_.latency_rounds * per_round, " calls per side in ", sizes_.latency_rounds,
                   " alternating rounds, each after ", sizes_.latency_warmup, " warm-up calls");

  bench::Figure floor;
  floor.id = "0";
  floor.name = "socketpair round trip p50, two processes (the floor; informational)";
  floor.unit = "us";
  floor.value = socketpair_p50_us_;
  floor.baseline_name = "bare gRPC unary echo p50";
  floor.baseline = echo_p50;
  floor.rule = bench::Rule::kValueAtMost;
  floor.target = 1000;
  floor.note = socketpair_note_;
  bench::PrintFigure(floor);

  bench::Figure relaxed_figure;
  relaxed_figure.id = "1a";
  relaxed_figure.name = "Register p50 from the renderer stub, relaxed durability";
  relaxed_figure.unit = "us";
  relaxed_figure.value = MedianOfAll(sides[1].rounds);
  relaxed_figure.baseline_name = "bare gRPC unary echo p50";
  relaxed_figure.baseline = echo_p50;
  relaxed_figure.rule = bench::Rule::kRatioAtMost;
  relaxed_figure.target = 1.25;
  relaxed_figure.note =
      absl::StrCat("SyncManager::Register to its reply (its DidResolveRegistration not timed); ours ",
                   Spread(sides[1].rounds), "; echo ", Spread(sides[0].rounds),
                   "; the Register call alone on the generated stub ", Spread(sides[4].rounds), "; ", rounds_note);
  bench::PrintFigure(relaxed_figure);

  bench::Figure durable_figure;
  durable_figure.id = "1b";
  durable_figure.name = "Register p50 from the renderer stub, durable";
  durable_figure.unit = "us";
  durable_figure.value = MedianOfAll(sides[3].rounds);
  durable_figure.baseline_name = "bare gRPC + one synced LevelDB write p50";
  durable_figure.baseline = MedianOfAll(sides[2].rounds);
  durable_figure.rule = bench::Rule::kRatioAtMost;
  durable_figure.target = 1.25;
  durable_figure.note =
      absl::StrCat("SyncManager::Register to its reply; ours ", Spread(sides[3].rounds),
                   "; baseline (write in the handler) ", Spread(sides[2].rounds),
                   "; the Register call alone on the generated stub ", Spread(sides[5].rounds), "; ", rounds_note);
  bench::PrintFigure(durable_figure);
  return absl::OkStatus();
}

absl::Status RegisterBenchmark::MeasureThroughput() {
  Progress(absl::StrCat("throughput: ", sizes_.clients, " clients each on the baselines and the durable browser"));
  std::vector<std::unique_ptr<BaselineClient>> baseline_clients;
  std::vector<AsyncCall> write_calls, pool_calls, serial_calls;
  // The two kinds of renderer clients have origins of their own: an origin holds at most 10,000 registrations.
  std::vector<std::unique_ptr<RendererClient>> renderers, acknowledging_renderers;
  for (int i = 0; i < sizes_.clients; ++i) {
    const std::string origin = absl::StrCat("https://client-", i, ".example");
    for (auto [name, calls] :
         {std::pair{"write", &write_calls}, std::pair{"pool", &pool_calls}, std::pair{"serial", &serial_calls}}) {
      baseline_clients.push_back(std::make_unique<BaselineClient>(SocketOf(name)));
      calls->push_back(baseline_clients.back()->Put(origin, i + 1));
    }
    for (auto [prefix, clients] :
         {std::pair{"client", &renderers}, std::pair{"acknowledging-client", &acknowledging_renderers}}) {
      absl::StatusOr<std::unique_ptr<RendererClient>> renderer = NewRendererClient(
          *durable_browser_, absl::StrCat("https://", prefix, "-", i, ".example"), sizes_.service_workers_per_client);
      if (!renderer.ok())
        return renderer.status();
      clients->push_back(*std::move(renderer));
    }
  }
  std::vector<AsyncCall> register_calls = RegisterCalls(renderers, false);
  std::vector<AsyncCall> acknowledged_calls = RegisterCalls(acknowledging_renderers, true);

  Rates write, pool, serial, ours, acknowledged;
  for (int round = 0; round < sizes_.throughput_rounds; ++round) {
    for (auto [calls, rates] :
         {std::pair{&write_calls, &write}, std::pair{&pool_calls, &pool}, std::pair{&serial_calls, &serial},
          std::pair{&register_calls, &ours}, std::pair{&acknowledged_calls, &acknowledged}}) {
      absl::StatusOr<Throughput> t = ClosedLoopThroughput(*calls, sizes_.throughput_warmup, sizes_.throughput_window);
      if (!t.ok())
        return t.status();
      rates->Add(*t);
      for (const std::unique_ptr<RendererClient>& renderer : acknowledging_renderers)
        renderer->WaitForPendingCalls();
    }
  }
  // The stronger of the two bare servers is the baseline.
  const bool pool_is_stronger = pool.overall() > write.overall();
  const Rates& bare = pool_is_stronger ? pool : write;
  const std::string clients_note = absl::StrCat(
      sizes_.clients, " clients, each on its own connection with one call in flight, ", sizes_.throughput_rounds,
      " alternating rounds of ", absl::FormatDuration(sizes_.throughput_window), " after ",
      absl::FormatDuration(sizes_.throughput_warmup),
      " warm-up; each renderer client is a window of its own origin with ", sizes_.service_workers_per_client,
      " service workers used in turn and makes Register calls on the generated stub the SyncManager uses (one call "
      "per registration, as the baseline makes one Put per write); through the SyncManager, which also sends "
      "DidResolveRegistration after each, ",
      acknowledged.Describe());
  bench::Figure versus_bare;
  versus_bare.id = "2a";
  versus_bare.name = "durable Registers/s, 32 renderer clients";
  versus_bare.unit = "calls/s";
  versus_bare.value = ours.overall();
  versus_bare.baseline_name = "bare gRPC + synced LevelDB write server";
  versus_bare.baseline = bare.overall();
  versus_bare.rule = bench::Rule::kRatioAtLeast;
  versus_bare.target = 0.9;
  versus_bare.note = absl::StrCat("ours ", ours.Describe(), "; bare, write in the handler ", write.Describe(),
                                  "; bare, 32 writer threads ", pool.Describe(), " (the baseline is the stronger: ",
                                  pool_is_stronger ? "32 writer threads" : "write in the handler", "); ", clients_note);
  bench::PrintFigure(versus_bare);

  bench::Figure versus_serial;
  versus_serial.id = "2b";
  versus_serial.name = "durable Registers/s, 32 renderer clients";
  versus_serial.unit = "calls/s";
  versus_serial.value = ours.overall();
  versus_serial.baseline_name = "one-operation-at-a-time server (global queue)";
  versus_serial.baseline = serial.overall();
  versus_serial.rule = bench::Rule::kRatioAtLeast;
  versus_serial.target = 5;
  versus_serial.note = absl::StrCat(
      "ours ", ours.Describe(), "; one at a time ", serial.Describe(),
      "; the same bare server with every Put through one FIFO queue on one thread, one synced write at a time "
      "(Chromium's global operation queue); for scale, the bare server with 32 writer threads did ",
      absl::StrFormat("%.2f", serial.overall() > 0 ? pool.overall() / serial.overall() : 0), "x the one at a time; ",
      clients_note);
  bench::PrintFigure(versus_serial);
  return absl::OkStatus();
}

absl::Status RegisterBenchmark::MeasureIdle() {
  // Only the durable browser (holding every registration made so far, pending and offline) and the echo server
  // (which served its share of calls too) stay; their clients are gone.
  write_server_.reset();
  pool_server_.reset();
  serial_server_.reset();
  relaxed_browser_.reset();
  absl::StatusOr<int> pending = durable_browser_->CountRegistrations();
  if (!pending.ok())
    return pending.status();
  Progress(absl::StrCat("idle CPU over ", absl::FormatDuration(sizes_.idle_window), " with ", *pending,
                        " registrations pending offline"));
  absl::SleepFor(absl::Seconds(1));
  const pid_t browser = durable_browser_->pid();
  const pid_t server = echo_server_->pid();
  // Both ways of reading CPU time: threads' run times (ns, valid when no thread came or went) and the process's
  // user+system ticks (10 ms, counting threads that ended too).
  const auto start = std::chrono::steady_clock::now();
  const std::optional<std::map<pid_t, int64_t>> browser_threads_start = ThreadRunNanos(browser);
  const std::optional<std::map<pid_t, int64_t>> server_threads_start = ThreadRunNanos(server);
  const double browser_start = CpuSeconds(browser);
  const double server_start = CpuSeconds(server);
  absl::SleepFor(sizes_.idle_window);
  const std::optional<std::map<pid_t, int64_t>> browser_threads_end = ThreadRunNanos(browser);
  const std::optional<std::map<pid_t, int64_t>> server_threads_end = ThreadRunNanos(server);
  const double browser_end = CpuSeconds(browser);
  const double server_end = CpuSeconds(server);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (browser_start < 0 || browser_end < 0 || server_start < 0 || server_end < 0 || !browser_threads_start ||
      !browser_threads_end || !server_threads_start || !server_threads_end) {
    return absl::InternalError("a process died during the idle window");
  }
  const std::optional<double> browser_precise = CpuSecondsBetween(*browser_threads_start, *browser_threads_end);
  const std::optional<double> server_precise = CpuSecondsBetween(*server_threads_start, *server_threads_end);
  const bool precise = browser_precise && server_precise;
  auto percent = [wall](double seconds) { return 100 * seconds / wall; };

  bench::Figure idle;
  idle.id = "7";
  idle.name = "idle browser CPU, registrations pending offline";
  idle.unit = "% CPU";
  idle.value = percent(precise ? *browser_precise : browser_end - browser_start);
  idle.baseline_name = "idle bare gRPC server, same window";
  idle.baseline = percent(precise ? *server_precise : server_end - server_start);
  idle.rule = bench::Rule::kExcessAtMost;
  idle.target = 1;
  idle.note = absl::StrCat(*pending,
                           " registrations pending, offline, no client connected; CPU of both processes over the same ",
                           absl::StrFormat("%.1f", wall), " s, % of one core, from ",
                           precise ? "their threads' run times (/proc/<pid>/task/*/schedstat, ns)"
                                   : "user+system ticks (/proc/<pid>/stat, 10 ms; a thread came or went)",
                           "; in ticks: browser ", absl::StrFormat("%.2f", percent(browser_end - browser_start)),
                           "%, server ", absl::StrFormat("%.2f", percent(server_end - server_start)), "%");
  bench::PrintFigure(idle);
  return absl::OkStatus();
}

}  // namespace regbench
}  // namespace bgsync
