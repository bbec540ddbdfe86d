// Hostile renderers as real out-of-process clients over the real channels (reliability.md P4, P5; issue 5,
// section 4): a bgsync_browser on a temporary profile; this test acting as admin and as the attacker's renderer
// (sessions the admin endpoint opens, each on a connection of its own), and renderer or worker processes the
// browser launches. Each test prints its figures ("figure: ..."). Waits are on events or polled state with
// generous deadlines; nothing depends on timing except the measured figures.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

using mojom::BackgroundSyncError;

// What a call returned, as bytes: equal results are indistinguishable to the caller.
struct CallResult {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  std::string reply;  // the serialized reply message

  bool operator==(const CallResult& other) const {
    return code == other.code && message == other.message && reply == other.reply;
  }
  std::string Describe() const {
    return absl::StrCat("code ", static_cast<int>(code), " \"", message, "\" reply ", absl::BytesToHexString(reply));
  }
};

// Every method of the renderer-facing services that takes a service-worker registration id.
enum class Method { kRegister, kDidResolve, kGetTags, kPeriodicRegister, kPeriodicUnregister, kPeriodicGetTags };
constexpr Method kMethods[] = {Method::kRegister,         Method::kDidResolve,         Method::kGetTags,
                               Method::kPeriodicRegister, Method::kPeriodicUnregister, Method::kPeriodicGetTags};
const char* MethodName(Method method) {
  switch (method) {
    case Method::kRegister:
      return "Register";
    case Method::kDidResolve:
      return "DidResolveRegistration";
    case Method::kGetTags:
      return "GetRegistrations";
    case Method::kPeriodicRegister:
      return "periodic Register";
    case Method::kPeriodicUnregister:
      return "periodic Unregister";
    case Method::kPeriodicGetTags:
      return "periodic GetRegistrations";
  }
  return "?";
}

// Calls `method` on `session` with the token `token` (the session's own unless given).
CallResult Call(RendererSession& session,
                Method method,
                int64_t sw,
                const std::string& tag,
                const std::string* token = nullptr) {
  grpc::ClientContext context;
  context.AddMetadata(kSessionMetadataKey, token ? *token : session.token);
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  grpc::Status status;
  std::string reply;
  switch (method) {
    case Method::kRegister:
    case Method::kPeriodicRegister: {
      mojom::RegisterRequest request;
      request.set_service_worker_registration_id(sw);
      request.mutable_options()->set_tag(tag);
      if (method == Method::kPeriodicRegister)
        request.mutable_options()->set_min_interval_ms(1000);
      mojom::RegisterReply out;
      status = method == Method::kRegister ? session.one_shot->Register(&context, request, &out)
                                           : session.periodic->Register(&context, request, &out);
      reply = out.SerializeAsString();
      break;
    }
    case Method::kDidResolve: {
      mojom::DidResolveRegistrationRequest request;
      request.set_service_worker_registration_id(sw);
      request.set_tag(tag);
      mojom::DidResolveRegistrationReply out;
      status = session.one_shot->DidResolveRegistration(&context, request, &out);
      reply = out.SerializeAsString();
      break;
    }
    case Method::kGetTags:
    case Method::kPeriodicGetTags: {
      mojom::GetRegistrationsRequest request;
      request.set_service_worker_registration_id(sw);
      mojom::GetRegistrationsReply out;
      status = method == Method::kGetTags ? session.one_shot->GetRegistrations(&context, request, &out)
                                          : session.periodic->GetRegistrations(&context, request, &out);
      reply = out.SerializeAsString();
      break;
    }
    case Method::kPeriodicUnregister: {
      mojom::UnregisterRequest request;
      request.set_service_worker_registration_id(sw);
      request.set_tag(tag);
      mojom::UnregisterReply out;
      status = session.periodic->Unregister(&context, request, &out);
      reply = out.SerializeAsString();
      break;
    }
  }
  return {status.error_code(), status.error_message(), reply};
}

// True if `result` is a Register that stored its registration.
bool Registered(const CallResult& result) {
  mojom::RegisterReply reply;
  return result.code == grpc::StatusCode::OK && reply.ParseFromString(result.reply) && reply.has_registration();
}

class HostileRendererTest : public BrowserTestFixture {
 protected:
  // A clean stop ends the processes the browser launched too (SIGKILL would orphan them).
  void TearDown() override {
    if (browser_pid_ != 0) {
      EXPECT_EQ(StopBrowser(SIGTERM), 0);
    }
    BrowserTestFixture::TearDown();
  }

  const std::string kVictim = "https://victim.example";
  const std::string kEvil = "https://evil.example";

  // A bgsync_test_worker for `origin`, on a scope of its own (so that an origin may have several).
  int64_t InstallTestWorker(const std::string& origin, const std::string& log = "") {
    std::vector<std::string> command = {BinaryDirectory() + "/bgsync_test_worker"};
    if (!log.empty())
      command.push_back("--log=" + log);
    const int64_t id = InstallServiceWorker(*admin_, origin, absl::StrCat(origin, "/app", ++scopes_, "/"), command);
    EXPECT_NE(id, 0) << origin;
    return id;
  }
  int scopes_ = 0;
  void GrantPeriodic(const std::string& origin) {
    admin::SetPermissionRequest request;
    request.set_origin(origin);
    request.set_periodic(true);
    request.set_setting(admin::SetPermissionRequest::SETTING_GRANTED);
    admin::Empty empty;
    grpc::ClientContext context;
    ASSERT_TRUE(admin_->SetPermission(&context, request, &empty).ok());
  }
  void UnregisterServiceWorker(int64_t id) {
    admin::ServiceWorkerId request;
    request.set_id(id);
    admin::Empty empty;
    grpc::ClientContext context;
    ASSERT_TRUE(admin_->UnregisterServiceWorker(&context, request, &empty).ok());
  }
  int64_t BadMessages() { return GetBrowserStatus(*admin_).bad_messages(); }
  // The raw contents of the profile's registration and service-worker stores (the browser must be stopped).
  std::map<std::string, std::string> DumpStores() {
    std::map<std::string, std::string> all;
    for (const char* store : {"BackgroundSync", "ServiceWorkers"}) {
      absl::StatusOr<std::map<std::string, std::string>> dump = DumpLevelDb(profile_ + "/" + store);
      EXPECT_TRUE(dump.ok()) << dump.status();
      if (dump.ok()) {
        for (auto& [key, value] : *dump)
          all[absl::StrCat(store, "/", key)] = value;
      }
    }
    return all;
  }
};

