// The fixture of the end-to-end tests with real processes: a bgsync_browser process on a temporary profile
// (found next to the test binary), driven as admin (admin.sock), with the test acting as a page (a window session
// over browser.sock). Waits are on events or on polled state with generous deadlines; nothing depends on timing.
// Used by browser_e2e_test.cc (the C++ worker) and node_worker_e2e_test.cc (a worker written with Node's gRPC).
#ifndef TEST_BROWSER_TEST_FIXTURE_H_
#define TEST_BROWSER_TEST_FIXTURE_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "browser/admin/admin.grpc.pb.h"
#include "browser/process/process_launcher.h"
#include "gtest/gtest.h"
#include "public/mojom/background_sync.grpc.pb.h"

namespace bgsync {

// Every wait of these tests.
inline constexpr absl::Duration kGenerous = absl::Seconds(60);

// The directory of the running test binary (e.g. out/Default), where the browser and worker binaries are.
std::string BinaryDirectory();

// The whole file; empty if it cannot be read.
std::string ReadFile(const std::string& path);

// Polls `condition` until it holds or a generous deadline passes.
template <typename Condition>
bool Eventually(Condition condition) {
  const absl::Time deadline = absl::Now() + kGenerous;
  while (!condition()) {
    if (absl::Now() > deadline)
      return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

class BrowserTestFixture : public ::testing::Test {
 protected:
  // A fresh temporary directory (dir_) holding the profile; removed, with the browser killed, at the end.
  void SetUp() override;
  void TearDown() override;

  // Starts bgsync_browser on profile_, offline, without netlink, with short retry delays (0.2 s, factor 1) and a
  // long worker idle timeout; `extra` flags follow (a repeated flag overrides). Returns once the admin endpoint
  // answers, with admin_ connected to it.
  void StartBrowser(std::vector<std::string> extra = {});
  // Stops the browser with `signal`; returns its wait status (-1 when none runs).
  int StopBrowser(int signal);

  // Installs and activates a service worker for `origin` (scope: origin + "/") whose process runs `command`.
  // Returns its registration id.
  int64_t InstallWorker(const std::string& origin, std::vector<std::string> command);

  // A page: a window session of an origin, opened through the admin endpoint.
  struct Page {
    std::string token;
    std::unique_ptr<mojom::OneShotBackgroundSyncService::Stub> stub;
  };
  Page OpenPage(const std::string& origin);
  // SyncManager.register(tag) from `page`; with `resolve`, acknowledges a success (DidResolveRegistration) as a
  // page does once it has the result.
  mojom::RegisterReply Register(Page& page, int64_t sw, const std::string& tag, bool resolve = true);

  void SetNetwork(admin::SetNetworkEmulationRequest::Mode mode);
  // Every sync registration in the browser (empty if the admin call fails).
  std::vector<admin::Registration> Registrations();
  // The non-empty lines of a worker's log file.
  std::vector<std::string> WorkerLog(const std::string& path);

  const std::string kMail = "https://mail.example";
  std::string dir_;
  std::string profile_;
  std::string runtime_dir_;  // the running (or last) browser's runtime directory, from <profile>/RuntimeDirectory
  ProcessLauncher launcher_;
  pid_t browser_pid_ = 0;
  std::shared_ptr<absl::Notification> browser_exited_;
  std::shared_ptr<int> browser_status_;
  std::unique_ptr<admin::BrowserAdmin::Stub> admin_;
};

}  // namespace bgsync

#endif  // TEST_BROWSER_TEST_FIXTURE_H_
