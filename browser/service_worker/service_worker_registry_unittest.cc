// ServiceWorkerRegistry on MemoryStorageBackend and on a real LevelDB directory: install, activate, unregister,
// validation, observers, restart round trips, id reuse, quarantine of bad records, and failed writes (through
// ControllableStorageBackend) leaving memory equal to disk.
#include "browser/service_worker/service_worker_registry.h"

#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "browser/service_worker/proto/service_worker_record.pb.h"
#include "components/background_sync/leveldb_storage_backend.h"
#include "components/background_sync/memory_storage_backend.h"
#include "components/background_sync/testing/controllable_storage_backend.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bgsync {

// Found by argument-dependent lookup, so it must live in the type's namespace.
void PrintTo(const ServiceWorkerRegistration& r, std::ostream* os) {
  *os << "{id=" << r.id << " origin=" << r.origin.Serialize() << " scope=" << r.scope << " command=["
      << absl::StrJoin(r.worker_command, ", ")
      << "] state=" << (r.state == ServiceWorkerState::kActive ? "active" : "installing") << "}";
}

namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using Quarantined = ServiceWorkerRegistry::QuarantinedRecord;

Origin MakeOrigin(const std::string& text) {
  absl::StatusOr<Origin> origin = Origin::Parse(text);
  EXPECT_TRUE(origin.ok()) << origin.status();
  return origin.ok() ? *origin : Origin();
}

const std::vector<std::string> kCommand = {"/usr/bin/bgsync_worker", "--script=sw.js"};

std::unique_ptr<ServiceWorkerRegistry> OpenOrDie(StorageBackend* backend,
                                                 ServiceWorkerRegistry::WindowClientQuery has_window = nullptr) {
  absl::StatusOr<std::unique_ptr<ServiceWorkerRegistry>> registry =
      ServiceWorkerRegistry::Open(backend, std::move(has_window));
  EXPECT_TRUE(registry.ok()) << registry.status();
  return registry.ok() ? *std::move(registry) : nullptr;
}

// What a restart would see: a fresh registry loaded from the same backend.
std::vector<ServiceWorkerRegistration> ListOnDisk(StorageBackend* backend) {
  std::unique_ptr<ServiceWorkerRegistry> reloaded = OpenOrDie(backend);
  return reloaded ? reloaded->List() : std::vector<ServiceWorkerRegistration>();
}

std::string RecordKey(int64_t id) {
  char buffer[32];
  snprintf(buffer, sizeof(buffer), "w:reg:%016llx", static_cast<unsigned long long>(id));
  return buffer;
}

std::string EncodeForTest(int64_t id, const std::string& origin, const std::string& scope) {
  storage::ServiceWorkerRecord record;
  record.set_id(id);
  record.set_origin(origin);
  record.set_scope(scope);
  record.add_worker_command("/bin/worker");
  record.set_state(storage::ServiceWorkerRecord::ACTIVE);
  return record.SerializeAsString();
}

void PutRaw(MemoryStorageBackend& backend, const std::string& key, const std::string& value) {
  absl::MutexLock lock(&backend.storage()->mu);
  backend.storage()->data[key] = value;
}

std::map<std::string, std::string> Snapshot(MemoryStorageBackend& backend) {
  absl::MutexLock lock(&backend.storage()->mu);
  return backend.storage()->data;
}

class ServiceWorkerRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = OpenOrDie(&backend_);
    ASSERT_NE(registry_, nullptr);
  }

  int64_t InstallOrDie(const std::string& origin, const std::string& scope) {
    absl::StatusOr<int64_t> id = registry_->Install(MakeOrigin(origin), scope, kCommand);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }

  MemoryStorageBackend backend_;
  std::unique_ptr<ServiceWorkerRegistry> registry_;
};

TEST_F(ServiceWorkerRegistryTest, OpenOnEmptyStoreWritesSchemaVersionAndCounter) {
  EXPECT_THAT(Snapshot(backend_), ElementsAre(Pair("w:meta:next_id", "1"), Pair("w:meta:schema_version", "1")));
  EXPECT_THAT(registry_->List(), IsEmpty());
  EXPECT_THAT(registry_->quarantined(), IsEmpty());
}