// 10,000 forged service-worker registration ids — the victim origin's real ids, deleted ids, 0, -1, the int64
// extremes, random values — against every id-taking method. Positive ids get exactly the answer of an unknown id
// (status, message and reply bytes); ids <= 0 are bad messages. The victim's state is byte-identical afterwards,
// in the browser (ListRegistrations) and on disk (the raw LevelDB stores, read after the browser stopped).
TEST_F(HostileRendererTest, ForgedServiceWorkerIdsNeverReachAnotherOrigin) {
  StartBrowser({"--rate-limit", "0"});  // the sweep makes ~60,000 calls on a few sessions
  const int64_t victim_sw = InstallTestWorker(kVictim);
  const int64_t victim_sw2 = InstallTestWorker(kVictim);
  const int64_t victim_deleted = InstallTestWorker(kVictim);
  const int64_t other_deleted = InstallTestWorker("https://gone.example");
  const int64_t evil_sw = InstallTestWorker(kEvil);
  GrantPeriodic(kVictim);
  GrantPeriodic(kEvil);
  {
    RendererSession victim = OpenRendererSession(*admin_, kVictim);
    for (const auto& [sw, tag] : std::vector<std::pair<int64_t, std::string>>{
             {victim_sw, "v-outbox"}, {victim_sw, "v-unresolved"}, {victim_sw2, "v-two"}, {victim_deleted, "v-gone"}}) {
      ASSERT_TRUE(Registered(Call(victim, Method::kRegister, sw, tag))) << tag;
      if (tag != "v-unresolved") {
        ASSERT_EQ(Call(victim, Method::kDidResolve, sw, tag).code, grpc::StatusCode::OK);
      }
    }
    for (int64_t sw : {victim_sw, victim_sw2})
      ASSERT_TRUE(Registered(Call(victim, Method::kPeriodicRegister, sw, "v-news")));
    RendererSession gone = OpenRendererSession(*admin_, "https://gone.example");
    ASSERT_TRUE(Registered(Call(gone, Method::kRegister, other_deleted, "g")));
  }
  UnregisterServiceWorker(victim_deleted);
  UnregisterServiceWorker(other_deleted);
  ASSERT_EQ(StopBrowser(SIGTERM), 0);
  const std::map<std::string, std::string> stores_before = DumpStores();
  ASSERT_FALSE(stores_before.empty());

  StartBrowser({"--rate-limit", "0"});
  const std::string victim_before = RegistrationsOf(*admin_, kVictim);
  ASSERT_NE(victim_before.find("v-unresolved"), std::string::npos);
  const int64_t bad_before = BadMessages();

  // The forged ids.
  std::mt19937_64 random(5);
  std::vector<int64_t> positive;
  for (int i = 0; i < 1000; ++i) {
    positive.push_back(victim_sw);
    positive.push_back(victim_sw2);
    positive.push_back(victim_deleted);
    positive.push_back(other_deleted);
  }
  for (int64_t id = 1; id <= 1000; ++id) {
    if (id != evil_sw)
      positive.push_back(id);
  }
  for (int64_t id : {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max() - 1, int64_t{1} << 31,
                     (int64_t{1} << 32) + victim_sw, (int64_t{1} << 53) + 1})
    positive.push_back(id);
  std::vector<int64_t> nonpositive = {
      0, -1, -2, -victim_sw, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::min() + 1};
  while (nonpositive.size() < 100)
    nonpositive.push_back(-static_cast<int64_t>(random() >> 1) - 1);
  while (positive.size() + nonpositive.size() < 10000) {
    const int64_t id = static_cast<int64_t>(random() >> 1);
    if (id > 0 && id != evil_sw)
      positive.push_back(id);
  }
  ASSERT_EQ(positive.size() + nonpositive.size(), 10000u);

  // What an unknown id gets, per method; the tags are the victim's, to make the forgery as strong as it gets.
  auto victim_tag = [](Method method) {
    return method == Method::kPeriodicRegister || method == Method::kPeriodicUnregister ? "v-news" : "v-unresolved";
  };
  const int64_t kUnknown = 7'777'777'777;
  std::map<Method, CallResult> unknown_answers;
  {
    RendererSession evil = OpenRendererSession(*admin_, kEvil);
    for (Method method : kMethods)
      unknown_answers[method] = Call(evil, method, kUnknown, victim_tag(method));
  }
  const std::map<Method, CallResult>& unknown = unknown_answers;
  EXPECT_EQ(unknown.at(Method::kGetTags).code, grpc::StatusCode::OK);
  mojom::GetRegistrationsReply not_found;
  ASSERT_TRUE(not_found.ParseFromString(unknown.at(Method::kGetTags).reply));
  EXPECT_EQ(not_found.error(), mojom::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND);

  // Positive ids: four attacker sessions (connections) in parallel.
  const absl::Time sweep_start = absl::Now();
  constexpr int kThreads = 4;
  std::atomic<int64_t> calls{0}, mismatches{0};
  absl::Mutex mu;
  std::vector<std::string> examples;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RendererSession evil = OpenRendererSession(*admin_, kEvil);
      for (size_t i = t; i < positive.size(); i += kThreads) {
        for (Method method : kMethods) {
          CallResult result = Call(evil, method, positive[i], victim_tag(method));
          ++calls;
          if (!(result == unknown.at(method))) {
            ++mismatches;
            absl::MutexLock lock(&mu);
            if (examples.size() < 5)
              examples.push_back(absl::StrCat(MethodName(method), "(", positive[i], "): ", result.Describe(),
                                              " vs unknown ", unknown.at(method).Describe()));
          }
        }
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  const absl::Duration positive_time = absl::Now() - sweep_start;
  EXPECT_EQ(mismatches.load(), 0) << absl::StrJoin(examples, "\n");

  // Ids <= 0: each call is a bad message, so each needs a fresh session, which it loses.
  int bad_calls = 0, bad_mismatches = 0;
  for (int64_t id : nonpositive) {
    for (Method method : kMethods) {
      RendererSession evil = OpenRendererSession(*admin_, kEvil);
      CallResult result = Call(evil, method, id, victim_tag(method));
      CallResult after = Call(evil, Method::kGetTags, evil_sw, "");
      ++bad_calls;
      if (result.code != grpc::StatusCode::INVALID_ARGUMENT ||
          result.message != "bad message: service_worker_registration_id <= 0" ||
          after.code != grpc::StatusCode::UNAUTHENTICATED) {
        ++bad_mismatches;
        ADD_FAILURE() << MethodName(method) << "(" << id << "): " << result.Describe() << "; then " << after.Describe();
      }
    }
  }
  EXPECT_EQ(bad_mismatches, 0);
  EXPECT_EQ(BadMessages() - bad_before, bad_calls) << "one bad message counted per impossible call";

  // The victim: byte-identical in the browser and on disk.
  EXPECT_EQ(RegistrationsOf(*admin_, kVictim), victim_before);
  ASSERT_EQ(StopBrowser(SIGTERM), 0);
  const std::map<std::string, std::string> stores_after = DumpStores();
  EXPECT_TRUE(stores_after == stores_before) << "the stored state changed";
  std::printf(
      "figure: forged ids: %zu ids (%zu positive incl. 1000 x each of the victim's 2 real ids and 2 deleted "
      "ids, %zu <= 0) x 6 methods = %lld + %d calls in %.1f s; answers differing from an unknown id's: "
      "%lld; bad messages counted: %d of %d; victim ListRegistrations and raw LevelDB (%zu records) "
      "byte-identical: %s\n",
      positive.size() + nonpositive.size(), positive.size(), nonpositive.size(), static_cast<long long>(calls.load()),
      bad_calls, absl::ToDoubleSeconds(positive_time), static_cast<long long>(mismatches.load()), bad_calls, bad_calls,
      stores_after.size(), stores_after == stores_before ? "yes" : "NO");
}

// Tokens: a revoked one (closed, punished, or from before a restart), 10,000 guessed ones and malformed ones are
// refused (UNAUTHENTICATED) without touching any state. (A token that escaped its process: see the next test.)
TEST_F(HostileRendererTest, ImpersonationWithRevokedOrGuessedTokensIsRefused) {
  StartBrowser();
  const int64_t sw = InstallTestWorker(kMail);
  RendererSession closed = OpenRendererSession(*admin_, kMail);
  ASSERT_EQ(Call(closed, Method::kRegister, sw, "mine").code, grpc::StatusCode::OK);
  CloseRendererSession(*admin_, closed.id);
  EXPECT_EQ(Call(closed, Method::kGetTags, sw, "").code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Call(closed, Method::kRegister, sw, "again").code, grpc::StatusCode::UNAUTHENTICATED);

  RendererSession punished = OpenRendererSession(*admin_, kMail);
  EXPECT_EQ(Call(punished, Method::kGetTags, 0, "").code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Call(punished, Method::kGetTags, sw, "").code, grpc::StatusCode::UNAUTHENTICATED);

  RendererSession before_restart = OpenRendererSession(*admin_, kMail);
  ASSERT_EQ(Call(before_restart, Method::kGetTags, sw, "").code, grpc::StatusCode::OK);
  ASSERT_EQ(StopBrowser(SIGTERM), 0);
  StartBrowser();
  RendererSession fresh = OpenRendererSession(*admin_, kMail);
  // The old token on a channel to the new browser's socket.
  fresh.token = before_restart.token;
  EXPECT_EQ(Call(fresh, Method::kGetTags, sw, "").code, grpc::StatusCode::UNAUTHENTICATED);

  const std::string state_before = RegistrationsOf(*admin_, kMail);
  const int64_t bad_before = BadMessages();
  RendererSession live = OpenRendererSession(*admin_, kMail);
  std::mt19937_64 random(11);
  int refused = 0;
  constexpr int kGuesses = 10000;
  for (int i = 0; i < kGuesses; ++i) {
    std::string guess;
    for (int j = 0; j < 4; ++j)
      guess += absl::StrCat(absl::Hex(random(), absl::kZeroPad16));
    refused += Call(live, i % 2 ? Method::kRegister : Method::kGetTags, sw, "guess", &guess).code ==
                       grpc::StatusCode::UNAUTHENTICATED
                   ? 1
                   : 0;
  }
  std::string flipped = live.token;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  const std::vector<std::string> malformed = {"",
                                              "x",
                                              std::string(64, '0'),
                                              absl::AsciiStrToUpper(live.token),
                                              live.token.substr(0, 63),
                                              live.token + "0",
                                              flipped,
                                              " " + live.token};
  for (const std::string& token : malformed) {
    EXPECT_EQ(Call(live, Method::kGetTags, sw, "", &token).code, grpc::StatusCode::UNAUTHENTICATED)
        << "\"" << token << "\"";
  }
  {
    grpc::ClientContext context;  // no session header at all
    mojom::GetRegistrationsRequest request;
    request.set_service_worker_registration_id(sw);
    mojom::GetRegistrationsReply reply;
    EXPECT_EQ(live.one_shot->GetRegistrations(&context, request, &reply).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(refused, kGuesses);
  EXPECT_EQ(RegistrationsOf(*admin_, kMail), state_before);
  EXPECT_EQ(BadMessages(), bad_before) << "a guess is not a session: nothing to punish";
  EXPECT_EQ(Call(live, Method::kGetTags, sw, "").code, grpc::StatusCode::OK) << "the live session still works";
  std::printf(
      "figure: impersonation: %d/%d random tokens and %zu malformed ones refused (UNAUTHENTICATED); tokens "
      "revoked by close, by a bad message and by a restart refused\n",
      refused, kGuesses, malformed.size());
}

// The status a Connect stream on `channel` with the session token `token` ends with (the worker protocol).
CallResult ConnectWith(const std::shared_ptr<grpc::Channel>& channel, const std::string& token) {
  auto stub = mojom::ServiceWorkerHost::NewStub(channel);
  grpc::ClientContext context;
  context.AddMetadata(kSessionMetadataKey, token);
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  auto stream = stub->Connect(&context);
  mojom::WorkerMessage ready;
  ready.mutable_ready();
  stream->Write(ready);
  stream->WritesDone();
  mojom::BrowserMessage ignored;
  while (stream->Read(&ignored)) {
  }
  grpc::Status status = stream->Finish();
  return {status.error_code(), status.error_message(), ""};
}

// A token read from another process (here a worker that leaks its own; in real life one read from its bootstrap
// descriptor or memory) used on a different connection. Every process the browser launches talks over a private
// channel (a socketpair the browser serves) and its session is bound to it, so the stolen token is refused on
// the shared socket by every method of both renderer-facing services and by the worker protocol, with exactly
// the answer an unknown token gets (status code, message and reply bytes); each refusal is counted in
// stolen_token_refusals and none is a bad message; the victim's registrations, its worker process and its
// stream are untouched. Once the victim's process is gone the token is refused as unknown.
TEST_F(HostileRendererTest, ATokenFromAnotherProcessOnAnotherConnection) {
  StartBrowser();
  const std::string log = dir_ + "/victim.log";
  const int64_t sw = InstallWorker(kVictim, FaultWorkerCommand(log, {"--mode=leak-token"}));
  Page page = OpenPage(kVictim);
  ASSERT_TRUE(Register(page, sw, "victim-secret").has_registration());
  SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE);
  std::string stolen;
  pid_t victim_pid = 0;
  ASSERT_TRUE(Eventually([&] {
    std::vector<FaultWorkerLine> lines = ReadFaultWorkerLog(log);
    for (const FaultWorkerLine& line : lines) {
      if (line.kind == "token") {
        stolen = line.rest;
        victim_pid = line.pid;
      }
    }
    // The victim's own calls work over its channel: its stream is up and its event has arrived.
    return !stolen.empty() && !LinesOf(lines, "start").empty();
  }));
  const std::string victim_before = RegistrationsOf(*admin_, kVictim);
  const admin::BrowserStatus status_before = GetBrowserStatus(*admin_);

  // The attacker: another origin's session, on a connection of its own to the shared socket, presenting the
  // stolen token and, for comparison, a random one.
  RendererSession attacker = OpenRendererSession(*admin_, kEvil);
  std::mt19937_64 random(5);
  std::string unknown;
  for (int i = 0; i < 4; ++i)
    unknown += absl::StrCat(absl::Hex(random(), absl::kZeroPad16));
  int attempts = 0, refused = 0, differing = 0;
  std::string example;
  auto compare = [&](const std::string& what, const CallResult& with_stolen, const CallResult& with_unknown) {
    ++attempts;
    refused += with_stolen.code == grpc::StatusCode::UNAUTHENTICATED ? 1 : 0;
    if (!(with_stolen == with_unknown)) {
      ++differing;
      ADD_FAILURE() << what << ": stolen token " << with_stolen.Describe() << ", unknown token "
                    << with_unknown.Describe();
    }
    if (example.empty())
      example = with_stolen.Describe();
  };
  for (Method method : kMethods) {
    compare(MethodName(method), Call(attacker, method, sw, "victim-secret", &stolen),
            Call(attacker, method, sw, "victim-secret", &unknown));
  }
  compare("Connect", ConnectWith(attacker.channel, stolen), ConnectWith(attacker.channel, unknown));

  const admin::BrowserStatus status_after = GetBrowserStatus(*admin_);
  const int64_t counted = status_after.stolen_token_refusals() - status_before.stolen_token_refusals();
  EXPECT_EQ(refused, attempts);
  EXPECT_EQ(differing, 0);
  EXPECT_EQ(counted, attempts) << "each stolen-token call counted once (the unknown ones not at all)";
  EXPECT_EQ(status_after.bad_messages(), status_before.bad_messages()) << "a stolen token is not a bad message";
  const bool victim_unchanged = RegistrationsOf(*admin_, kVictim) == victim_before;
  EXPECT_TRUE(victim_unchanged);
  const std::vector<int64_t> running(status_after.running_workers().begin(), status_after.running_workers().end());
  EXPECT_EQ(running, std::vector<int64_t>{sw}) << "the victim's worker process still runs";
  EXPECT_TRUE(LinesOf(ReadFaultWorkerLog(log), "stream-end").empty()) << "the victim's stream was ended";

  // Once the victim's process is gone its token is refused, whoever presents it, and no longer counted as stolen.
  ExitWatcher watcher(victim_pid);
  ASSERT_EQ(kill(victim_pid, SIGKILL), 0);
  ASSERT_TRUE(watcher.Wait(kGenerous));
  EXPECT_TRUE(Eventually([&] {
    const int64_t before = GetBrowserStatus(*admin_).stolen_token_refusals();
    const CallResult result = Call(attacker, Method::kGetTags, sw, "", &stolen);
    return result.code == grpc::StatusCode::UNAUTHENTICATED &&
           GetBrowserStatus(*admin_).stolen_token_refusals() == before;
  }));
  std::printf(
      "figure: a token leaked from a launched worker process, presented by another client on its own connection to "
      "the shared socket: %d of %d calls (6 renderer-facing methods + Connect) refused, %d answers differing from "
      "an unknown token's (%s), stolen_token_refusals +%lld, bad messages +%lld, victim registrations unchanged: "
      "%s, victim worker and stream untouched; refused as unknown after the process exited\n",
      refused, attempts, differing, example.c_str(), static_cast<long long>(counted),
      static_cast<long long>(status_after.bad_messages() - status_before.bad_messages()),
      victim_unchanged ? "yes" : "NO");
}

// Impossible input from a renderer process the browser launched: the call fails, the session is revoked, the
// process is killed (measured from the browser's "Bad message" log entry to the process's exit), and it is
// counted.
TEST_F(HostileRendererTest, ImpossibleInputFromALaunchedRendererGetsItKilledWithin100Ms) {
  StartBrowser();
  const int64_t sw = InstallTestWorker(kMail);
  GrantPeriodic(kMail);
  const std::vector<std::string> scripts = {
      absl::StrCat("register ", sw, " %FF"),
      absl::StrCat("register 0 tag"),
      absl::StrCat("tags -1"),
      absl::StrCat("periodic-register ", sw, " %C3%28 1000"),
      absl::StrCat("periodic-unregister 0 tag"),
      absl::StrCat("periodic-tags -9223372036854775808"),
      absl::StrCat("periodic-unregister ", sw, " %ED%A0%80"),
  };
  std::vector<double> kill_ms;
  int64_t bad = BadMessages();
  for (const std::string& script : scripts) {
    admin::OpenWindowRequest window;
    window.set_origin(kMail);
    window.set_client_type(admin::CLIENT_TYPE_WINDOW);
    window.add_script(script);
    window.set_keep_open(true);
    window.set_output_path(dir_ + "/window.out");
    admin::OpenWindowReply opened;
    grpc::ClientContext context;
    ASSERT_TRUE(admin_->OpenWindow(&context, window, &opened).ok());
    ExitWatcher watcher(opened.pid());
    std::optional<absl::Time> exited = watcher.Wait(kGenerous);
    ASSERT_TRUE(exited) << script << ": the renderer was not killed";
    std::optional<absl::Time> reported;
    for (const admin::LogEntry& entry : ReadEventLog(*admin_)) {
      if (entry.event() == "Bad message" &&
          entry.detail().find(absl::StrCat("pid ", opened.pid(), ")")) != std::string::npos) {
        reported = absl::FromUnixMillis(entry.unix_ms());
      }
    }
    ASSERT_TRUE(reported) << script << ": no bad message logged";
    // The log has millisecond resolution: a kill in the same millisecond shows as up to -1 ms.
    kill_ms.push_back(std::max(0.0, absl::ToDoubleMilliseconds(*exited - *reported)));
    EXPECT_LT(kill_ms.back(), 100) << script;
    EXPECT_EQ(BadMessages(), ++bad) << script;
  }
  EXPECT_TRUE(Registrations().empty());
  std::printf(
      "figure: impossible input from %zu launched renderers (%s): bad message -> process gone %.1f ms "
      "median, %.1f ms max (bound 100 ms); counter +1 each\n",
      kill_ms.size(), absl::StrJoin(scripts, "; ").c_str(), Percentile(kill_ms, 50), Percentile(kill_ms, 100));
}

// Every kind of impossible input from a renderer session: INVALID_ARGUMENT, the session revoked (the next call
// is UNAUTHENTICATED), the counter +1. Honest-looking mistakes (a tag one byte too long) are ordinary errors.
TEST_F(HostileRendererTest, ImpossibleInputFailsRevokesTheSessionAndIsCounted) {
  StartBrowser();
  const int64_t sw = InstallTestWorker(kMail);
  GrantPeriodic(kMail);
  struct Case {
    std::string what;
    std::function<grpc::Status(RendererSession&, grpc::ClientContext&)> call;
  };
  auto register_request = [sw](const std::string& tag, int64_t min_interval_ms) {
    mojom::RegisterRequest request;
    request.set_service_worker_registration_id(sw);
    request.mutable_options()->set_tag(tag);
    request.mutable_options()->set_min_interval_ms(min_interval_ms);
    return request;
  };
  const std::vector<Case> cases = {
      {"one-shot Register with a min_interval",
       [&](RendererSession& s, grpc::ClientContext& c) {
         mojom::RegisterReply reply;
         return s.one_shot->Register(&c, register_request("t", 1000), &reply);
       }},
      {"periodic Register with a negative min_interval",
       [&](RendererSession& s, grpc::ClientContext& c) {
         mojom::RegisterReply reply;
         return s.periodic->Register(&c, register_request("t", -1), &reply);
       }},
      {"one-shot Register with a tag that is not UTF-8",
       [&](RendererSession& s, grpc::ClientContext& c) {
         mojom::RegisterReply reply;
         return s.one_shot->Register(&c, register_request("\xC0\x80", 0), &reply);
       }},
      {"periodic Register with a tag that is not UTF-8",
       [&](RendererSession& s, grpc::ClientContext& c) {
         mojom::RegisterReply reply;
         return s.periodic->Register(&c, register_request("\xFF", 5), &reply);
       }},
      {"DidResolveRegistration with a tag that is not UTF-8",
       [&](RendererSession& s, grpc::ClientContext& c) {
         mojom::DidResolveRegistrationRequest request;
         request.set_service_worker_registration_id(sw);
         request.set_tag("\xED\xA0\x80");  // a UTF-16 surrogate
         mojom::DidResolveRegistrationReply reply;
         return s.one_shot->DidResolveRegistration(&c, request, &reply);
       }},
      {"periodic Unregister with a tag that is not UTF-8",
       [&](RendererSession& s, grpc::ClientContext& c) {
         mojom::UnregisterRequest request;
         request.set_service_worker_registration_id(sw);
         request.set_tag("\x80");
         mojom::UnregisterReply reply;
         return s.periodic->Unregister(&c, request, &reply);
       }},
      {"Connect (the worker protocol) on a window session",
       [&](RendererSession& s, grpc::ClientContext& c) {
         std::unique_ptr<mojom::ServiceWorkerHost::Stub> stub = mojom::ServiceWorkerHost::NewStub(s.channel);
         auto stream = stub->Connect(&c);
         mojom::WorkerMessage ready;
         ready.mutable_ready();
         stream->Write(ready);
         stream->WritesDone();
         mojom::BrowserMessage ignored;
         while (stream->Read(&ignored)) {
         }
         return stream->Finish();
       }},
  };
  int64_t bad = BadMessages();
  for (const Case& c : cases) {
    RendererSession session = OpenRendererSession(*admin_, kMail);
    grpc::ClientContext context;
    context.AddMetadata(kSessionMetadataKey, session.token);
    context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
    grpc::Status status = c.call(session, context);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.what << ": " << status.error_message();
    EXPECT_EQ(Call(session, Method::kGetTags, sw, "").code, grpc::StatusCode::UNAUTHENTICATED) << c.what;
    EXPECT_EQ(BadMessages(), ++bad) << c.what;
  }
  EXPECT_TRUE(Registrations().empty());
  std::printf("figure: %zu kinds of impossible input: INVALID_ARGUMENT, session revoked, counted once each\n",
              cases.size());
}

// The tag limit at the exact boundary, in bytes (also across a multi-byte character): 10,240 accepted, 10,241
// TAG_TOO_LONG, an ordinary error that leaves the session alone.
TEST_F(HostileRendererTest, TheTagLimitIsExactly10240Bytes) {
  StartBrowser();
  const int64_t sw = InstallTestWorker(kMail);
  GrantPeriodic(kMail);
  RendererSession session = OpenRendererSession(*admin_, kMail);
  auto error_of = [](const CallResult& result) {
    mojom::RegisterReply reply;
    reply.ParseFromString(result.reply);
    return reply.has_registration() ? mojom::BACKGROUND_SYNC_ERROR_UNSPECIFIED : reply.error();
  };
  std::string two_byte;
  for (int i = 0; i < 5120; ++i)
    two_byte += "\xC3\xA9";  // "é": 5,120 characters, 10,240 bytes
  const std::string two_byte_over = two_byte.substr(0, 10238) + "a" + "\xC3\xA9";  // 10,241 bytes
  for (Method method : {Method::kRegister, Method::kPeriodicRegister}) {
    CallResult at = Call(session, method, sw, std::string(10240, 'a'));
    CallResult over = Call(session, method, sw, std::string(10241, 'a'));
    CallResult multibyte_at = Call(session, method, sw, two_byte);
    CallResult multibyte_over = Call(session, method, sw, two_byte_over);
    EXPECT_EQ(at.code, grpc::StatusCode::OK);
    EXPECT_EQ(error_of(at), mojom::BACKGROUND_SYNC_ERROR_UNSPECIFIED) << MethodName(method) << " 10,240 refused";
    EXPECT_EQ(over.code, grpc::StatusCode::OK);
    EXPECT_EQ(error_of(over), mojom::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG) << MethodName(method);
    EXPECT_EQ(error_of(multibyte_at), mojom::BACKGROUND_SYNC_ERROR_UNSPECIFIED) << MethodName(method);
    EXPECT_EQ(error_of(multibyte_over), mojom::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG) << MethodName(method);
  }
  EXPECT_EQ(Call(session, Method::kGetTags, sw, "").code, grpc::StatusCode::OK) << "an honest error revokes nothing";
  EXPECT_EQ(BadMessages(), 0);
  EXPECT_EQ(Registrations().size(), 4u);  // both 10,240-byte tags of each type
  std::printf(
      "figure: tag limit: 10,240 bytes accepted, 10,241 TAG_TOO_LONG (ASCII and 2-byte UTF-8), one-shot "
      "and periodic\n");
}

// Messages above the configured receive limit (64 KiB) fail with RESOURCE_EXHAUSTED before any handler runs: a
// 65,537-byte request full of bytes that are not UTF-8 (which a handler would punish as a bad message) leaves
// the counter, the log and the session untouched, while a 65,536-byte request reaches the handler.
TEST_F(HostileRendererTest, MessagesAboveTheReceiveLimitAreRejectedBeforeAnyHandlerRuns) {
  StartBrowser();
  const int64_t sw = InstallTestWorker(kMail);
  RendererSession session = OpenRendererSession(*admin_, kMail);
  constexpr size_t kLimit = 64 * 1024;
  auto request_of_size = [sw](size_t size, char filler) {
    mojom::RegisterRequest request;
    request.set_service_worker_registration_id(sw);
    size_t tag = size - 16;
    while (true) {
      request.mutable_options()->set_tag(std::string(tag, filler));
      if (request.ByteSizeLong() >= size)
        break;
      ++tag;
    }
    return request;
  };
  auto send = [&](const mojom::RegisterRequest& request, mojom::RegisterReply* reply) {
    grpc::ClientContext context;
    context.AddMetadata(kSessionMetadataKey, session.token);
    context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
    return session.one_shot->Register(&context, request, reply);
  };
  const mojom::RegisterRequest at_limit = request_of_size(kLimit, 'a');
  ASSERT_EQ(at_limit.ByteSizeLong(), kLimit);
  mojom::RegisterReply reply;
  grpc::Status status = send(at_limit, &reply);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.error(), mojom::BACKGROUND_SYNC_ERROR_TAG_TOO_LONG) << "the handler ran";

  const std::vector<admin::LogEntry> log_before = ReadEventLog(*admin_);
  const mojom::RegisterRequest over_limit = request_of_size(kLimit + 1, '\xFF');
  ASSERT_EQ(over_limit.ByteSizeLong(), kLimit + 1);
  mojom::RegisterReply over_reply;
  grpc::Status over = send(over_limit, &over_reply);
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << over.error_message();
  const mojom::RegisterRequest huge = request_of_size(1 << 20, '\xFF');
  grpc::Status huge_status = send(huge, &over_reply);
  EXPECT_EQ(huge_status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << huge_status.error_message();

  EXPECT_EQ(BadMessages(), 0) << "a handler ran on a message above the limit";
  EXPECT_EQ(ReadEventLog(*admin_).size(), log_before.size());
  EXPECT_EQ(Call(session, Method::kGetTags, sw, "").code, grpc::StatusCode::OK) << "the session was touched";
  EXPECT_TRUE(Registrations().empty());
  std::printf(
      "figure: receive limit: a 65,536-byte request reaches the handler; 65,537 and 1 MiB: "
      "RESOURCE_EXHAUSTED (\"%s\") with no handler run (bad messages 0, log unchanged, session live)\n",
      over.error_message().c_str());
}

// Metadata beyond the configured limit (8 KiB) fails the call before any handler; the session lives on.
TEST_F(HostileRendererTest, OversizedMetadataIsRejected) {
  StartBrowser();
  const int64_t sw = InstallTestWorker(kMail);
  RendererSession session = OpenRendererSession(*admin_, kMail);
  grpc::ClientContext context;
  context.AddMetadata(kSessionMetadataKey, session.token);
  context.AddMetadata("x-padding", std::string(16 * 1024, 'p'));
  context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
  mojom::RegisterRequest request;
  request.set_service_worker_registration_id(sw);
  request.mutable_options()->set_tag("\xFF");  // a bad message, if a handler ever saw it
  mojom::RegisterReply reply;
  grpc::Status status = session.one_shot->Register(&context, request, &reply);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(BadMessages(), 0);
  EXPECT_EQ(Call(session, Method::kGetTags, sw, "").code, grpc::StatusCode::OK);
  std::printf("figure: 16 KiB of metadata: %d \"%s\"; no handler ran\n", static_cast<int>(status.error_code()),
              status.error_message().c_str());
}

// A client that goes away in the middle of its Register: each registration either does not exist or exists,
// unacknowledged, and fires exactly once after the client's session ends.
TEST_F(HostileRendererTest, DisconnectingMidRegisterHasADefinedOutcome) {
  StartBrowser({"--rate-limit", "0"});
  const std::string log = dir_ + "/worker.log";
  const int64_t sw = InstallTestWorker(kMail, log);
  RendererSession session = OpenRendererSession(*admin_, kMail);
  constexpr int kCalls = 200;
  struct Pending {
    grpc::ClientContext context;
    mojom::RegisterRequest request;
    mojom::RegisterReply reply;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Pending>> calls;
  absl::Mutex mu;
  int done = 0;
  for (int i = 0; i < kCalls; ++i) {
    auto call = std::make_unique<Pending>();
    call->context.AddMetadata(kSessionMetadataKey, session.token);
    call->request.set_service_worker_registration_id(sw);
    call->request.mutable_options()->set_tag(absl::StrCat("cut-", i));
    Pending* p = call.get();
    session.one_shot->async()->Register(&p->context, &p->request, &p->reply, [&mu, &done, p](grpc::Status s) {
      absl::MutexLock lock(&mu);
      p->status = std::move(s);
      ++done;
    });
    // Cut the call at a different point each time: at once, or after a few microseconds up to ~2 ms.
    if (i % 4 != 0)
      absl::SleepFor(absl::Microseconds((i % 4) * (i % 7) * 100));
    p->context.TryCancel();
    calls.push_back(std::move(call));
  }
  {
    absl::MutexLock lock(&mu);
    auto all_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return done == kCalls; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_done), kGenerous));
  }
  int answered = 0, cancelled = 0;
  for (const auto& call : calls) {
    answered += call->status.ok() ? 1 : 0;
    cancelled += call->status.error_code() == grpc::StatusCode::CANCELLED ? 1 : 0;
  }
  EXPECT_EQ(answered + cancelled, kCalls);
  std::set<std::string> present;
  for (const admin::Registration& r : Registrations()) {
    present.insert(r.tag());
    EXPECT_EQ(r.state(), "pending") << r.tag();
    EXPECT_FALSE(r.resolved()) << r.tag() << ": acknowledged by nobody";
  }
  for (const auto& call : calls) {
    if (call->status.ok() && call->reply.has_registration()) {
      EXPECT_TRUE(present.count(call->request.options().tag())) << "answered OK but not stored";
    }
  }
  // The client is gone for good: its registrations may fire, and each fires exactly once.
  CloseRendererSession(*admin_, session.id);
  SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE);
  EXPECT_TRUE(Eventually([&] { return Registrations().empty(); }));
  // A cut call may still be stored after the client saw CANCELLED (its request had reached the browser): the
  // outcome is then the same as for one stored before the cut.
  std::multiset<std::string> fired;
  for (const std::string& line : WorkerLog(log))
    fired.insert(line.substr(6, line.find(' ', 6) - 6));  // "event <tag> last_chance=0"
  int fired_twice = 0;
  for (const std::string& tag : fired)
    fired_twice += fired.count(tag) > 1 ? 1 : 0;
  EXPECT_EQ(fired_twice, 0);
  for (const std::string& tag : present)
    EXPECT_EQ(fired.count(tag), 1u) << tag << " was stored but did not fire once";
  for (const auto& call : calls) {
    if (call->status.ok() && call->reply.has_registration()) {
      EXPECT_EQ(fired.count(call->request.options().tag()), 1u) << "answered OK but did not fire once";
    }
  }
  const std::set<std::string> stored(fired.begin(), fired.end());
  std::printf(
      "figure: disconnect mid-Register: %d calls cut (%d answered before the cut, %d cancelled): %zu stored "
      "(%zu of them seen before the session ended, all unacknowledged; each fired exactly once after the session "
      "ended), %zu never stored, none half\n",
      kCalls, answered, cancelled, stored.size(), present.size(), kCalls - stored.size());
}

