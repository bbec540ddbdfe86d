#include "browser/service_worker/service_worker_registry.h"

#include <cinttypes>
#include <limits>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "browser/service_worker/proto/service_worker_record.pb.h"
#include "components/background_sync/storage_key_id.h"

namespace bgsync {
namespace {

constexpr char kMetaPrefix[] = "w:meta:";
constexpr char kSchemaVersionKey[] = "w:meta:schema_version";
constexpr char kNextIdKey[] = "w:meta:next_id";
constexpr char kRegistrationPrefix[] = "w:reg:";
constexpr int64_t kMaxId = std::numeric_limits<int64_t>::max();

using Record = storage::ServiceWorkerRecord;

std::string RegistrationKey(int64_t id) {
  return absl::StrCat(kRegistrationPrefix, EncodeStorageKeyId(id));
}

// The id a "w:reg:" key names, if it is spelled exactly as RegistrationKey spells ids (any other spelling is not a
// key this registry would ever write or overwrite). May be <= 0 for keys no registration can have.
std::optional<int64_t> IdOfKey(absl::string_view key) {
  const absl::string_view prefix = kRegistrationPrefix;
  if (key.substr(0, prefix.size()) != prefix)
    return std::nullopt;
  return DecodeStorageKeyId(key.substr(prefix.size()));
}

absl::Status NotFound(int64_t id) {
  return absl::NotFoundError(absl::StrCat("no service worker registration with id ", id));
}

// `status` with what was being done in front of its message, keeping its code.
absl::Status Annotate(const absl::Status& status, absl::string_view doing) {
  return absl::Status(status.code(), absl::StrCat(doing, ": ", status.message()));
}

// The checks every registration passes, both from Install (untrusted input) and from disk.
absl::Status ValidateRegistration(const Origin& origin,
                                  const std::string& scope,
                                  const std::vector<std::string>& worker_command) {
  const std::string serialized_origin = origin.Serialize();
  if (!origin.IsPotentiallyTrustworthy()) {
    return absl::InvalidArgumentError(absl::StrCat("origin \"", serialized_origin,
                                                   "\" is not potentially trustworthy; service workers need https "
                                                   "or a local host"));
  }
  const std::string scope_prefix = serialized_origin + "/";
  if (scope.compare(0, scope_prefix.size(), scope_prefix) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("scope \"", scope, "\" is not within origin \"", serialized_origin,
                                                   "\" (it must start with \"", scope_prefix, "\")"));
  }
  for (char c : scope) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat("scope \"", absl::CHexEscape(scope), "\" contains whitespace or a control character"));
    }
    if (c == '#')
      return absl::InvalidArgumentError(absl::StrCat("scope \"", scope, "\" contains a fragment"));
  }
  if (worker_command.empty())
    return absl::InvalidArgumentError("worker command is empty");
  if (worker_command.front().empty())
    return absl::InvalidArgumentError("worker command argv[0] (the program) is empty");
  for (size_t i = 0; i < worker_command.size(); ++i) {
    if (worker_command[i].find('\0') != std::string::npos)
      return absl::InvalidArgumentError(absl::StrCat("worker command argv[", i, "] contains a NUL byte"));
  }
  return absl::OkStatus();
}

std::string EncodeRecord(const ServiceWorkerRegistration& registration) {
  Record record;
  record.set_id(registration.id);
  record.set_origin(registration.origin.Serialize());
  record.set_scope(registration.scope);
  for (const std::string& arg : registration.worker_command)
    record.add_worker_command(arg);
  record.set_state(registration.state == ServiceWorkerState::kActive ? Record::ACTIVE : Record::INSTALLING);
  return record.SerializeAsString();
}