TEST_F(ServiceWorkerRegistryTest, InstallAssignsIncreasingIdsInInstallingState) {
  const int64_t a = InstallOrDie("https://a.example", "https://a.example/");
  const int64_t b = InstallOrDie("https://b.example:8443", "https://b.example:8443/app/");
  const int64_t local = InstallOrDie("http://localhost:8080", "http://localhost:8080/");
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 2);
  EXPECT_EQ(local, 3);

  absl::StatusOr<ServiceWorkerRegistration> got = registry_->Get(b);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->id, b);
  EXPECT_EQ(got->origin, MakeOrigin("https://b.example:8443"));
  EXPECT_EQ(got->scope, "https://b.example:8443/app/");
  EXPECT_EQ(got->worker_command, kCommand);
  EXPECT_EQ(got->state, ServiceWorkerState::kInstalling);

  EXPECT_THAT(registry_->List(),
              ElementsAre(Field(&ServiceWorkerRegistration::id, a), Field(&ServiceWorkerRegistration::id, b),
                          Field(&ServiceWorkerRegistration::id, local)));
  EXPECT_EQ(ListOnDisk(&backend_), registry_->List());
}

TEST_F(ServiceWorkerRegistryTest, InstallRejectsInsecureOrigin) {
  absl::StatusOr<int64_t> id = registry_->Install(MakeOrigin("http://example.com"), "http://example.com/", kCommand);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(id.status().message(), HasSubstr("http://example.com"));
  EXPECT_THAT(id.status().message(), HasSubstr("not potentially trustworthy"));

  id = registry_->Install(Origin(), "/", kCommand);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ServiceWorkerRegistryTest, InstallRejectsScopeOutsideTheOrigin) {
  const Origin origin = MakeOrigin("https://a.example");
  for (const std::string& scope : std::vector<std::string>{
           "https://b.example/",       // another origin
           "https://a.example.evil/",  // a host that merely starts with it
           "https://a.example",        // no path
           "https://a.example:443/",   // not the serialized form
           "http://a.example/",        // another scheme
           "/relative/",               // not absolute
           "",                         //
           "https://a.example/#frag",  // fragment
           "https://a.example/a b",    // whitespace
           "https://a.example/\n",
       }) {
    absl::StatusOr<int64_t> id = registry_->Install(origin, scope, kCommand);
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << "scope " << scope;
  }
  absl::StatusOr<int64_t> id = registry_->Install(origin, "https://b.example/", kCommand);
  EXPECT_THAT(id.status().message(), HasSubstr("must start with \"https://a.example/\""));
  EXPECT_THAT(registry_->List(), IsEmpty());
}

TEST_F(ServiceWorkerRegistryTest, InstallRejectsBadCommand) {
  const Origin origin = MakeOrigin("https://a.example");
  absl::StatusOr<int64_t> id = registry_->Install(origin, "https://a.example/", {});
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(id.status().message(), HasSubstr("empty"));

  id = registry_->Install(origin, "https://a.example/", {"", "--flag"});
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(id.status().message(), HasSubstr("argv[0]"));

  id = registry_->Install(origin, "https://a.example/", {"/bin/worker", std::string("a\0b", 3)});
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(id.status().message(), HasSubstr("argv[1]"));

  EXPECT_THAT(registry_->List(), IsEmpty());
}

TEST_F(ServiceWorkerRegistryTest, InstallRejectsDuplicateScopeWithoutConsumingAnId) {
  const int64_t first = InstallOrDie("https://a.example", "https://a.example/");
  absl::StatusOr<int64_t> again =
      registry_->Install(MakeOrigin("https://a.example"), "https://a.example/", {"/other/worker"});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("https://a.example/"));

  // The existing registration is untouched, and a different scope of the same origin is fine.
  absl::StatusOr<ServiceWorkerRegistration> got = registry_->Get(first);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->worker_command, kCommand);
  EXPECT_EQ(InstallOrDie("https://a.example", "https://a.example/other/"), first + 1);
}

