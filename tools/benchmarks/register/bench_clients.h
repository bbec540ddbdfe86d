// The clients bgsync_bench_register drives its servers with, each on a gRPC connection of its own and made the
// same way for the baselines and the browser: the channel arguments of a renderer's ConnectToBrowser
// (renderer/browser_channel.cc), the callback API, one AsyncCall per call (load_drivers.h).
//
// Thread-safety: the AsyncCalls may be started from any thread, also from a previous call's `done`; the objects
// are created and destroyed by one thread, after their calls have finished.
#ifndef TOOLS_BENCHMARKS_REGISTER_BENCH_CLIENTS_H_
#define TOOLS_BENCHMARKS_REGISTER_BENCH_CLIENTS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tools/benchmarks/register/load_drivers.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace bgsync {

class SyncManager;

namespace regbench {

// A channel to "unix:" + socket_path with ConnectToBrowser's arguments (64 KiB messages, no proxy) and a
// connection of its own (a local subchannel pool: gRPC would otherwise share one connection between channels
// with equal arguments).
std::shared_ptr<grpc::Channel> OwnConnection(const std::string& socket_path);

// A unique tag for each call of the process: "t<n>".
std::string NextTag();

// The key and record bytes the browser's store writes for a new one-shot registration of `tag` on
// `sw_registration_id` of `origin` (SyncRegistrationStore::EncodeKey / EncodeRecord).
std::pair<std::string, std::string> RegistrationRecord(const std::string& origin,
                                                       int64_t sw_registration_id,
                                                       const std::string& tag);

// One client of a BaselineService server (baseline.proto).
class BaselineClient {
 public:
  explicit BaselineClient(const std::string& socket_path);
  ~BaselineClient();

  // Echo with a payload of `payload_bytes` bytes.
  AsyncCall Echo(int payload_bytes);
  // Put of the record a Register of a fresh tag would store for `origin` and `sw_registration_id`.
  AsyncCall Put(const std::string& origin, int64_t sw_registration_id);

  // Blocks until the server answers an Echo (it may still be starting), up to `seconds`. False on timeout.
  bool WaitUntilServing(int seconds);

 private:
  struct State;
  const std::unique_ptr<State> state_;
};

// One renderer client: a window session of an origin on its own connection, with the page's SyncManager (the
// renderer stub, renderer/sync_manager.h) for each of its service-worker registrations.
class RendererClient {
 public:
  // `service_worker_ids` must not be empty; every one is active.
  RendererClient(const std::string& socket_path, const std::string& token, std::vector<int64_t> service_worker_ids);
  // Waits for the calls in flight (each SyncManager's acknowledgements included).
  ~RendererClient();

  // SyncManager::Register of a fresh tag, on the service-worker registrations in turn; `done` runs when the
  // Register is answered (the page's promise settles), before the DidResolveRegistration the SyncManager then
  // sends, with ok = resolved.
  AsyncCall Register();
  // The Register call alone, on the generated stub the SyncManager uses (mojom::OneShotBackgroundSyncService,
  // with the session metadata): a fresh tag on the service-worker registrations in turn, no acknowledgement (the
  // registrations wait for one until the session ends). `done` gets ok = the reply holds the registration.
  AsyncCall RegisterCallOnly();
  // Blocks until every call started so far has finished, the acknowledgements included.
  void WaitForPendingCalls();

 private:
  struct Stub;

  const std::string token_;
  const std::vector<int64_t> service_worker_ids_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Stub> stub_;
  std::vector<std::unique_ptr<SyncManager>> managers_;
  std::atomic<uint64_t> next_{0};
};

}  // namespace regbench
}  // namespace bgsync

#endif  // TOOLS_BENCHMARKS_REGISTER_BENCH_CLIENTS_H_