// The page's session ends between Register and DidResolveRegistration (racing the acknowledgement itself): every
// registration fires exactly once, and an acknowledgement after the end is refused.
TEST_F(HostileRendererTest, ASessionEndingBetweenRegisterAndResolveFiresEachRegistrationOnce) {
  StartBrowser({"--rate-limit", "0"});
  const std::string log = dir_ + "/worker.log";
  const int64_t sw = InstallTestWorker(kMail, log);
  constexpr int kSessions = 20;
  constexpr int kPerSession = 10;
  std::vector<RendererSession> sessions;
  for (int s = 0; s < kSessions; ++s) {
    sessions.push_back(OpenRendererSession(*admin_, kMail));
    for (int i = 0; i < kPerSession; ++i)
      ASSERT_EQ(Call(sessions.back(), Method::kRegister, sw, absl::StrCat("s", s, "-", i)).code, grpc::StatusCode::OK);
  }
  std::atomic<int> refused{0}, acknowledged{0};
  for (int s = 0; s < kSessions; ++s) {
    // The acknowledgements and the end of the session race.
    std::thread resolver([&, s] {
      for (int i = 0; i < kPerSession; ++i) {
        grpc::StatusCode code = Call(sessions[s], Method::kDidResolve, sw, absl::StrCat("s", s, "-", i)).code;
        (code == grpc::StatusCode::OK ? acknowledged : refused)++;
      }
    });
    if (s % 2)
      absl::SleepFor(absl::Microseconds(300));
    CloseRendererSession(*admin_, sessions[s].id);
    resolver.join();
  }
  SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE);
  EXPECT_TRUE(Eventually([&] { return Registrations().empty(); }));
  std::multiset<std::string> fired;
  for (const std::string& line : WorkerLog(log))
    fired.insert(line.substr(6, line.find(' ', 6) - 6));
  int once = 0;
  for (int s = 0; s < kSessions; ++s) {
    for (int i = 0; i < kPerSession; ++i)
      once += fired.count(absl::StrCat("s", s, "-", i)) == 1 ? 1 : 0;
  }
  EXPECT_EQ(once, kSessions * kPerSession);
  EXPECT_EQ(fired.size(), static_cast<size_t>(kSessions * kPerSession));
  EXPECT_EQ(acknowledged + refused, kSessions * kPerSession);
  std::printf(
      "figure: session ended between Register and DidResolveRegistration: %d registrations, %d acks "
      "accepted, %d refused (UNAUTHENTICATED, after the end); each fired exactly once\n",
      kSessions * kPerSession, acknowledged.load(), refused.load());
}