TEST_F(ServiceWorkerRegistryTest, UnknownIds) {
  const int64_t id = InstallOrDie("https://a.example", "https://a.example/");
  for (int64_t unknown : {int64_t{0}, int64_t{-1}, id + 1}) {
    EXPECT_EQ(registry_->Activate(unknown).code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(registry_->Unregister(unknown).code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(registry_->Get(unknown).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(registry_->Find(unknown), std::nullopt);
  }
  EXPECT_THAT(registry_->Get(id + 1).status().message(), HasSubstr(absl::StrCat(id + 1)));
}

TEST_F(ServiceWorkerRegistryTest, FindReflectsActivation) {
  const int64_t id = InstallOrDie("https://a.example", "https://a.example/");
  std::optional<ServiceWorkerRegistrationInfo> info = registry_->Find(id);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->id, id);
  EXPECT_EQ(info->origin, MakeOrigin("https://a.example"));
  EXPECT_FALSE(info->has_active_worker);

  ASSERT_TRUE(registry_->Activate(id).ok());
  info = registry_->Find(id);
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->has_active_worker);
  EXPECT_EQ(registry_->Get(id)->state, ServiceWorkerState::kActive);
  EXPECT_EQ(ListOnDisk(&backend_), registry_->List());

  // Idempotent.
  EXPECT_TRUE(registry_->Activate(id).ok());
  EXPECT_TRUE(registry_->Find(id)->has_active_worker);
}

TEST_F(ServiceWorkerRegistryTest, UnregisterRemovesDurablyAndNotifiesEachObserverOnce) {
  const int64_t keep = InstallOrDie("https://a.example", "https://a.example/");
  const int64_t gone = InstallOrDie("https://b.example", "https://b.example/");
  ASSERT_TRUE(registry_->Activate(gone).ok());

  std::vector<int64_t> first_calls;
  std::vector<int64_t> second_calls;
  std::optional<ServiceWorkerRegistrationInfo> seen_by_observer = ServiceWorkerRegistrationInfo();
  registry_->AddUnregisterObserver([&](int64_t id) {
    first_calls.push_back(id);
    // Runs without the registry's locks, after the removal is visible.
    seen_by_observer = registry_->Find(id);
  });
  registry_->AddUnregisterObserver([&](int64_t id) { second_calls.push_back(id); });

  ASSERT_TRUE(registry_->Unregister(gone).ok());
  EXPECT_THAT(first_calls, ElementsAre(gone));
  EXPECT_THAT(second_calls, ElementsAre(gone));
  EXPECT_EQ(seen_by_observer, std::nullopt);
  EXPECT_EQ(registry_->Find(gone), std::nullopt);

  EXPECT_EQ(registry_->Unregister(gone).code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(first_calls, ElementsAre(gone));
  EXPECT_THAT(second_calls, ElementsAre(gone));

  EXPECT_EQ(Snapshot(backend_).count(RecordKey(gone)), 0u);
  EXPECT_THAT(ListOnDisk(&backend_), ElementsAre(Field(&ServiceWorkerRegistration::id, keep)));

  // The scope is free again, under a new id.
  EXPECT_EQ(InstallOrDie("https://b.example", "https://b.example/"), gone + 1);
}

TEST_F(ServiceWorkerRegistryTest, HasTopLevelWindowClientIsDelegated) {
  EXPECT_FALSE(registry_->HasTopLevelWindowClient(MakeOrigin("https://a.example")));

  std::vector<std::string> asked;
  std::unique_ptr<ServiceWorkerRegistry> with_windows = OpenOrDie(&backend_, [&](const Origin& origin) {
    asked.push_back(origin.Serialize());
    return origin == MakeOrigin("https://open.example");
  });
  ASSERT_NE(with_windows, nullptr);
  EXPECT_TRUE(with_windows->HasTopLevelWindowClient(MakeOrigin("https://open.example")));
  EXPECT_FALSE(with_windows->HasTopLevelWindowClient(MakeOrigin("https://closed.example")));
  EXPECT_THAT(asked, ElementsAre("https://open.example", "https://closed.example"));
}

TEST_F(ServiceWorkerRegistryTest, RestartKeepsEverythingAndNeverReusesIds) {
  const int64_t a = InstallOrDie("https://a.example", "https://a.example/");
  const int64_t b = InstallOrDie("https://b.example", "https://b.example/");
  ASSERT_TRUE(registry_->Activate(a).ok());
  ASSERT_TRUE(registry_->Unregister(b).ok());
  const std::vector<ServiceWorkerRegistration> before = registry_->List();
  registry_.reset();

  MemoryStorageBackend restarted(backend_.storage());
  registry_ = OpenOrDie(&restarted);
  ASSERT_NE(registry_, nullptr);
  EXPECT_EQ(registry_->List(), before);
  EXPECT_EQ(InstallOrDie("https://b.example", "https://b.example/"), b + 1);
}

TEST_F(ServiceWorkerRegistryTest, ConcurrentInstallsGetDistinctIdsAndAllReachDisk) {
  constexpr int kThreads = 8;
  std::vector<absl::StatusOr<int64_t>> ids(kThreads, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([this, i, &ids] {
      ids[i] =
          registry_->Install(MakeOrigin("https://a.example"), absl::StrCat("https://a.example/", i, "/"), kCommand);
      // Readers run alongside the writers.
      registry_->List();
    });
  }
  for (std::thread& thread : threads)
    thread.join();

  std::vector<int64_t> sorted;
  for (const absl::StatusOr<int64_t>& id : ids) {
    ASSERT_TRUE(id.ok()) << id.status();
    sorted.push_back(*id);
  }
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < kThreads; ++i)
    EXPECT_EQ(sorted[i], i + 1);
  EXPECT_EQ(registry_->List().size(), static_cast<size_t>(kThreads));
  EXPECT_EQ(ListOnDisk(&backend_), registry_->List());
}

// --- Records on disk that this build did not write. ---

TEST(ServiceWorkerRegistryLoadTest, BadRecordsAreQuarantinedKeptAndTheirIdsNeverAssigned) {
  MemoryStorageBackend backend;
  {
    std::unique_ptr<ServiceWorkerRegistry> registry = OpenOrDie(&backend);
    ASSERT_NE(registry, nullptr);
    ASSERT_TRUE(registry->Install(MakeOrigin("https://good.example"), "https://good.example/", kCommand).ok());
  }
  PutRaw(backend, RecordKey(2), std::string("\xff\xff\xff", 3));                                     // does not parse
  PutRaw(backend, RecordKey(3), EncodeForTest(3, "http://example.com", "http://example.com/"));      // insecure
  PutRaw(backend, RecordKey(4), EncodeForTest(5, "https://x.example", "https://x.example/"));        // id mismatch
  PutRaw(backend, RecordKey(6), EncodeForTest(6, "https://good.example", "https://good.example/"));  // dup scope
  PutRaw(backend, "w:reg:NOT-HEX", EncodeForTest(7, "https://y.example", "https://y.example/"));
  // The counter stays at 2: the bad records' ids are ahead of it.
  const std::map<std::string, std::string> before = Snapshot(backend);

  std::unique_ptr<ServiceWorkerRegistry> registry = OpenOrDie(&backend);
  ASSERT_NE(registry, nullptr);
  EXPECT_THAT(registry->List(), ElementsAre(Field(&ServiceWorkerRegistration::id, 1)));
  EXPECT_THAT(registry->quarantined(),
              ElementsAre(Field(&Quarantined::key, RecordKey(2)), Field(&Quarantined::key, RecordKey(3)),
                          Field(&Quarantined::key, RecordKey(4)), Field(&Quarantined::key, RecordKey(6)),
                          Field(&Quarantined::key, "w:reg:NOT-HEX")));
  EXPECT_THAT(registry->quarantined()[0].reason, HasSubstr("does not parse"));
  EXPECT_THAT(registry->quarantined()[1].reason, HasSubstr("not potentially trustworthy"));
  EXPECT_THAT(registry->quarantined()[2].reason, HasSubstr("does not match"));
  EXPECT_THAT(registry->quarantined()[3].reason, HasSubstr("already registered by id 1"));
  EXPECT_THAT(registry->quarantined()[4].reason, HasSubstr("malformed key"));

  // Nothing was deleted or rewritten, except the counter, now past every id a key names.
  std::map<std::string, std::string> after = Snapshot(backend);
  EXPECT_EQ(after["w:meta:next_id"], "7");
  after["w:meta:next_id"] = before.at("w:meta:next_id");
  EXPECT_EQ(after, before);

  absl::StatusOr<int64_t> id = registry->Install(MakeOrigin("https://new.example"), "https://new.example/", kCommand);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, 7);
  EXPECT_EQ(Snapshot(backend).at(RecordKey(6)), before.at(RecordKey(6)));
}