// Decodes and validates the record stored under the key of `id`. Errors: kDataLoss with the reason.
absl::StatusOr<ServiceWorkerRegistration> DecodeRecord(int64_t id, const std::string& value) {
  if (id <= 0)
    return absl::DataLossError(absl::StrCat("id ", id, " in key is not positive"));
  Record record;
  if (!record.ParseFromString(value))
    return absl::DataLossError("record does not parse");
  if (record.id() != id)
    return absl::DataLossError(absl::StrCat("record id ", record.id(), " does not match key id ", id));
  ServiceWorkerRegistration registration;
  registration.id = id;
  absl::StatusOr<Origin> origin = Origin::Parse(record.origin());
  if (!origin.ok())
    return absl::DataLossError(absl::StrCat("bad origin: ", origin.status().message()));
  registration.origin = *std::move(origin);
  registration.scope = record.scope();
  registration.worker_command.assign(record.worker_command().begin(), record.worker_command().end());
  switch (record.state()) {
    case Record::INSTALLING:
      registration.state = ServiceWorkerState::kInstalling;
      break;
    case Record::ACTIVE:
      registration.state = ServiceWorkerState::kActive;
      break;
    default:
      return absl::DataLossError(absl::StrCat("unknown state ", static_cast<int>(record.state())));
  }
  absl::Status valid = ValidateRegistration(registration.origin, registration.scope, registration.worker_command);
  if (!valid.ok())
    return absl::DataLossError(valid.message());
  return registration;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServiceWorkerRegistry>> ServiceWorkerRegistry::Open(StorageBackend* backend,
                                                                                   WindowClientQuery has_window) {
  absl::StatusOr<StorageBackend::KeyValues> meta = backend->ReadPrefix(kMetaPrefix);
  if (!meta.ok())
    return Annotate(meta.status(), "reading service-worker registry metadata");
  absl::StatusOr<StorageBackend::KeyValues> records = backend->ReadPrefix(kRegistrationPrefix);
  if (!records.ok())
    return Annotate(records.status(), "reading service-worker registrations");

  std::optional<std::string> schema_version;
  std::optional<std::string> stored_next_id;
  for (const auto& [key, value] : *meta) {
    if (key == kSchemaVersionKey)
      schema_version = value;
    else if (key == kNextIdKey)
      stored_next_id = value;
  }

  int64_t next_id = 1;
  if (!schema_version) {
    if (!records->empty() || stored_next_id) {
      return absl::FailedPreconditionError(
          "service-worker registry has data but no schema version; refusing to guess its format");
    }
    StorageBatch batch;
    batch.Put(kSchemaVersionKey, absl::StrCat(kServiceWorkerSchemaVersion));
    batch.Put(kNextIdKey, absl::StrCat(next_id));
    absl::Status status = CommitAndWait(*backend, std::move(batch), Durability::kDurable);
    if (!status.ok())
      return Annotate(status, "initializing the service-worker registry");
  } else {
    int version = 0;
    if (!absl::SimpleAtoi(*schema_version, &version) || version != kServiceWorkerSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat("service-worker registry has schema version \"",
                                                        *schema_version, "\"; this build reads version ",
                                                        kServiceWorkerSchemaVersion));
    }
    if (!stored_next_id || !absl::SimpleAtoi(*stored_next_id, &next_id) || next_id < 1) {
      return absl::DataLossError(absl::StrCat("service-worker registry id counter (\"", kNextIdKey,
                                              "\") is missing or malformed; refusing to open, as ids could be reused"));
    }
  }

  std::map<int64_t, ServiceWorkerRegistration> registrations;
  absl::flat_hash_map<std::string, int64_t> id_by_scope;
  std::vector<QuarantinedRecord> quarantined;
  int64_t counter_needed = next_id;
  for (const auto& [key, value] : *records) {
    std::optional<int64_t> id = IdOfKey(key);
    if (!id) {
      quarantined.push_back({key, "malformed key"});
      continue;
    }
    // Even an undecodable record keeps its id: a later Install must not overwrite it.
    if (*id > 0 && *id >= counter_needed)
      counter_needed = *id == kMaxId ? kMaxId : *id + 1;
    absl::StatusOr<ServiceWorkerRegistration> registration = DecodeRecord(*id, value);
    if (!registration.ok()) {
      quarantined.push_back({key, std::string(registration.status().message())});
      continue;
    }
    auto [it, inserted] = id_by_scope.emplace(registration->scope, *id);
    if (!inserted) {
      quarantined.push_back({key, absl::StrCat("scope is already registered by id ", it->second)});
      continue;
    }
    registrations.emplace(*id, *std::move(registration));
  }

  if (counter_needed != next_id) {
    // The counter is behind the records (it cannot be with this build's writes, but disks and older builds lie).
    StorageBatch batch;
    batch.Put(kNextIdKey, absl::StrCat(counter_needed));
    absl::Status status = CommitAndWait(*backend, std::move(batch), Durability::kDurable);
    if (!status.ok())
      return Annotate(status, "advancing the service-worker id counter");
    next_id = counter_needed;
  }

  return std::unique_ptr<ServiceWorkerRegistry>(
      new ServiceWorkerRegistry(backend, std::move(has_window), next_id, std::move(registrations),
                                std::move(id_by_scope), std::move(quarantined)));
}

ServiceWorkerRegistry::ServiceWorkerRegistry(StorageBackend* backend,
                                             WindowClientQuery has_window,
                                             int64_t next_id,
                                             std::map<int64_t, ServiceWorkerRegistration> registrations,
                                             absl::flat_hash_map<std::string, int64_t> id_by_scope,
                                             std::vector<QuarantinedRecord> quarantined)
    : backend_(backend),
      has_window_(std::move(has_window)),
      quarantined_(std::move(quarantined)),
      next_id_(next_id),
      registrations_(std::move(registrations)),
      id_by_scope_(std::move(id_by_scope)) {}

ServiceWorkerRegistry::~ServiceWorkerRegistry() = default;