// The service worker is unregistered while Registers for it are arriving: each one is answered OK (before) or
// SERVICE_WORKER_NOT_FOUND (after), and nothing of it is left, in the browser or after a restart.
TEST_F(HostileRendererTest, UnregisteringTheServiceWorkerMidRegisterLeavesNothingBehind) {
  StartBrowser({"--rate-limit", "0"});
  const int64_t sw = InstallTestWorker(kMail);
  const int64_t other = InstallTestWorker(kMail);
  constexpr int kThreads = 4;
  std::atomic<int> ok{0}, not_found{0}, other_errors{0};
  std::atomic<bool> unregistered{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RendererSession session = OpenRendererSession(*admin_, kMail);
      int after = 0;
      for (int i = 0; after < 50; ++i) {
        CallResult result = Call(session, Method::kRegister, sw, absl::StrCat("race-", t, "-", i));
        mojom::RegisterReply reply;
        reply.ParseFromString(result.reply);
        if (result.code == grpc::StatusCode::OK && reply.has_registration()) {
          ++ok;
        } else if (result.code == grpc::StatusCode::OK &&
                   reply.error() == mojom::BACKGROUND_SYNC_ERROR_SERVICE_WORKER_NOT_FOUND) {
          ++not_found;
        } else {
          ++other_errors;
          ADD_FAILURE() << result.Describe();
        }
        if (unregistered)
          ++after;
      }
    });
  }
  ASSERT_TRUE(Eventually([&] { return ok.load() >= 200; }));
  UnregisterServiceWorker(sw);
  unregistered = true;
  for (std::thread& thread : threads)
    thread.join();
  RendererSession session = OpenRendererSession(*admin_, kMail);
  ASSERT_EQ(Call(session, Method::kRegister, other, "survivor").code, grpc::StatusCode::OK);
  auto left_behind = [&] {
    int count = 0;
    for (const admin::Registration& r : Registrations())
      count += r.service_worker_registration_id() == sw ? 1 : 0;
    return count;
  };
  EXPECT_EQ(left_behind(), 0);
  ASSERT_EQ(StopBrowser(SIGTERM), 0);
  absl::StatusOr<std::map<std::string, std::string>> stored = DumpLevelDb(profile_ + "/BackgroundSync");
  ASSERT_TRUE(stored.ok()) << stored.status();
  int stored_race = 0;
  for (const auto& [key, value] : *stored)
    stored_race += (key.find("race-") != std::string::npos || value.find("race-") != std::string::npos) ? 1 : 0;
  EXPECT_EQ(stored_race, 0) << "a registration of the unregistered service worker is still on disk";
  StartBrowser({"--rate-limit", "0"});
  EXPECT_EQ(left_behind(), 0);
  EXPECT_EQ(Registrations().size(), 1u) << "the other service worker's registration is gone";
  EXPECT_EQ(other_errors.load(), 0);
  std::printf(
      "figure: service worker unregistered mid-Register (%d clients): %d answered OK before, %d "
      "SERVICE_WORKER_NOT_FOUND after, %d other answers; left behind in memory, on disk, after restart: 0\n",
      kThreads, ok.load(), not_found.load(), other_errors.load());
}

}  // namespace
}  // namespace bgsync
