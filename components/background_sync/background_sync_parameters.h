// Tunable parameters of the Background Sync engine. Defaults are Chromium's (chromium.md), so an embedder that
// sets nothing behaves like Chrome; tests and the demo shorten them.
#ifndef COMPONENTS_BACKGROUND_SYNC_BACKGROUND_SYNC_PARAMETERS_H_
#define COMPONENTS_BACKGROUND_SYNC_BACKGROUND_SYNC_PARAMETERS_H_

#include <cstddef>

#include "absl/time/time.h"

namespace bgsync {

struct BackgroundSyncParameters {
  // --- Behaviour ---

  // Attempts a one-shot registration gets before it is dropped. The last one carries lastChance = true. >= 1.
  int max_sync_attempts = 3;

  // The wait after the n-th failed attempt is initial_retry_delay * retry_delay_factor^(n-1).
  absl::Duration initial_retry_delay = absl::Minutes(5);
  int retry_delay_factor = 3;

  // How long a sync event may run. The worker is told this deadline; an outcome that has not arrived by then is
  // a failure (kTimedOut) and a later reply is ignored.
  absl::Duration max_sync_event_duration = absl::Minutes(3);

  // A step the engine took on its own that failed for a transient reason (the store refused the write that
  // starts or settles an event) is retried after this long.
  absl::Duration min_sync_recovery_time = absl::Minutes(6);

  // Periodic sync. Two periodic events of one origin are at least this far apart, times the origin's engagement
  // penalty (1 high, 2 low or medium, 3 minimal; none suspends); a registration's interval is rounded up to a
  // multiple of that gap, and one due within the gap of another of its origin is coalesced with it.
  absl::Duration min_periodic_sync_events_interval = absl::Hours(12);
  // Across all origins, periodic events start in batches at least this far apart (each batch fires everything
  // due then). Retries of a failed periodic event are not held back by either minimum.
  absl::Duration min_periodic_sync_batch_interval = absl::Hours(12);
  // Attempts a periodic event gets (retries use the one-shot backoff above); after the last failure the
  // registration waits for its next interval. >= 1.
  int max_periodic_sync_attempts = 3;

  // Quotas (bgsync's improvement over Chromium, which has none): registrations of both types together.
  // Beyond them Register fails with QUOTA_EXCEEDED.
  size_t max_registrations_per_service_worker = 1000;
  size_t max_registrations_per_origin = 10000;

  // A registration whose event was interrupted by a browser crash is fired again without counting the attempt,
  // except that this many interruptions in a row count as that many failed attempts (the poison-pill bound).
  int max_consecutive_interruptions = 3;

  // When true every operation fails with SHUT_DOWN (Chromium's `disable` switch).
  bool disabled = false;

  // --- Performance ---

  // Register answers only after its write reached the disk (LevelDB sync=true). Turning this off trades OS
  // crash durability for latency; a kill -9 of the browser still loses nothing.
  bool durable_writes = true;
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_BACKGROUND_SYNC_PARAMETERS_H_
