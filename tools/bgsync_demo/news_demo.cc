// The Periodic Background Sync story with real processes, as `tools/demo --periodic` runs it:
//   a bgsync_browser on a fresh temporary profile with a one-second periodic minimum (instead of 12 h); a news
//   server on loopback (a real TCP socket, in this process) that publishes a new edition on every request; the
//   news service worker of https://news.example installed, activated and granted "periodic-background-sync"
//   (denied by default, as in Chrome); DevTools-style recording of periodicBackgroundSync started, its events
//   streamed alongside the timeline; a renderer window registers "news" with minInterval 1 s; the worker process
//   refreshes the feed on its interval while online; offline, the refreshes pause and `why` says so; online
//   again, the overdue refresh happens at once; unregister stops them.
// Prints a timeline; exits 0 only if all of that happened.
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tools/bgsync_demo/demo_support.h"

namespace bgsync::demo {
namespace {

constexpr char kOrigin[] = "https://news.example";

// Answers every request with the next edition: "edition N: <headline>\n".
class NewsServer {
 public:
  bool Start() { return server_.Start(); }
  void Stop() { server_.Stop(); }
  int port() const { return server_.port(); }

 private:
  std::optional<std::string> Handle(const std::string& request) {
    if (!absl::StrContains(request, "\n"))
      return std::nullopt;
    static const char* const kHeadlines[] = {"Local bakery wins award",       "Rain expected by noon",
                                             "Library extends opening hours", "Tram line 4 reopens",
                                             "Chess club beats rivals",       "New bridge design unveiled"};
    const int edition = ++editions_;
    return absl::StrCat("edition ", edition, ": ", kHeadlines[(edition - 1) % 6], "\n");
  }

  std::atomic<int> editions_{0};
  LoopbackServer server_{[this](const std::string& request) { return Handle(request); }};
};

class NewsDemo {
 public:
  explicit NewsDemo(std::string dir)
      : dir_(std::move(dir)),
        feed_(dir_ + "/feed"),
        browser_(dir_ + "/profile",
                 {"--no-netlink", "--periodic-min-interval", "1", "--periodic-batch-interval", "0", "--retry-delay",
                  "0.5", "--event-timeout", "10"}) {}

  int Run() {
    if (!server_.Start())
      return Fail("cannot start the news server");
    Say(absl::StrCat("news server listening on 127.0.0.1:", server_.port()));
    if (!browser_.Start())
      return Fail("the browser did not start");
    if (!StartRecording())
      return Fail("could not start DevTools recording");
    if (!browser_.SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE))
      return Fail("network emulation failed");

    sw_ = browser_.InstallWorker(kOrigin, {BinaryDirectory() + "/bgsync_news_worker", "--feed", feed_, "--server",
                                           absl::StrCat(server_.port())});
    if (sw_ == 0)
      return Fail("install failed");
    Say(absl::StrCat("service worker ", sw_, " for ", kOrigin, " installed and activated"));
    admin::SetPermissionRequest grant;
    grant.set_origin(kOrigin);
    grant.set_periodic(true);
    grant.set_setting(admin::SetPermissionRequest::SETTING_GRANTED);
    admin::Empty empty;
    if (!browser_.Call([&](auto& admin, grpc::ClientContext* c) { return admin.SetPermission(c, grant, &empty); }))
      return Fail("could not grant the permission");
    Say("periodic-background-sync granted to https://news.example (as an installed app would be)");

    if (!Page({absl::StrCat("periodic-register ", sw_, " news 1000"), absl::StrCat("periodic-tags ", sw_)}))
      return Fail("the page could not register");

    Say("online: waiting for three refreshes");
    if (!Eventually([&] { return Editions() >= 3; }))
      return Fail("the feed was not refreshed three times");
    PrintFeed();

    Say("connectivity lost (emulated offline)");
    if (!browser_.SetNetwork(admin::SetNetworkEmulationRequest::MODE_OFFLINE))
      return Fail("network emulation failed");
    // An event already in flight may still land; count from when the browser says the registration is blocked.
    if (!Eventually([&] { return Why() == "emulated-offline"; }))
      return Fail("why did not report emulated-offline: " + Why());
    const int before = Editions();
    Say(absl::StrCat("why news: ", Why(), " (", explanation_, ")"));
    absl::SleepFor(absl::Seconds(3));  // the pause is what the demo shows: three intervals without a refresh
    if (Editions() != before)
      return Fail("the feed was refreshed while offline");
    Say("3 s offline: no refresh");

    Say("connectivity returns (emulated online)");
    if (!browser_.SetNetwork(admin::SetNetworkEmulationRequest::MODE_ONLINE))
      return Fail("network emulation failed");
    if (!Eventually([&] { return Editions() > before; }))
      return Fail("no refresh after the network returned");
    PrintFeed();

    if (!Page({absl::StrCat("periodic-unregister ", sw_, " news"), absl::StrCat("periodic-tags ", sw_)}))
      return Fail("the page could not unregister");
    if (!Eventually([&] { return browser_.Registrations().empty(); }))
      return Fail("the registration is still there");
    Eventually([&] { return Why().empty(); });
    absl::SleepFor(absl::Seconds(2));  // the events a registration would have had in this time must not come
    const int after = Editions();
    absl::SleepFor(absl::Seconds(2));
    if (Editions() != after)
      return Fail("refreshed after unregister");
    Say("unregistered: no more refreshes");

