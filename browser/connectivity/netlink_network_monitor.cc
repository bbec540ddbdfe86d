#include "browser/connectivity/netlink_network_monitor.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace bgsync {
namespace {

constexpr uint32_t kGroups =
    RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;

// The kernel builds dump replies of at most 32 KiB. A larger datagram is lost, and the buffer grows to fit it.
constexpr size_t kReceiveBufferBytes = 64 * 1024;

// A larger socket buffer makes overflow, and the full re-dump it costs, rarer. The kernel doubles the value and
// caps it at net.core.rmem_max.
constexpr int kSocketBufferBytes = 1 << 20;

constexpr size_t Align(size_t length) {
  return (length + NLMSG_ALIGNTO - 1) & ~static_cast<size_t>(NLMSG_ALIGNTO - 1);
}
constexpr size_t kMessageHeaderBytes = Align(sizeof(nlmsghdr));

std::optional<int32_t> ReadI32(const uint8_t* data, size_t size) {
  if (size < sizeof(int32_t))
    return std::nullopt;
  int32_t value;
  std::memcpy(&value, data, sizeof(value));
  return value;
}

const char* DumpName(uint16_t type) {
  switch (type) {
    case RTM_GETLINK:
      return "RTM_GETLINK";
    case RTM_GETADDR:
      return "RTM_GETADDR";
    default:
      return "RTM_GETROUTE";
  }
}

[[noreturn]] void Fail(const absl::Status& status) {
  std::fprintf(stderr, "NetlinkNetworkMonitor: %s\n", status.ToString().c_str());
  std::abort();
}

}  // namespace

absl::StatusOr<std::unique_ptr<NetlinkNetworkMonitor>> NetlinkNetworkMonitor::Start(OnChange on_change) {
  std::unique_ptr<NetlinkNetworkMonitor> monitor(new NetlinkNetworkMonitor(std::move(on_change)));
  monitor->socket_fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (monitor->socket_fd_ < 0)
    return absl::ErrnoToStatus(errno, "socket(AF_NETLINK, NETLINK_ROUTE)");
  // Best effort: with the default size the monitor still works, it re-dumps more often.
  const int buffer_bytes = kSocketBufferBytes;
  (void)setsockopt(monitor->socket_fd_, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));

  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = kGroups;
  if (bind(monitor->socket_fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0)
    return absl::ErrnoToStatus(errno, "bind(NETLINK_ROUTE)");
  socklen_t local_size = sizeof(local);
  if (getsockname(monitor->socket_fd_, reinterpret_cast<sockaddr*>(&local), &local_size) != 0)
    return absl::ErrnoToStatus(errno, "getsockname(NETLINK_ROUTE)");
  monitor->port_id_ = local.nl_pid;

  monitor->stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (monitor->stop_fd_ < 0)
    return absl::ErrnoToStatus(errno, "eventfd");

  absl::Status status = monitor->StartResync();
  while (status.ok() && monitor->Syncing()) {
    absl::StatusOr<bool> readable = monitor->WaitForMessages();
    if (!readable.ok())
      return readable.status();
    status = monitor->ReadAvailable();
  }
  if (!status.ok())
    return status;
  {
    absl::MutexLock lock(&monitor->mu_);
    monitor->online_ = monitor->model_.IsOnline();
  }
  NetlinkNetworkMonitor* raw = monitor.get();
  monitor->thread_ = std::thread([raw] { raw->Run(); });
  return monitor;
}

NetlinkNetworkMonitor::NetlinkNetworkMonitor(OnChange on_change)
    : on_change_(std::move(on_change)), buffer_(kReceiveBufferBytes) {}

NetlinkNetworkMonitor::~NetlinkNetworkMonitor() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    while (write(stop_fd_, &one, sizeof(one)) < 0) {
      if (errno != EINTR)
        Fail(absl::ErrnoToStatus(errno, "write(eventfd)"));
    }
    thread_.join();
  }
  if (socket_fd_ >= 0)
    close(socket_fd_);
  if (stop_fd_ >= 0)
    close(stop_fd_);
}

bool NetlinkNetworkMonitor::IsOnline() {
  absl::MutexLock lock(&mu_);
  return online_;
}

void NetlinkNetworkMonitor::Run() {
  for (;;) {
    absl::StatusOr<bool> readable = WaitForMessages();
    if (!readable.ok())
      Fail(readable.status());
    if (!*readable)
      return;
    absl::Status status = ReadAvailable();
    if (!status.ok())
      Fail(status);
    if (!Syncing())
      ReportIfChanged();
  }
}

