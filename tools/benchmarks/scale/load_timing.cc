#include "tools/benchmarks/scale/load_timing.h"

#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/time/clock.h"
#include "components/background_sync/background_sync_engine.h"
#include "components/background_sync/leveldb_storage_backend.h"
#include "components/background_sync/sync_registration_store.h"
#include "components/background_sync/testing/fake_clock.h"
#include "components/background_sync/testing/fake_network_state.h"
#include "components/background_sync/testing/fake_service_worker_registry.h"
#include "components/background_sync/testing/fake_sync_event_dispatcher.h"
#include "test/process_probe.h"
#include "tools/benchmarks/scale/leveldb_scan.h"
#include "tools/benchmarks/scale/scale_profile.h"

namespace bgsync {
namespace bench {
namespace {

double CpuMs(clockid_t clock) {
  timespec t;
  clock_gettime(clock, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

double Ms(absl::Duration d) {
  return absl::ToDoubleMilliseconds(d);
}

// The baseline first, as the figure has it. Returns the number of records.
absl::StatusOr<int64_t> TimeScan(const std::string& path) {
  const double cpu = CpuMs(CLOCK_THREAD_CPUTIME_ID);
  absl::StatusOr<ScanResult> scan = ScanLevelDb(path);
  if (!scan.ok())
    return scan.status();
  std::fprintf(stderr, "raw scan: %.1f ms, CPU %.1f ms (%lld records)\n", Ms(scan->elapsed),
               CpuMs(CLOCK_THREAD_CPUTIME_ID) - cpu, static_cast<long long>(scan->records));
  return scan->records;
}

void PrintMemory() {
  const struct mallinfo2 heap = mallinfo2();
  std::fprintf(stderr, "  heap: %.1f MB in use, %.1f MB free in arenas, %.1f MB mmapped; VmRSS %lld KiB\n",
               heap.uordblks / 1e6, heap.fordblks / 1e6, heap.hblkhd / 1e6,
               static_cast<long long>(ResidentKib(getpid())));
}

}  // namespace

absl::Status TimeStoreLoad(const std::string& profile, int parallel_reads) {
  const std::string path = profile + "/BackgroundSync";
  if (absl::StatusOr<int64_t> records = TimeScan(path); !records.ok())
    return records.status();
  const absl::Time start = absl::Now();
  const double thread_cpu = CpuMs(CLOCK_THREAD_CPUTIME_ID);
  const double process_cpu = CpuMs(CLOCK_PROCESS_CPUTIME_ID);
  absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> backend = LevelDbStorageBackend::Open(path);
  if (!backend.ok())
    return backend.status();
  const absl::Time opened = absl::Now();
  for (const std::string& split : (*backend)->SplitRange("r:", "r;", parallel_reads))
    std::fprintf(stderr, "  split at %s\n", absl::CHexEscape(split).c_str());
  SyncRegistrationStore store(backend->get());
  absl::StatusOr<SyncRegistrationStore::LoadByServiceWorkerResult> loaded = store.LoadByServiceWorker(parallel_reads);
  if (!loaded.ok())
    return loaded.status();
  std::fprintf(stderr,
               "  store load in %d ranges: open %.1f ms, load %.1f ms; CPU %.1f ms on this thread, %.1f ms in all "
               "(%zu service workers)\n",
               parallel_reads, Ms(opened - start), Ms(absl::Now() - opened),
               CpuMs(CLOCK_THREAD_CPUTIME_ID) - thread_cpu, CpuMs(CLOCK_PROCESS_CPUTIME_ID) - process_cpu,
               loaded->service_workers.size());
  PrintMemory();
  return absl::OkStatus();
}

absl::Status TimeEngineStart(const std::string& profile) {
  const std::string path = profile + "/BackgroundSync";
  absl::StatusOr<int64_t> records = TimeScan(path);
  if (!records.ok())
    return records.status();
  FakeClock clock;
  FakeNetworkState network(/*online=*/false);
  FakePermissionController permissions;
  FakeServiceWorkerRegistry registry;
  FakeSyncEventDispatcher dispatcher;
  const int service_workers = static_cast<int>((*records - 1) / ScaleProfileSpec().registrations_per_service_worker);
  for (int i = 1; i <= service_workers; ++i)
    registry.Add(i, *Origin::Parse(ScaleOrigin(i)));
  absl::StatusOr<std::unique_ptr<LevelDbStorageBackend>> backend = LevelDbStorageBackend::Open(path);
  if (!backend.ok())
    return backend.status();
  BackgroundSyncEngine::Dependencies deps;
  deps.clock = &clock;
  deps.network = &network;
  deps.permissions = &permissions;
  deps.registry = &registry;
  deps.dispatcher = &dispatcher;
  deps.storage = *std::move(backend);
  const double cpu = CpuMs(CLOCK_PROCESS_CPUTIME_ID);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<BackgroundSyncEngine>> engine =
      BackgroundSyncEngine::Create(std::move(deps), BackgroundSyncParameters());
  if (!engine.ok())
    return engine.status();
  std::fprintf(stderr, "  engine start: %.1f ms, CPU %.1f ms, %d registrations loaded\n", Ms(absl::Now() - start),
               CpuMs(CLOCK_PROCESS_CPUTIME_ID) - cpu, (*engine)->load_report().loaded);
  PrintMemory();
  return absl::OkStatus();
}

}  // namespace bench
}  // namespace bgsync