    StopRecording();
    std::vector<std::string> names = EventNames();
    for (const char* expected : {"Registered periodicsync", "Got next event delay", "Dispatched periodicsync event",
                                 "periodicsync event completed", "Unregistered periodicsync"}) {
      if (std::find(names.begin(), names.end(), expected) == names.end())
        return Fail(absl::StrCat("the DevTools log lacks \"", expected, "\""));
    }
    Say(absl::StrCat("verified: ", Editions(),
                     " refreshes on the interval while online, none while offline, an overdue one on reconnect, "
                     "none after unregister; ",
                     names.size(), " DevTools events recorded"));
    browser_.Stop();
    server_.Stop();
    return 0;
  }

 private:
  int Fail(const std::string& why) {
    Say("DEMO FAILED: " + why);
    StopRecording();
    browser_.Stop();
    server_.Stop();
    return 1;
  }

  int Editions() {
    std::vector<std::string> lines = absl::StrSplit(ReadFile(feed_), '\n', absl::SkipEmpty());
    return static_cast<int>(lines.size());
  }
  void PrintFeed() {
    std::vector<std::string> lines = absl::StrSplit(ReadFile(feed_), '\n', absl::SkipEmpty());
    for (size_t i = printed_; i < lines.size(); ++i)
      Say("  feed: " + lines[i]);
    printed_ = lines.size();
  }

  // Runs renderer commands in a new window of the origin and prints what it answered.
  bool Page(const std::vector<std::string>& script) {
    const std::string output = absl::StrCat(dir_, "/window", ++windows_, ".out");
    admin::OpenWindowRequest window;
    window.set_origin(kOrigin);
    window.set_client_type(admin::CLIENT_TYPE_WINDOW);
    for (const std::string& line : script)
      window.add_script(line);
    window.set_output_path(output);
    admin::OpenWindowReply opened;
    if (!browser_.Call([&](auto& admin, grpc::ClientContext* c) { return admin.OpenWindow(c, window, &opened); }))
      return false;
    Say(absl::StrCat("page (renderer pid ", opened.pid(), "): ", absl::StrJoin(script, "; ")));
    const bool answered = Eventually([&] {
      std::vector<std::string> lines = absl::StrSplit(ReadFile(output), '\n', absl::SkipEmpty());
      return lines.size() >= script.size();
    });
    for (absl::string_view line : absl::StrSplit(ReadFile(output), '\n', absl::SkipEmpty()))
      Say(absl::StrCat("  page: ", line));
    return answered && !absl::StrContains(ReadFile(output), "Error");
  }

  // The reason `why` gives for "news" ("" when there is no such registration).
  std::string Why() {
    admin::ExplainRequest request;
    request.set_origin(kOrigin);
    request.set_tag("news");
    request.set_type(admin::SYNC_REGISTRATION_TYPE_PERIODIC);
    admin::RegistrationTable table;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
    if (!browser_.admin().Explain(&context, request, &table).ok() || table.registrations().empty())
      return "";
    explanation_ = table.registrations(0).explanation();
    return table.registrations(0).reason();
  }

  bool StartRecording() {
    admin::BackgroundServiceRequest request;
    request.set_service(admin::BACKGROUND_SERVICE_PERIODIC_BACKGROUND_SYNC);
    admin::RecordingState state;
    if (!browser_.Call([&](auto& admin, grpc::ClientContext* c) { return admin.StartRecording(c, request, &state); }))
      return false;
    Say("DevTools: recording periodicBackgroundSync, streaming its events");
    follow_context_ = std::make_unique<grpc::ClientContext>();
    follower_ = std::thread([this] {
      admin::GetBackgroundServiceEventsRequest follow;
      follow.set_service(admin::BACKGROUND_SERVICE_PERIODIC_BACKGROUND_SYNC);
      follow.set_follow(true);
      std::unique_ptr<grpc::ClientReader<admin::BackgroundServiceUpdate>> reader =
          browser_.admin().GetBackgroundServiceEvents(follow_context_.get(), follow);
      admin::BackgroundServiceUpdate update;
      while (reader->Read(&update)) {
        if (!update.has_event())
          continue;
        const admin::BackgroundServiceEvent& e = update.event();
        std::vector<std::string> metadata;
        for (const admin::BackgroundServiceEventMetadata& m : e.event_metadata())
          metadata.push_back(absl::StrCat(m.key(), ": ", m.value()));
        Say(absl::StrCat("  devtools: ", e.event_name(), " \"", e.instance_id(), "\"",
                         metadata.empty() ? "" : absl::StrCat(" {", absl::StrJoin(metadata, ", "), "}")));
        absl::MutexLock lock(&mu_);
        names_.push_back(e.event_name());
      }
      reader->Finish();
    });
    return true;
  }
  void StopRecording() {
    if (!follower_.joinable())
      return;
    follow_context_->TryCancel();
    follower_.join();
  }
  std::vector<std::string> EventNames() {
    absl::MutexLock lock(&mu_);
    return names_;
  }

  const std::string dir_;
  const std::string feed_;
  NewsServer server_;
  DemoBrowser browser_;
  int64_t sw_ = 0;
  int windows_ = 0;
  size_t printed_ = 0;
  std::string explanation_;
  std::unique_ptr<grpc::ClientContext> follow_context_;
  std::thread follower_;
  absl::Mutex mu_;
  std::vector<std::string> names_ ABSL_GUARDED_BY(mu_);
};

}  // namespace
}  // namespace bgsync::demo

int main() {
  signal(SIGPIPE, SIG_IGN);
  std::string dir = (std::filesystem::temp_directory_path() / "bgsync-news-demo-XXXXXX").string();
  if (!mkdtemp(dir.data()))
    return 1;
  int result = bgsync::demo::NewsDemo(dir).Run();
  std::filesystem::remove_all(dir);
  return result;
}