absl::StatusOr<int64_t> ServiceWorkerRegistry::Install(const Origin& origin,
                                                       const std::string& scope,
                                                       std::vector<std::string> worker_command) {
  absl::Status valid = ValidateRegistration(origin, scope, worker_command);
  if (!valid.ok())
    return valid;

  absl::MutexLock write_lock(&write_mu_);
  ServiceWorkerRegistration registration;
  {
    absl::MutexLock lock(&mu_);
    auto existing = id_by_scope_.find(scope);
    if (existing != id_by_scope_.end()) {
      return absl::AlreadyExistsError(
          absl::StrCat("scope \"", scope, "\" is already registered (id ", existing->second, ")"));
    }
    if (next_id_ == kMaxId)
      return absl::ResourceExhaustedError("service-worker registration ids are used up");
    registration.id = next_id_;
  }
  registration.origin = origin;
  registration.scope = scope;
  registration.worker_command = std::move(worker_command);
  registration.state = ServiceWorkerState::kInstalling;

  StorageBatch batch;
  batch.Put(RegistrationKey(registration.id), EncodeRecord(registration));
  batch.Put(kNextIdKey, absl::StrCat(registration.id + 1));
  absl::Status status = CommitAndWait(*backend_, std::move(batch), Durability::kDurable);
  if (!status.ok())
    return Annotate(status, absl::StrCat("storing service worker registration for scope \"", scope, "\""));

  const int64_t id = registration.id;
  absl::MutexLock lock(&mu_);
  next_id_ = id + 1;
  id_by_scope_.emplace(registration.scope, id);
  registrations_.emplace(id, std::move(registration));
  return id;
}

absl::Status ServiceWorkerRegistry::Activate(int64_t id) {
  absl::MutexLock write_lock(&write_mu_);
  ServiceWorkerRegistration activated;
  {
    absl::MutexLock lock(&mu_);
    auto it = registrations_.find(id);
    if (it == registrations_.end())
      return NotFound(id);
    if (it->second.state == ServiceWorkerState::kActive)
      return absl::OkStatus();
    activated = it->second;
  }
  activated.state = ServiceWorkerState::kActive;

  StorageBatch batch;
  batch.Put(RegistrationKey(id), EncodeRecord(activated));
  absl::Status status = CommitAndWait(*backend_, std::move(batch), Durability::kDurable);
  if (!status.ok())
    return Annotate(status, absl::StrCat("activating service worker registration ", id));

  absl::MutexLock lock(&mu_);
  registrations_[id].state = ServiceWorkerState::kActive;
  return absl::OkStatus();
}

absl::Status ServiceWorkerRegistry::Unregister(int64_t id) {
  std::vector<UnregisterObserver> observers;
  {
    absl::MutexLock write_lock(&write_mu_);
    std::string scope;
    {
      absl::MutexLock lock(&mu_);
      auto it = registrations_.find(id);
      if (it == registrations_.end())
        return NotFound(id);
      scope = it->second.scope;
    }

    StorageBatch batch;
    batch.Delete(RegistrationKey(id));
    absl::Status status = CommitAndWait(*backend_, std::move(batch), Durability::kDurable);
    if (!status.ok())
      return Annotate(status, absl::StrCat("removing service worker registration ", id));

    absl::MutexLock lock(&mu_);
    registrations_.erase(id);
    id_by_scope_.erase(scope);
    observers = observers_;
  }
  for (const UnregisterObserver& observer : observers)
    observer(id);
  return absl::OkStatus();
}

absl::StatusOr<ServiceWorkerRegistration> ServiceWorkerRegistry::Get(int64_t id) const {
  absl::MutexLock lock(&mu_);
  auto it = registrations_.find(id);
  if (it == registrations_.end())
    return NotFound(id);
  return it->second;
}

std::vector<ServiceWorkerRegistration> ServiceWorkerRegistry::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<ServiceWorkerRegistration> result;
  result.reserve(registrations_.size());
  for (const auto& [id, registration] : registrations_)
    result.push_back(registration);
  return result;
}

void ServiceWorkerRegistry::AddUnregisterObserver(UnregisterObserver observer) {
  absl::MutexLock lock(&mu_);
  observers_.push_back(std::move(observer));
}

std::optional<ServiceWorkerRegistrationInfo> ServiceWorkerRegistry::Find(int64_t sw_registration_id) {
  absl::MutexLock lock(&mu_);
  auto it = registrations_.find(sw_registration_id);
  if (it == registrations_.end())
    return std::nullopt;
  ServiceWorkerRegistrationInfo info;
  info.id = it->first;
  info.origin = it->second.origin;
  info.has_active_worker = it->second.state == ServiceWorkerState::kActive;
  return info;
}

bool ServiceWorkerRegistry::HasTopLevelWindowClient(const Origin& origin) {
  return has_window_ ? has_window_(origin) : false;
}

}  // namespace bgsync
