#include "services/background_sync/session_registry.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace bgsync {

absl::string_view ClientTypeName(ClientType type) {
  switch (type) {
    case ClientType::kWindow:
      return "window";
    case ClientType::kIframe:
      return "iframe";
    case ClientType::kServiceWorker:
      return "service_worker";
  }
  return "unknown";
}

absl::StatusOr<SessionRegistry::Created> SessionRegistry::Create(const Origin& origin,
                                                                 ClientType type,
                                                                 int64_t service_worker_registration_id,
                                                                 pid_t pid,
                                                                 std::string bound_peer) {
  char bytes[32];
  size_t filled = 0;
  while (filled < sizeof(bytes)) {
    ssize_t n = getrandom(bytes + filled, sizeof(bytes) - filled, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return absl::InternalError(absl::StrCat("getrandom: ", strerror(errno)));
    }
    filled += static_cast<size_t>(n);
  }
  Created created;
  created.token = absl::BytesToHexString(absl::string_view(bytes, sizeof(bytes)));
  absl::MutexLock lock(&mu_);
  created.session = Session{next_id_++, origin, type, service_worker_registration_id, pid, std::move(bound_peer)};
  by_token_[created.token] = created.session;
  token_of_[created.session.id] = created.token;
  if (type == ClientType::kWindow)
    ++windows_[origin];
  return created;
}

absl::Status SessionRegistry::SetPid(uint64_t session_id, pid_t pid) {
  absl::MutexLock lock(&mu_);
  auto it = token_of_.find(session_id);
  if (it == token_of_.end())
    return absl::NotFoundError(
        absl::StrCat("session ", session_id, " is not live (revoked before pid ", pid, " was recorded)"));
  by_token_[it->second].pid = pid;
  return absl::OkStatus();
}

std::optional<Session> SessionRegistry::Authenticate(absl::string_view token, absl::string_view peer) {
  absl::MutexLock lock(&mu_);
  auto it = by_token_.find(token);
  if (it == by_token_.end())
    return std::nullopt;
  if (!it->second.bound_peer.empty() && it->second.bound_peer != peer) {
    ++stolen_token_refusals_;
    return std::nullopt;
  }
  return it->second;
}

int64_t SessionRegistry::stolen_token_refusals() {
  absl::MutexLock lock(&mu_);
  return stolen_token_refusals_;
}

bool SessionRegistry::IsLive(uint64_t session_id) {
  absl::MutexLock lock(&mu_);
  return token_of_.contains(session_id);
}

std::optional<Session> SessionRegistry::Revoke(uint64_t session_id) {
  Session session;
  std::vector<std::function<void(const Session&)>> observers;
  {
    absl::MutexLock lock(&mu_);
    auto it = token_of_.find(session_id);
    if (it == token_of_.end())
      return std::nullopt;
    auto node = by_token_.extract(it->second);
    session = node.mapped();
    token_of_.erase(it);
    if (session.type == ClientType::kWindow) {
      if (auto windows = windows_.find(session.origin); windows != windows_.end() && --windows->second == 0)
        windows_.erase(windows);
    }
    observers = observers_;
  }
  for (auto& observer : observers)
    observer(session);
  return session;
}

void SessionRegistry::RevokeProcess(pid_t pid) {
  std::vector<uint64_t> ids;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [token, session] : by_token_) {
      if (session.pid == pid)
        ids.push_back(session.id);
    }
  }
  for (uint64_t id : ids)
    Revoke(id);
}

void SessionRegistry::RevokeBoundTo(absl::string_view peer) {
  if (peer.empty())
    return;
  std::vector<uint64_t> ids;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [token, session] : by_token_) {
      if (session.bound_peer == peer)
        ids.push_back(session.id);
    }
  }
  for (uint64_t id : ids)
    Revoke(id);
}

void SessionRegistry::AddRevokeObserver(std::function<void(const Session&)> observer) {
  absl::MutexLock lock(&mu_);
  observers_.push_back(std::move(observer));
}

std::vector<Session> SessionRegistry::List() {
  absl::MutexLock lock(&mu_);
  std::vector<Session> result;
  for (const auto& [token, session] : by_token_)
    result.push_back(session);
  std::sort(result.begin(), result.end(), [](const Session& a, const Session& b) { return a.id < b.id; });
  return result;
}

bool SessionRegistry::HasWindow(const Origin& origin) {
  absl::MutexLock lock(&mu_);
  return windows_.contains(origin);
}

}  // namespace bgsync