TEST(ServiceWorkerRegistryLoadTest, RefusesUnknownSchemaVersion) {
  MemoryStorageBackend backend;
  PutRaw(backend, "w:meta:schema_version", "2");
  PutRaw(backend, "w:meta:next_id", "1");
  absl::StatusOr<std::unique_ptr<ServiceWorkerRegistry>> registry = ServiceWorkerRegistry::Open(&backend);
  EXPECT_EQ(registry.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(registry.status().message(), HasSubstr("\"2\""));
  EXPECT_EQ(Snapshot(backend).at("w:meta:schema_version"), "2");
}

TEST(ServiceWorkerRegistryLoadTest, RefusesRecordsWithoutSchemaVersion) {
  MemoryStorageBackend backend;
  PutRaw(backend, RecordKey(1), EncodeForTest(1, "https://a.example", "https://a.example/"));
  absl::StatusOr<std::unique_ptr<ServiceWorkerRegistry>> registry = ServiceWorkerRegistry::Open(&backend);
  EXPECT_EQ(registry.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Snapshot(backend).size(), 1u);
}

TEST(ServiceWorkerRegistryLoadTest, RefusesMissingOrMalformedCounter) {
  for (const char* counter : {"", "abc", "0", "-4"}) {
    MemoryStorageBackend backend;
    PutRaw(backend, "w:meta:schema_version", "1");
    if (*counter)
      PutRaw(backend, "w:meta:next_id", counter);
    absl::StatusOr<std::unique_ptr<ServiceWorkerRegistry>> registry = ServiceWorkerRegistry::Open(&backend);
    EXPECT_EQ(registry.status().code(), absl::StatusCode::kDataLoss) << "counter \"" << counter << "\"";
  }
}

TEST(ServiceWorkerRegistryLoadTest, ReadErrorFailsOpen) {
  ControllableStorageBackend backend(std::make_unique<MemoryStorageBackend>());
  {
    absl::MutexLock lock(&backend.controls()->mu);
    backend.controls()->fail_reads = true;
  }
  absl::StatusOr<std::unique_ptr<ServiceWorkerRegistry>> registry = ServiceWorkerRegistry::Open(&backend);
  EXPECT_EQ(registry.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(registry.status().message(), HasSubstr("injected read failure"));
}

// --- Failed writes. ---

class ServiceWorkerRegistryWriteFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto memory = std::make_unique<MemoryStorageBackend>();
    storage_ = memory->storage();
    backend_ = std::make_unique<ControllableStorageBackend>(std::move(memory));
    registry_ = OpenOrDie(backend_.get());
    ASSERT_NE(registry_, nullptr);
    registry_->AddUnregisterObserver([this](int64_t id) { unregistered_.push_back(id); });

    absl::StatusOr<int64_t> installing =
        registry_->Install(MakeOrigin("https://a.example"), "https://a.example/", kCommand);
    absl::StatusOr<int64_t> active =
        registry_->Install(MakeOrigin("https://b.example"), "https://b.example/", kCommand);
    ASSERT_TRUE(installing.ok() && active.ok());
    installing_ = *installing;
    active_ = *active;
    ASSERT_TRUE(registry_->Activate(active_).ok());
    before_ = registry_->List();
    disk_before_ = DiskData();
  }

  std::map<std::string, std::string> DiskData() {
    absl::MutexLock lock(&storage_->mu);
    return storage_->data;
  }

  // Memory is what it was before the failed operation, and equal to what a restart loads.
  void ExpectUnchanged() {
    EXPECT_EQ(registry_->List(), before_);
    EXPECT_EQ(DiskData(), disk_before_);
    EXPECT_EQ(ListOnDisk(backend_.get()), registry_->List());
  }

  std::shared_ptr<MemoryStorageBackend::Storage> storage_;
  std::unique_ptr<ControllableStorageBackend> backend_;
  std::unique_ptr<ServiceWorkerRegistry> registry_;
  std::vector<int64_t> unregistered_;
  int64_t installing_ = 0;
  int64_t active_ = 0;
  std::vector<ServiceWorkerRegistration> before_;
  std::map<std::string, std::string> disk_before_;
};

