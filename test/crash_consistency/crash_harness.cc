#include "test/crash_consistency/crash_harness.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "test/crash_consistency/child_process.h"
#include "test/crash_consistency/crash_browser.h"
#include "test/crash_consistency/firing_model.h"
#include "test/crash_consistency/store_snapshot.h"

namespace bgsync {
namespace {

constexpr char kProbeOrigin[] = "https://probe.crash.example";
constexpr char kHangOrigin[] = "https://hang.crash.example";
constexpr char kRejectOrigin[] = "https://reject.crash.example";
constexpr int kMaxAttempts = 3;                  // phase 2's --max-attempts (Chromium's default)
constexpr int kMaxConsecutiveInterruptions = 3;  // the engine's poison-pill bound

// Complete lines appended to a file since the last Read.
class LineTail {
 public:
  explicit LineTail(std::string path) : path_(std::move(path)) {}

  std::vector<std::string> Read() { return ReadFrom(&offset_); }
  std::vector<std::string> Peek() const {
    size_t offset = offset_;
    return ReadFrom(&offset);
  }

 private:
  std::vector<std::string> ReadFrom(size_t* offset) const {
    std::vector<std::string> lines;
    const int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return lines;
    std::string text;
    char buffer[65536];
    ssize_t n;
    off_t position = static_cast<off_t>(*offset);
    while ((n = pread(fd, buffer, sizeof buffer, position)) > 0) {
      text.append(buffer, static_cast<size_t>(n));
      position += n;
    }
    close(fd);
    size_t start = 0;
    for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1)
      lines.push_back(text.substr(start, end - start));
    *offset += start;  // an incomplete last line is read again next time
    return lines;
  }

  const std::string path_;
  size_t offset_ = 0;
};

struct ClientProcess {
  ChildProcess process;
  int stdin_fd = -1;  // closing it stops the client
  std::unique_ptr<LineTail> log;
  std::string stderr_path;
};

// A client log line: "<sw> <tag>".
bool ParseClientLine(const std::string& line, int64_t* sw, std::string* tag) {
  std::pair<std::string, std::string> fields = absl::StrSplit(line, absl::MaxSplits(' ', 1));
  *tag = fields.second;
  return absl::SimpleAtoi(fields.first, sw) && !tag->empty();
}

// A worker log line: "event <tag> last_chance=<0|1>" (our tags need no percent-encoding).
bool ParseWorkerLine(const std::string& line, Delivery* delivery) {
  std::vector<std::string> fields = absl::StrSplit(line, ' ');
  if (fields.size() != 3 || fields[0] != "event" || !absl::StartsWith(fields[2], "last_chance="))
    return false;
  delivery->tag = fields[1];
  delivery->last_chance = fields[2] == "last_chance=1";
  return true;
}

double Ms(absl::Duration d) {
  return absl::ToDoubleMilliseconds(d);
}

class Harness {
 public:
  Harness(const CrashHarnessOptions& options, std::string work_dir, CrashReport& report)
      : options_(options), work_dir_(std::move(work_dir)), report_(report), rng_(options.seed) {}
  ~Harness() { StopClients(); }

  absl::Status RunRegistering();
  absl::Status RunFiring();

 private:
  std::string Binary(const std::string& name) const { return options_.binary_dir + "/" + name; }
  absl::Duration RandomDelay(absl::Duration max) {
    const uint64_t max_us = static_cast<uint64_t>(std::max<int64_t>(1, absl::ToInt64Microseconds(max)));
    return absl::Microseconds(static_cast<int64_t>(rng_() % max_us));
  }
  void Violation(std::string what) { report_.violations.push_back(std::move(what)); }
  void Progress(const std::string& line) {
    if (options_.progress)
      options_.progress(line);
  }

  absl::Status SpawnClient(const std::string& dir,
                           const std::string& prefix,
                           const std::string& origin,
                           const std::vector<int64_t>& sws,
                           const std::string& profile,
                           absl::Duration pause);
  // Closes the clients' stdin and waits for them to finish their last call and exit.
  void StopClients();
  // New acknowledged registrations in the clients' logs, added to `acknowledged` (tag -> service worker).
  void ReadAcknowledged(std::map<std::string, int64_t>& acknowledged);
  // Restarts after a kill: records the times and checks the serving limit.
  absl::Status Restart(CrashBrowser& browser, const std::string& phase, int kill, CrashBrowser::StartTimes* times);
  // Compares the browser's "Loaded registrations" line with what the store left by the kill must give.
  absl::Status CheckLoadReport(CrashBrowser& browser, const std::string& phase, int kill, LoadCounts expected);
  void Kill(CrashBrowser& browser);
  void CheckSnapshot(const StoreSnapshot& snapshot, const std::string& phase, int kill);

