// A StorageBackend decorator for tests and fuzzers: injects write failures and holds commits back, so tests can
// prove "a failed write leaves memory equal to disk" and "one blocked service worker does not block another".
#ifndef COMPONENTS_BACKGROUND_SYNC_TESTING_CONTROLLABLE_STORAGE_BACKEND_H_
#define COMPONENTS_BACKGROUND_SYNC_TESTING_CONTROLLABLE_STORAGE_BACKEND_H_

#include <deque>
#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "components/background_sync/storage_backend.h"

namespace bgsync {

// Thread-safety: all methods may be called from any thread.
class ControllableStorageBackend : public StorageBackend {
 public:
  // Shares control with the test: the engine owns the backend, the test keeps a Controls pointer.
  struct Controls {
    absl::Mutex mu;
    int fail_next_commits ABSL_GUARDED_BY(mu) = 0;  // the next N commits fail with kInternal, writing nothing
    bool fail_reads ABSL_GUARDED_BY(mu) = false;
    // Commits for which this returns true are held until Release().
    std::function<bool(const StorageBatch&)> hold ABSL_GUARDED_BY(mu);
    std::deque<std::function<void()>> held ABSL_GUARDED_BY(mu);
    int commits ABSL_GUARDED_BY(mu) = 0;  // commits attempted

    void FailNextCommits(int n) {
      absl::MutexLock lock(&mu);
      fail_next_commits = n;
    }
    void HoldWhere(std::function<bool(const StorageBatch&)> predicate) {
      absl::MutexLock lock(&mu);
      hold = std::move(predicate);
    }
    size_t HeldCount() {
      absl::MutexLock lock(&mu);
      return held.size();
    }
    // Stops holding and performs every held commit (their callbacks run on this thread).
    void Release() {
      std::deque<std::function<void()>> run;
      {
        absl::MutexLock lock(&mu);
        hold = nullptr;
        run.swap(held);
      }
      for (auto& commit : run)
        commit();
    }
  };

  explicit ControllableStorageBackend(std::unique_ptr<StorageBackend> inner)
      : inner_(std::move(inner)), controls_(std::make_shared<Controls>()) {}

  const std::shared_ptr<Controls>& controls() const { return controls_; }

  absl::StatusOr<KeyValues> ReadPrefix(const std::string& prefix) override {
    {
      absl::MutexLock lock(&controls_->mu);
      if (controls_->fail_reads)
        return absl::InternalError("injected read failure");
    }
    return inner_->ReadPrefix(prefix);
  }

  void Commit(StorageBatch batch, Durability durability, CommitCallback done) override {
    bool fail = false;
    {
      absl::MutexLock lock(&controls_->mu);
      ++controls_->commits;
      if (controls_->fail_next_commits > 0) {
        --controls_->fail_next_commits;
        fail = true;
      } else if (controls_->hold && controls_->hold(batch)) {
        auto shared_done = std::make_shared<CommitCallback>(std::move(done));
        auto shared_batch = std::make_shared<StorageBatch>(std::move(batch));
        StorageBackend* inner = inner_.get();
        controls_->held.push_back([inner, shared_batch, durability, shared_done] {
          inner->Commit(std::move(*shared_batch), durability, std::move(*shared_done));
        });
        return;
      }
    }
    if (fail)
      return done(absl::InternalError("injected write failure"));
    inner_->Commit(std::move(batch), durability, std::move(done));
  }

 private:
  const std::unique_ptr<StorageBackend> inner_;
  const std::shared_ptr<Controls> controls_;
};

}  // namespace bgsync

#endif  // COMPONENTS_BACKGROUND_SYNC_TESTING_CONTROLLABLE_STORAGE_BACKEND_H_