TEST_F(ServiceWorkerRegistryWriteFailureTest, FailedInstallChangesNothing) {
  backend_->controls()->FailNextCommits(1);
  absl::StatusOr<int64_t> id = registry_->Install(MakeOrigin("https://c.example"), "https://c.example/", kCommand);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(id.status().message(), HasSubstr("injected write failure"));
  ExpectUnchanged();

  // The scope was not taken, and the retry succeeds.
  id = registry_->Install(MakeOrigin("https://c.example"), "https://c.example/", kCommand);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(ListOnDisk(backend_.get()), registry_->List());
}

TEST_F(ServiceWorkerRegistryWriteFailureTest, FailedActivateChangesNothing) {
  backend_->controls()->FailNextCommits(1);
  EXPECT_EQ(registry_->Activate(installing_).code(), absl::StatusCode::kInternal);
  EXPECT_FALSE(registry_->Find(installing_)->has_active_worker);
  ExpectUnchanged();

  ASSERT_TRUE(registry_->Activate(installing_).ok());
  EXPECT_TRUE(registry_->Find(installing_)->has_active_worker);
  EXPECT_EQ(ListOnDisk(backend_.get()), registry_->List());
}

TEST_F(ServiceWorkerRegistryWriteFailureTest, FailedUnregisterChangesNothingAndNotifiesNobody) {
  backend_->controls()->FailNextCommits(1);
  EXPECT_EQ(registry_->Unregister(active_).code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(registry_->Find(active_).has_value());
  EXPECT_THAT(unregistered_, IsEmpty());
  ExpectUnchanged();

  ASSERT_TRUE(registry_->Unregister(active_).ok());
  EXPECT_THAT(unregistered_, ElementsAre(active_));
  EXPECT_EQ(ListOnDisk(backend_.get()), registry_->List());
}

TEST_F(ServiceWorkerRegistryWriteFailureTest, RejectedAndNoOpOperationsDoNotWrite) {
  const int commits_before = [&] {
    absl::MutexLock lock(&backend_->controls()->mu);
    return backend_->controls()->commits;
  }();
  EXPECT_FALSE(registry_->Install(MakeOrigin("http://example.com"), "http://example.com/", kCommand).ok());
  EXPECT_FALSE(registry_->Install(MakeOrigin("https://a.example"), "https://a.example/", kCommand).ok());
  EXPECT_TRUE(registry_->Activate(active_).ok());
  EXPECT_FALSE(registry_->Unregister(active_ + 100).ok());
  absl::MutexLock lock(&backend_->controls()->mu);
  EXPECT_EQ(backend_->controls()->commits, commits_before);
}

TEST(ServiceWorkerRegistryOpenFailureTest, FailedInitialWriteFailsOpen) {
  ControllableStorageBackend backend(std::make_unique<MemoryStorageBackend>());
  backend.controls()->FailNextCommits(1);
  absl::StatusOr<std::unique_ptr<ServiceWorkerRegistry>> registry = ServiceWorkerRegistry::Open(&backend);
  EXPECT_EQ(registry.status().code(), absl::StatusCode::kInternal);
  // Nothing half-initialized was left behind: the next Open starts from scratch.
  registry = ServiceWorkerRegistry::Open(&backend);
  ASSERT_TRUE(registry.ok()) << registry.status();
}

// --- A real LevelDB profile directory. ---

class ServiceWorkerRegistryLevelDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "bgsync_sw_registry_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << "mkdtemp " << tmpl;
    path_ = (std::filesystem::path(tmpl) / "ServiceWorkers").string();
    dir_ = tmpl;
    Start();
  }
  void TearDown() override {
    Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    EXPECT_FALSE(ec) << ec.message();
  }

  void Start() {
    absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> backend = LevelDbStorageBackend::Open(path_);
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = *std::move(backend);
    registry_ = OpenOrDie(backend_.get());
    ASSERT_NE(registry_, nullptr);
  }
  void Stop() {
    registry_.reset();
    backend_.reset();
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<LevelDbStorageBackend> backend_;
  std::unique_ptr<ServiceWorkerRegistry> registry_;
};