  const CrashHarnessOptions& options_;
  const std::string work_dir_;
  CrashReport& report_;
  std::mt19937_64 rng_;
  std::vector<ClientProcess> clients_;
};

absl::Status Harness::SpawnClient(const std::string& dir,
                                  const std::string& prefix,
                                  const std::string& origin,
                                  const std::vector<int64_t>& sws,
                                  const std::string& profile,
                                  absl::Duration pause) {
  ClientProcess client;
  const std::string log = absl::StrCat(dir, "/", prefix, ".log");
  client.stderr_path = absl::StrCat(dir, "/", prefix, ".stderr");
  absl::StatusOr<Pipe> in = MakePipe();
  if (!in.ok())
    return in.status();
  const int stderr_fd = open(client.stderr_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  std::string sw_list;
  for (int64_t sw : sws)
    absl::StrAppend(&sw_list, sw_list.empty() ? "" : ",", sw);
  ChildOptions child;
  child.argv = {Binary("bgsync_crash_client"),
                "--profile",
                profile,
                "--origin",
                origin,
                "--sw",
                sw_list,
                "--log",
                log,
                "--prefix",
                prefix,
                "--pause-ms",
                absl::StrCat(absl::ToInt64Milliseconds(pause))};
  child.stdin_fd = in->read_fd;
  child.stderr_fd = stderr_fd;
  absl::StatusOr<ChildProcess> process = ChildProcess::Spawn(child);
  close(in->read_fd);
  if (stderr_fd >= 0)
    close(stderr_fd);
  if (!process.ok()) {
    close(in->write_fd);
    return process.status();
  }
  client.process = *std::move(process);
  client.stdin_fd = in->write_fd;
  client.log = std::make_unique<LineTail>(log);
  clients_.push_back(std::move(client));
  return absl::OkStatus();
}

void Harness::StopClients() {
  for (ClientProcess& client : clients_) {
    if (client.stdin_fd >= 0)
      close(client.stdin_fd);
    client.stdin_fd = -1;
  }
  for (ClientProcess& client : clients_) {
    if (!client.process.running())
      continue;
    // A client finishes its current call (bounded by its deadline) and exits.
    if (!client.process.WaitForGroup(kHarnessDeadline))
      Violation("a client did not exit within the deadline after being told to stop: " + client.stderr_path);
    client.process = ChildProcess();
    // Its summary: "... acknowledged=N unanswered=M ... refused: BACKGROUND_SYNC_ERROR_X=K ...".
    for (const std::string& line : LineTail(client.stderr_path).Read()) {
      for (absl::string_view field : absl::StrSplit(line, ' ')) {
        int64_t value = 0;
        if (absl::ConsumePrefix(&field, "unanswered=") && absl::SimpleAtoi(field, &value)) {
          report_.unanswered_registers += value;
        } else if ((absl::StartsWith(field, "BACKGROUND_SYNC_ERROR_") || absl::StartsWith(field, "RESOURCE_")) &&
                   absl::SimpleAtoi(field.substr(field.find('=') + 1), &value)) {
          report_.refused_registers += value;
          absl::StrAppend(&report_.refusals, report_.refusals.empty() ? "" : ", ", field);
        }
      }
    }
  }
}

void Harness::ReadAcknowledged(std::map<std::string, int64_t>& acknowledged) {
  for (ClientProcess& client : clients_) {
    for (const std::string& line : client.log->Read()) {
      int64_t sw = 0;
      std::string tag;
      if (!ParseClientLine(line, &sw, &tag)) {
        Violation("a client log line does not parse: \"" + line + "\"");
        continue;
      }
      if (!acknowledged.emplace(tag, sw).second)
        Violation("a tag was acknowledged twice: " + tag);
    }
  }
}

void Harness::Kill(CrashBrowser& browser) {
  bool lingering = false;
  browser.Kill(&lingering);
  if (lingering)
    ++report_.lingering_processes;
}

absl::Status Harness::Restart(CrashBrowser& browser,
                              const std::string& phase,
                              int kill,
                              CrashBrowser::StartTimes* times) {
  absl::StatusOr<CrashBrowser::StartTimes> started = browser.Start();
  if (!started.ok())
    return absl::Status(started.status().code(),
                        absl::StrCat(phase, " kill ", kill, ": restart: ", started.status().message()));
  *times = *started;
  report_.admin_ms.push_back(Ms(times->admin));
  report_.serving_ms.push_back(Ms(times->serving));
  if (times->serving > options_.serving_limit) {
    Violation(absl::StrFormat("%s kill %d: served again only after %.0f ms (limit %.0f ms)", phase, kill,
                              Ms(times->serving), Ms(options_.serving_limit)));
  }
  return absl::OkStatus();
}

absl::Status Harness::CheckLoadReport(CrashBrowser& browser, const std::string& phase, int kill, LoadCounts expected) {
  absl::StatusOr<CrashBrowser::LoadReport> loaded = browser.LoadedRegistrations();
  if (!loaded.ok())
    return loaded.status();
  if (loaded->quarantined > 0)
    report_.quarantined_at_load += loaded->quarantined;
  if (loaded->loaded != expected.loaded || loaded->interrupted != expected.interrupted || loaded->dropped != 0 ||
      loaded->quarantined != 0) {
    Violation(absl::StrFormat(
        "%s kill %d: the browser loaded loaded=%d interrupted=%d dropped=%d quarantined=%d; the store the kill left "
        "gives loaded=%d interrupted=%d dropped=0 quarantined=0",
        phase, kill, loaded->loaded, loaded->interrupted, loaded->dropped, loaded->quarantined, expected.loaded,
        expected.interrupted));
  }
  return absl::OkStatus();
}

void Harness::CheckSnapshot(const StoreSnapshot& snapshot, const std::string& phase, int kill) {
  report_.quarantined_on_disk += static_cast<int64_t>(snapshot.quarantined.size());
  for (const SyncRegistrationStore::QuarantinedRecord& record : snapshot.quarantined) {
    Violation(absl::StrCat(phase, " kill ", kill, ": a record on disk does not decode (half-written?): key \"",
                           absl::CEscape(record.key), "\": ", record.reason));
  }
}

absl::Status Harness::RunRegistering() {
  const std::string phase = "registering";
  const std::string dir = work_dir_ + "/registering";
  std::filesystem::create_directories(dir);
  const std::string profile = dir + "/profile";
  CrashBrowser browser(
      {Binary("bgsync_browser"),
       profile,
       {"--no-netlink", "--offline", "--retry-delay", "0.2", "--retry-factor", "1", "--worker-idle-timeout", "60"},
       dir + "/browser.stderr"});
  if (absl::StatusOr<CrashBrowser::StartTimes> started = browser.Start(); !started.ok())
    return started.status();
  const std::vector<std::string> worker = {Binary("bgsync_test_worker")};
  absl::StatusOr<int64_t> probe_sw = browser.InstallWorker(kProbeOrigin, absl::StrCat(kProbeOrigin, "/"), worker);
  if (!probe_sw.ok())
    return probe_sw.status();
  browser.SetProbe(kProbeOrigin, *probe_sw, /*resolve=*/false);
  for (int c = 0; c < options_.clients; ++c) {
    const std::string origin = absl::StrFormat("https://client-%02d.crash.example", c);
    std::vector<int64_t> sws;
    for (int j = 0; j < options_.sws_per_client; ++j) {
      absl::StatusOr<int64_t> sw = browser.InstallWorker(origin, absl::StrCat(origin, "/sw", j, "/"), worker);
      if (!sw.ok())
        return sw.status();
      sws.push_back(*sw);
    }
    if (absl::Status spawned =
            SpawnClient(dir, absl::StrFormat("r%02d", c), origin, sws, profile, options_.registering_client_pause);
        !spawned.ok()) {
      return spawned;
    }
  }

  std::map<std::string, int64_t> acknowledged;  // tag -> service worker, from the clients' logs
  std::set<std::string> stored_before;          // every tag on disk at the previous kill
  std::set<std::string> lost;
  // A tag of `acknowledged` or a probe, missing from `present`, is lost (reported once).
  auto check_acknowledged = [&](const std::set<std::string>& present, const std::string& where) {
    for (const auto& [tag, sw] : acknowledged) {
      if (!present.count(tag) && lost.insert(tag).second) {
        ++report_.lost_acknowledged;
        Violation(
            absl::StrCat("LOST: acknowledged registration ", tag, " (service worker ", sw, ") is missing ", where));
      }
    }
    for (const std::string& tag : browser.probe_tags()) {
      if (!present.count(tag) && lost.insert(tag).second) {
        ++report_.lost_acknowledged;
        Violation(absl::StrCat("LOST: acknowledged probe registration ", tag, " is missing ", where));
      }
    }
  };
  auto check_stored = [&](const StoreSnapshot& snapshot, const std::string& where) {
    std::set<std::string> present;
    for (const SyncRegistration& r : snapshot.registrations) {
      present.insert(r.key.tag);
      if (r.state != SyncState::kPending || r.num_attempts != 0) {
        Violation(absl::StrCat(phase, ": ", r.key.tag, " is ", SyncStateName(r.state), " with ", r.num_attempts,
                               " attempts ", where, ", but the browser is offline"));
      }
    }
    check_acknowledged(present, where);
    for (const std::string& tag : stored_before) {
      if (!present.count(tag) && lost.insert(tag).second) {
        ++report_.lost_unacknowledged;
        Violation(absl::StrCat("LOST: stored registration ", tag, " vanished ", where));
      }
    }
    stored_before = std::move(present);
  };

  for (int kill = 1; kill <= options_.registering_kills; ++kill) {
    const absl::Duration delay = RandomDelay(options_.max_registering_delay);
    absl::SleepFor(delay);
    Kill(browser);
    absl::StatusOr<StoreSnapshot> snapshot = SnapshotStore(profile + "/BackgroundSync", dir + "/snapshot");
    if (!snapshot.ok())
      return snapshot.status();
    ReadAcknowledged(acknowledged);
    CheckSnapshot(*snapshot, phase, kill);
    check_stored(*snapshot, absl::StrCat("from the store after kill ", kill));

    LoadCounts expected = ExpectedLoadCounts(snapshot->registrations, kMaxConsecutiveInterruptions);
    if (kill == options_.sabotage_after_kill && !acknowledged.empty()) {
      const auto& [tag, sw] = *acknowledged.begin();
      if (absl::Status deleted = DeleteRegistration(profile + "/BackgroundSync", {sw, SyncType::kOneShot, tag});
          !deleted.ok()) {
        return deleted;
      }
      --expected.loaded;
      Progress(absl::StrCat("self-test: deleted acknowledged registration ", tag, " after kill ", kill));
    }

    CrashBrowser::StartTimes times;
    if (absl::Status restarted = Restart(browser, phase, kill, &times); !restarted.ok())
      return restarted;
    if (absl::Status checked = CheckLoadReport(browser, phase, kill, expected); !checked.ok())
      return checked;
    absl::StatusOr<std::vector<admin::Registration>> listed = browser.ListRegistrations();
    if (!listed.ok())
      return listed.status();
    std::set<std::string> present;
    for (const admin::Registration& r : *listed)
      present.insert(r.tag());
    check_acknowledged(present, absl::StrCat("from the browser's table after restart ", kill));
    Progress(absl::StrFormat(
        "%s kill %d/%d after %.0f ms: %d acknowledged, %d on disk; serving again after %.0f ms (admin %.0f ms)", phase,
        kill, options_.registering_kills, Ms(delay), acknowledged.size(), snapshot->registrations.size(),
        Ms(times.serving), Ms(times.admin)));
  }

  // The end: the clients finish, the browser stops as a user stops it, and the store must still hold everything.
  StopClients();
  ReadAcknowledged(acknowledged);
  browser.Stop();
  absl::StatusOr<StoreSnapshot> last = SnapshotStore(profile + "/BackgroundSync", dir + "/snapshot");
  if (!last.ok())
    return last.status();
  CheckSnapshot(*last, phase, options_.registering_kills + 1);
  check_stored(*last, "from the store after the final clean stop");
  report_.acknowledged_registering = static_cast<int64_t>(acknowledged.size());
  report_.probes_acknowledged = static_cast<int64_t>(browser.probe_tags().size());
  report_.stored_at_end = static_cast<int64_t>(last->registrations.size());
  clients_.clear();
  return absl::OkStatus();
}

absl::Status Harness::RunFiring() {
  const std::string phase = "firing";
  const std::string dir = work_dir_ + "/firing";
  std::filesystem::create_directories(dir);
  const std::string profile = dir + "/profile";
  const std::string release = dir + "/release";  // the rejecting worker holds its events until this exists
  const std::string hang_log = dir + "/hang-worker.log";
  const std::string reject_log = dir + "/reject-worker.log";
  CrashBrowser browser(
      {Binary("bgsync_browser"),
       profile,
       {"--no-netlink", "--retry-delay", "0.1", "--retry-factor", "1", "--max-attempts", absl::StrCat(kMaxAttempts),
        "--event-timeout", "600", "--worker-idle-timeout", "600", "--max-events-per-worker", "1024"},
       dir + "/browser.stderr"});
  if (absl::StatusOr<CrashBrowser::StartTimes> started = browser.Start(); !started.ok())
    return started.status();
  absl::StatusOr<int64_t> probe_sw =
      browser.InstallWorker(kProbeOrigin, absl::StrCat(kProbeOrigin, "/"), {Binary("bgsync_test_worker")});
  absl::StatusOr<int64_t> hang_sw =
      browser.InstallWorker(kHangOrigin, absl::StrCat(kHangOrigin, "/"),
                            {Binary("bgsync_test_worker"), "--outcome=hang", "--log=" + hang_log});
  absl::StatusOr<int64_t> reject_sw = browser.InstallWorker(
      kRejectOrigin, absl::StrCat(kRejectOrigin, "/"),
      {Binary("bgsync_test_worker"), "--outcome=rejected", "--hold-until=" + release, "--log=" + reject_log});
  for (const absl::StatusOr<int64_t>* sw : {&probe_sw, &hang_sw, &reject_sw}) {
    if (!sw->ok())
      return sw->status();
  }
  browser.SetProbe(kProbeOrigin, *probe_sw, /*resolve=*/true);
  for (int c = 0; c < options_.clients; ++c) {
    const bool hang = c % 2 == 0;
    absl::Status spawned =
        SpawnClient(dir, absl::StrFormat("%s%02d", hang ? "h" : "j", c), hang ? kHangOrigin : kRejectOrigin,
                    {hang ? *hang_sw : *reject_sw}, profile, options_.firing_client_pause);
    if (!spawned.ok())
      return spawned;
  }

  FiringModel model({kMaxAttempts, kMaxConsecutiveInterruptions},
                    {{*hang_sw, WorkerKind::kHang}, {*reject_sw, WorkerKind::kReject}});
  LineTail hang_tail(hang_log);
  LineTail reject_tail(reject_log);
  auto parse = [this](const std::vector<std::string>& lines) {
    std::vector<Delivery> deliveries;
    for (const std::string& line : lines) {
      Delivery delivery;
      if (ParseWorkerLine(line, &delivery))
        deliveries.push_back(std::move(delivery));
      else
        Violation("a worker log line does not parse: \"" + line + "\"");
    }
    report_.deliveries += static_cast<int64_t>(deliveries.size());
    return deliveries;
  };
  std::map<std::string, int64_t> acknowledged;

  for (int kill = 1; kill <= options_.firing_kills; ++kill) {
    // The last epoch registers nothing new, so that every acknowledged registration is on a disk the model saw.
    if (kill == options_.firing_kills)
      StopClients();
    const absl::Duration delay = RandomDelay(options_.max_firing_delay);
    const absl::Duration release_at = RandomDelay(options_.max_firing_delay);
    if (release_at < delay) {
      absl::SleepFor(release_at);
      close(open(release.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
      absl::SleepFor(delay - release_at);
    } else {
      absl::SleepFor(delay);
    }
    Kill(browser);
    unlink(release.c_str());
    absl::StatusOr<StoreSnapshot> snapshot = SnapshotStore(profile + "/BackgroundSync", dir + "/snapshot");
    if (!snapshot.ok())
      return snapshot.status();
    CheckSnapshot(*snapshot, phase, kill);
    ReadAcknowledged(acknowledged);
    absl::flat_hash_map<WorkerKind, std::vector<Delivery>> deliveries;
    deliveries[WorkerKind::kHang] = parse(hang_tail.Read());
    deliveries[WorkerKind::kReject] = parse(reject_tail.Read());
    const size_t violations_before = model.violations().size();
    model.EndEpoch(snapshot->registrations, deliveries);
    for (size_t i = violations_before; i < model.violations().size(); ++i)
      Violation("firing: " + model.violations()[i]);
    const LoadCounts expected = ExpectedLoadCounts(snapshot->registrations, kMaxConsecutiveInterruptions);

    CrashBrowser::StartTimes times;
    if (absl::Status restarted = Restart(browser, phase, kill, &times); !restarted.ok())
      return restarted;
    if (absl::Status checked = CheckLoadReport(browser, phase, kill, expected); !checked.ok())
      return checked;
    absl::StatusOr<std::vector<admin::Registration>> listed = browser.ListRegistrations();
    if (!listed.ok())
      return listed.status();
    for (const admin::Registration& r : *listed) {
      if (r.service_worker_registration_id() == *probe_sw)
        continue;
      report_.max_attempts_seen = std::max(report_.max_attempts_seen, r.num_attempts());
      if (r.num_attempts() >= r.max_attempts() || r.max_attempts() != kMaxAttempts) {
        Violation(absl::StrCat(phase, " restart ", kill, ": ", r.tag(), " listed with ", r.num_attempts(), "/",
                               r.max_attempts(), " attempts"));
      }
    }
    Progress(absl::StrFormat(
        "%s kill %d/%d after %.0f ms (release %s): %d on disk, %d interrupted; %d deliveries so far; serving again "
        "after %.0f ms",
        phase, kill, options_.firing_kills, Ms(delay),
        release_at < delay ? absl::StrFormat("at %.0f ms", Ms(release_at)) : std::string("held"),
        snapshot->registrations.size(), expected.interrupted, report_.deliveries, Ms(times.serving)));
  }

  // The events the last kill interrupted must fire again too.
  if (options_.firing_kills > 0) {
    const absl::Time deadline = absl::Now() + kHarnessDeadline;
    std::vector<std::string> owed = model.OwedRefires();
    std::set<std::string> delivered;
    while (true) {
      for (const LineTail* tail : {&hang_tail, &reject_tail}) {
        for (const std::string& line : tail->Peek()) {
          Delivery delivery;
          if (ParseWorkerLine(line, &delivery))
            delivered.insert(delivery.tag);
        }
      }
      const bool all = std::all_of(owed.begin(), owed.end(), [&](const std::string& t) { return delivered.count(t); });
      if (all || absl::Now() > deadline)
        break;
      absl::SleepFor(absl::Milliseconds(10));
    }
    model.CreditRefires(delivered);
  }
  browser.Stop();
  StopClients();
  ReadAcknowledged(acknowledged);
  std::vector<std::string> tags;
  for (const auto& [tag, sw] : acknowledged)
    tags.push_back(tag);
  const size_t violations_before = model.violations().size();
  model.CheckAcknowledged(tags);
  for (size_t i = violations_before; i < model.violations().size(); ++i)
    Violation("firing: " + model.violations()[i]);
  for (const std::string& tag : model.OwedRefires())
    Violation(absl::StrCat("firing: ", tag, ": its interrupted event never fired again"));

  report_.acknowledged_firing = static_cast<int64_t>(acknowledged.size());
  for (const std::string& tag : model.lost()) {
    if (acknowledged.count(tag))
      ++report_.lost_acknowledged;
    else
      ++report_.lost_unacknowledged;
  }
  report_.interrupted = model.interruptions();
  report_.refired = model.refired();
  report_.poison_pill_removals = model.poison_pill_removals();
  report_.exhausted_by_failures = model.exhausted_by_failures();
  report_.max_attempts = kMaxAttempts;
  report_.max_attempts_seen = std::max(report_.max_attempts_seen, model.max_stored_attempts());
  report_.max_dispatches = model.max_dispatches();
  clients_.clear();
  return absl::OkStatus();
}

}  // namespace

double Percentile(std::vector<double> values, double percent) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(std::ceil(percent / 100.0 * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

std::string CrashReport::Figures() const {
  std::string out;
  auto line = [&out](const std::string& text) { absl::StrAppend(&out, text, "\n"); };
  line(absl::StrFormat("seed: %d (replay: --seed %d)", seed, seed));
  line(absl::StrFormat("clients: %d", clients));
  line(absl::StrFormat("kill points: %d (%d while registering, %d while events fire)", registering_kills + firing_kills,
                       registering_kills, firing_kills));
  line(absl::StrFormat("acknowledged registrations: %d (%d while registering + %d probes, %d while events fire)",
                       acknowledged_registering + probes_acknowledged + acknowledged_firing, acknowledged_registering,
                       probes_acknowledged, acknowledged_firing));
  line(absl::StrFormat("registrations on disk at the end of the registering phase: %d", stored_at_end));
  line(absl::StrFormat("register calls failed on the wire around kills (outcome unknown, not acknowledged): %d",
                       unanswered_registers));
  line(absl::StrFormat("register calls refused: %d%s", refused_registers,
                       refusals.empty() ? "" : " (" + refusals.substr(0, 200) + ")"));
  line(absl::StrFormat("lost: %d acknowledged, %d stored but unacknowledged", lost_acknowledged, lost_unacknowledged));
  line(absl::StrFormat("quarantined (half-written) records: %d on disk after kills, %d at the browser's loads",
                       quarantined_on_disk, quarantined_at_load));
  line(absl::StrFormat("restart to serving (first Register OK): max %.0f ms, p50 %.0f ms, p99 %.0f ms over %d restarts",
                       serving_ms.empty() ? 0 : *std::max_element(serving_ms.begin(), serving_ms.end()),
                       Percentile(serving_ms, 50), Percentile(serving_ms, 99), serving_ms.size()));
  line(absl::StrFormat("restart to admin endpoint answering: max %.0f ms, p50 %.0f ms",
                       admin_ms.empty() ? 0 : *std::max_element(admin_ms.begin(), admin_ms.end()),
                       Percentile(admin_ms, 50)));
  line(absl::StrFormat("interrupted events re-fired: %d of %d", refired, interrupted));
  line(
      absl::StrFormat("sync events delivered: %d; removed by the poison-pill bound: %d; after a rejected last "
                      "chance: %d",
                      deliveries, poison_pill_removals, exhausted_by_failures));
  line(
      absl::StrFormat("max attempts seen: %d stored failed attempts (removed at %d); max dispatches of one "
                      "registration: %d",
                      max_attempts_seen, max_attempts, max_dispatches));
  if (lingering_processes > 0)
    line(absl::StrFormat("kills after which a launched process outlived the browser: %d", lingering_processes));
  line(absl::StrFormat("elapsed: %.1f s; work directory: %s", absl::ToDoubleSeconds(elapsed), work_dir));
  line(absl::StrFormat("violations: %d", violations.size()));
  for (size_t i = 0; i < violations.size() && i < 50; ++i)
    line("  " + violations[i]);
  return out;
}

absl::StatusOr<CrashReport> RunCrashHarness(const CrashHarnessOptions& options) {
  const absl::Time start = absl::Now();
  if (absl::Status subreaper = BecomeSubreaper(); !subreaper.ok())
    return subreaper;
  for (const char* binary : {"bgsync_browser", "bgsync_test_worker", "bgsync_crash_client"}) {
    if (access((options.binary_dir + "/" + binary).c_str(), X_OK) != 0)
      return absl::NotFoundError(absl::StrCat(binary, " is not in ", options.binary_dir));
  }
  std::string work_dir = options.work_dir;
  if (work_dir.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "bgsync-crash-XXXXXX").string();
    if (!mkdtemp(pattern.data()))
      return absl::InternalError("mkdtemp failed");
    work_dir = pattern;
  } else {
    std::filesystem::create_directories(work_dir);
  }
  CrashReport report;
  report.seed = options.seed;
  report.clients = options.clients;
  report.work_dir = work_dir;
  absl::Status status;
  {
    Harness harness(options, work_dir, report);
    status = harness.RunRegistering();
    report.registering_kills = options.registering_kills;
    if (status.ok() && options.firing_kills > 0) {
      status = harness.RunFiring();
      report.firing_kills = options.firing_kills;
    }
  }
  report.elapsed = absl::Now() - start;
  // Kept for a post-mortem when anything went wrong.
  if (options.work_dir.empty() && !options.keep_work_dir && status.ok() && report.ok()) {
    std::error_code ignored;
    std::filesystem::remove_all(work_dir, ignored);
  }
  if (!status.ok())
    return absl::Status(status.code(), absl::StrCat(status.message(), " (work directory ", work_dir, ")"));
  return report;
}

}  // namespace bgsync