absl::StatusOr<bool> NetlinkNetworkMonitor::WaitForMessages() {
  for (;;) {
    pollfd fds[2] = {{socket_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return absl::ErrnoToStatus(errno, "poll");
    }
    if (fds[1].revents != 0)
      return false;
    // POLLERR too: the pending error (ENOBUFS) is collected by recvmsg().
    if (fds[0].revents != 0)
      return true;
  }
}

absl::Status NetlinkNetworkMonitor::ReadAvailable() {
  for (;;) {
    sockaddr_nl sender{};
    iovec vector{buffer_.data(), buffer_.size()};
    msghdr message{};
    message.msg_name = &sender;
    message.msg_namelen = sizeof(sender);
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    // With MSG_TRUNC the result is the datagram's full length, even when it did not fit.
    const ssize_t received = recvmsg(socket_fd_, &message, MSG_DONTWAIT | MSG_TRUNC);
    if (received < 0) {
      const int error = errno;
      if (error == EINTR)
        continue;
      if (error == ENOBUFS) {
        // The kernel dropped notifications: nothing queued can be trusted to be complete any more.
        discarding_ = true;
        continue;
      }
      if (error != EAGAIN && error != EWOULDBLOCK)
        return absl::ErrnoToStatus(error, "recvmsg(NETLINK_ROUTE)");
      // The queue is empty. Once no dump of ours is running either, everything stale has been dropped.
      if (discarding_ && dump_ == 0) {
        discarding_ = false;
        return StartResync();
      }
      return absl::OkStatus();
    }
    if (sender.nl_pid != 0)
      continue;  // another process, not the kernel
    if (static_cast<size_t>(received) > buffer_.size()) {
      buffer_.resize(static_cast<size_t>(received));
      discarding_ = true;
      continue;
    }
    absl::Status status = HandleDatagram(buffer_.data(), static_cast<size_t>(received));
    if (!status.ok())
      return status;
  }
}

absl::Status NetlinkNetworkMonitor::HandleDatagram(const uint8_t* data, size_t length) {
  while (length > 0) {
    nlmsghdr header;
    if (length < sizeof(header)) {
      discarding_ = true;
      break;
    }
    std::memcpy(&header, data, sizeof(header));
    if (header.nlmsg_len < kMessageHeaderBytes || header.nlmsg_len > length) {
      discarding_ = true;
      break;
    }
    const uint8_t* payload = data + kMessageHeaderBytes;
    const size_t payload_size = header.nlmsg_len - kMessageHeaderBytes;
    const bool reply = dump_ != 0 && header.nlmsg_pid == port_id_ && header.nlmsg_seq == dump_seq_;
    if (reply && (header.nlmsg_flags & NLM_F_DUMP_INTR))
      dump_interrupted_ = true;

    if (header.nlmsg_type == NLMSG_DONE) {
      if (reply) {
        // The payload, when there is one, is the dump's final status (0 or a negative errno).
        const int error = ReadI32(payload, payload_size).value_or(0);
        if (error != 0 && !discarding_)
          return absl::ErrnoToStatus(-error, absl::StrCat(DumpName(dump_), " dump failed"));
        absl::Status status = FinishDump();
        if (!status.ok())
          return status;
      }
    } else if (header.nlmsg_type == NLMSG_ERROR) {
      const int error = ReadI32(payload, payload_size).value_or(0);
      if (reply && error != 0) {
        // ENOBUFS: the dump could not start because the socket was full (it may still run when we read);
        // EBUSY: an abandoned dump of ours is still running. Both clear up once the queue has been drained.
        if (-error != ENOBUFS && -error != EBUSY)
          return absl::ErrnoToStatus(-error, absl::StrCat(DumpName(dump_), " dump refused"));
        discarding_ = true;
        dump_ = 0;
      }
    } else if (header.nlmsg_type == NLMSG_OVERRUN) {
      discarding_ = true;
    } else if (!discarding_) {
      model_.Apply(header.nlmsg_type, header.nlmsg_flags, payload, payload_size);
    }

    const size_t step = Align(header.nlmsg_len);
    if (step >= length)
      break;
    data += step;
    length -= step;
  }
  return absl::OkStatus();
}

absl::Status NetlinkNetworkMonitor::StartResync() {
  model_.Clear();
  dump_interrupted_ = false;
  return SendDumpRequest(RTM_GETLINK);
}

absl::Status NetlinkNetworkMonitor::FinishDump() {
  if (discarding_) {
    // ReadAvailable() starts over once the queue is empty.
    dump_ = 0;
    return absl::OkStatus();
  }
  if (dump_interrupted_)
    return StartResync();
  switch (dump_) {
    case RTM_GETLINK:
      return SendDumpRequest(RTM_GETADDR);
    case RTM_GETADDR:
      return SendDumpRequest(RTM_GETROUTE);
    default:
      dump_ = 0;
      return absl::OkStatus();
  }
}

absl::Status NetlinkNetworkMonitor::SendDumpRequest(uint16_t type) {
  // The body is an all-zero ifinfomsg, ifaddrmsg or rtmsg: family AF_UNSPEC, no filter.
  const size_t body_bytes = type == RTM_GETLINK   ? sizeof(ifinfomsg)
                            : type == RTM_GETADDR ? sizeof(ifaddrmsg)
                                                  : sizeof(rtmsg);
  alignas(nlmsghdr) uint8_t request[kMessageHeaderBytes + sizeof(ifinfomsg)] = {};
  nlmsghdr header{};
  header.nlmsg_len = static_cast<uint32_t>(kMessageHeaderBytes + body_bytes);
  header.nlmsg_type = type;
  header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  header.nlmsg_seq = ++last_seq_;
  header.nlmsg_pid = port_id_;
  std::memcpy(request, &header, sizeof(header));

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  while (sendto(socket_fd_, request, header.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0) {
    if (errno != EINTR)
      return absl::ErrnoToStatus(errno, absl::StrCat("sendto(", DumpName(type), ")"));
  }
  dump_ = type;
  dump_seq_ = header.nlmsg_seq;
  return absl::OkStatus();
}

void NetlinkNetworkMonitor::ReportIfChanged() {
  const bool online = model_.IsOnline();
  {
    absl::MutexLock lock(&mu_);
    if (online == online_)
      return;
    online_ = online;
  }
  on_change_(online);
}

}  // namespace bgsync