TEST_F(ServiceWorkerRegistryLevelDbTest, RestartRoundTrip) {
  const std::vector<std::string> command = {"/opt/browser/worker", "--origin=https://a.example", "", "ünïcode arg",
                                            std::string("\x01\xfe", 2)};
  absl::StatusOr<int64_t> a = registry_->Install(MakeOrigin("https://a.example"), "https://a.example/app/", command);
  absl::StatusOr<int64_t> b =
      registry_->Install(MakeOrigin("http://127.0.0.1:8000"), "http://127.0.0.1:8000/", {"/bin/worker"});
  absl::StatusOr<int64_t> c = registry_->Install(MakeOrigin("http://[::1]:9000"), "http://[::1]:9000/x?y=1", kCommand);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ASSERT_TRUE(registry_->Activate(*a).ok());
  ASSERT_TRUE(registry_->Unregister(*c).ok());
  const std::vector<ServiceWorkerRegistration> before = registry_->List();
  ASSERT_EQ(before.size(), 2u);

  Stop();
  Start();

  EXPECT_EQ(registry_->List(), before);
  EXPECT_THAT(registry_->quarantined(), IsEmpty());
  absl::StatusOr<ServiceWorkerRegistration> reloaded = registry_->Get(*a);
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ(reloaded->worker_command, command);
  EXPECT_EQ(reloaded->scope, "https://a.example/app/");
  EXPECT_EQ(reloaded->state, ServiceWorkerState::kActive);
  EXPECT_TRUE(registry_->Find(*a)->has_active_worker);
  EXPECT_FALSE(registry_->Find(*b)->has_active_worker);
  EXPECT_EQ(registry_->Find(*c), std::nullopt);

  // The unregistered registration's id (the highest so far) is not handed out again.
  absl::StatusOr<int64_t> d = registry_->Install(MakeOrigin("http://[::1]:9000"), "http://[::1]:9000/x?y=1", kCommand);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, *c + 1);

  Stop();
  Start();
  EXPECT_THAT(registry_->List(),
              ElementsAre(Field(&ServiceWorkerRegistration::id, *a), Field(&ServiceWorkerRegistration::id, *b),
                          Field(&ServiceWorkerRegistration::id, *d)));
}

TEST_F(ServiceWorkerRegistryLevelDbTest, FailedWriteLeavesMemoryEqualToDisk) {
  absl::StatusOr<int64_t> a = registry_->Install(MakeOrigin("https://a.example"), "https://a.example/", kCommand);
  ASSERT_TRUE(a.ok());
  Stop();

  // The same database, through a backend that can fail commits.
  absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> leveldb = LevelDbStorageBackend::Open(path_);
  ASSERT_TRUE(leveldb.ok()) << leveldb.status();
  ControllableStorageBackend controllable(*std::move(leveldb));
  std::unique_ptr<ServiceWorkerRegistry> registry = OpenOrDie(&controllable);
  ASSERT_NE(registry, nullptr);
  const std::vector<ServiceWorkerRegistration> before = registry->List();

  controllable.controls()->FailNextCommits(3);
  EXPECT_FALSE(registry->Install(MakeOrigin("https://b.example"), "https://b.example/", kCommand).ok());
  EXPECT_FALSE(registry->Activate(*a).ok());
  EXPECT_FALSE(registry->Unregister(*a).ok());
  EXPECT_EQ(registry->List(), before);
  EXPECT_EQ(ListOnDisk(&controllable), before);
}

}  // namespace
}  // namespace bgsync
