// Follows the Linux kernel's links, addresses and default routes over a NETLINK_ROUTE socket and reports when
// the machine's connectivity, as spec.md decision 8 defines it, flips.
#ifndef BROWSER_CONNECTIVITY_NETLINK_NETWORK_MONITOR_H_
#define BROWSER_CONNECTIVITY_NETLINK_NETWORK_MONITOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "browser/connectivity/netlink_network_model.h"

namespace bgsync {

// "Online" is defined, and the kernel's unannounced route flushes are modelled, by NetlinkNetworkModel
// (netlink_network_model.h). When the kernel drops notifications because the socket is full (ENOBUFS), the
// monitor discards everything queued and dumps links, addresses and routes again.
//
// Thread-safety: IsOnline() may be called from any thread. The monitor reads the socket on a thread of its own.
class NetlinkNetworkMonitor {
 public:
  // Receives the new state each time the computed state flips: never for the state Start() found, never twice
  // in a row with the same value, and not at all for messages read together that change the state and change it
  // back. Runs on the monitor's thread; no messages are read while it runs. It may call IsOnline(), which
  // already returns `online`; it must not destroy the monitor. Must not be empty.
  using OnChange = std::function<void(bool online)>;

  // Opens a NETLINK_ROUTE socket in the network namespace of the calling thread (so a thread that has called
  // setns() watches that namespace; the monitor's own thread does not matter), subscribes to link, IPv4/IPv6
  // address and IPv4/IPv6 route notifications, dumps the current links, addresses and routes, and then follows
  // notifications on a new thread, calling `on_change` for each flip. Blocks until the dump is done, so
  // IsOnline() is accurate when Start() returns.
  // Errors: the failing system call with its errno text (socket, bind, eventfd, sendto, recvmsg, poll), or the
  // errno with which the kernel refused or ended a dump. Once Start() has returned, such an error (the kernel
  // gives no cause for one) ends the process with a message: connectivity would otherwise go stale unnoticed.
  static absl::StatusOr<std::unique_ptr<NetlinkNetworkMonitor>> Start(OnChange on_change);

  NetlinkNetworkMonitor(const NetlinkNetworkMonitor&) = delete;
  NetlinkNetworkMonitor& operator=(const NetlinkNetworkMonitor&) = delete;

  // Stops the thread promptly (it is woken through an eventfd) and joins it; no callback runs after this
  // returns. Must not be called from `on_change`.
  ~NetlinkNetworkMonitor();

  // The state after the last message the monitor has processed: the state found by Start(), or the value most
  // recently passed to `on_change` (updated just before that call).
  bool IsOnline();

 private:
  explicit NetlinkNetworkMonitor(OnChange on_change);

  // The monitor's thread: waits for messages and reports flips until the destructor signals stop_fd_.
  void Run();
  // Blocks until the socket is readable (true) or stop_fd_ is signalled (false).
  absl::StatusOr<bool> WaitForMessages();
  // Reads and handles every datagram queued on the socket.
  absl::Status ReadAvailable();
  absl::Status HandleDatagram(const uint8_t* data, size_t length);
  // Forgets the model and starts the dump sequence: links, then addresses, then routes.
  absl::Status StartResync();
  absl::Status SendDumpRequest(uint16_t type);
  // The dump in flight has ended: requests the next one, or starts over if the last was inconsistent.
  absl::Status FinishDump();
  // Calls on_change_ if the model's state differs from the last one reported.
  void ReportIfChanged();
  bool Syncing() const { return dump_ != 0 || discarding_; }

  // Constant after Start() has returned.
  const OnChange on_change_;
  int socket_fd_ = -1;
  int stop_fd_ = -1;  // an eventfd
  uint32_t port_id_ = 0;

  // Used only by Start() until it creates thread_, then only by thread_.
  NetlinkNetworkModel model_;
  std::vector<uint8_t> buffer_;
  uint16_t dump_ = 0;  // the RTM_GET* dump in flight, or 0
  uint32_t dump_seq_ = 0;
  uint32_t last_seq_ = 0;
  bool dump_interrupted_ = false;  // a reply carried NLM_F_DUMP_INTR: dump again when this sequence ends
  bool discarding_ = false;        // notifications were lost: drop what is queued, then dump again

  absl::Mutex mu_;
  bool online_ ABSL_GUARDED_BY(mu_) = false;

  std::thread thread_;  // set by Start()
};

}  // namespace bgsync

#endif  // BROWSER_CONNECTIVITY_NETLINK_NETWORK_MONITOR_H_
