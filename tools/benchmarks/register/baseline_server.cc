#include "tools/benchmarks/register/baseline_server.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "browser/background_sync_host.h"
#include "grpcpp/grpcpp.h"
#include "leveldb/db.h"
#include "leveldb/options.h"
#include "leveldb/write_batch.h"
#include "tools/benchmarks/register/baseline.grpc.pb.h"

namespace bgsync {
namespace regbench {
namespace {

grpc::Status WriteSynced(leveldb::DB& db, const std::string& key, const std::string& value) {
  leveldb::WriteBatch batch;
  batch.Put(key, value);
  leveldb::WriteOptions options;
  options.sync = true;
  leveldb::Status status = db.Write(options, &batch);
  return status.ok() ? grpc::Status::OK : grpc::Status(grpc::StatusCode::INTERNAL, status.ToString());
}

// Puts waiting for a writer thread; the threads run them in FIFO order, each as its own synced write.
class PutQueue {
 public:
  PutQueue(leveldb::DB* db, int threads) : db_(db) {
    for (int i = 0; i < threads; ++i)
      threads_.emplace_back([this] { Run(); });
  }
  ~PutQueue() { Stop(); }

  // Writes and answers everything queued, then stops the threads; later Puts are answered UNAVAILABLE at once.
  // Idempotent.
  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    for (std::thread& thread : threads_)
      thread.join();
    threads_.clear();
  }

  void Push(std::string key, std::string value, grpc::ServerUnaryReactor* reactor) {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"));
      return;
    }
    queue_.push_back({std::move(key), std::move(value), reactor});
  }

 private:
  struct Put {
    std::string key;
    std::string value;
    grpc::ServerUnaryReactor* reactor;
  };

  void Run() {
    while (true) {
      Put put;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
        mu_.Await(absl::Condition(&ready));
        if (queue_.empty())
          return;
        put = std::move(queue_.front());
        queue_.pop_front();
      }
      put.reactor->Finish(WriteSynced(*db_, put.key, put.value));
    }
  }

  leveldb::DB* const db_;
  absl::Mutex mu_;
  std::deque<Put> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

class BaselineServiceImpl : public BaselineService::CallbackService {
 public:
  // `db` may be null (Put unimplemented); `queue` null: Put writes in the handler. Neither is owned.
  BaselineServiceImpl(leveldb::DB* db, PutQueue* queue) : db_(db), queue_(queue) {}

  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const EchoMessage* request,
                                 EchoMessage* reply) override {
    reply->set_payload(request->payload());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* context,
                                const PutRequest* request,
                                PutReply* reply) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (!db_) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no database"));
    } else if (queue_) {
      queue_->Push(request->key(), request->value(), reactor);
    } else {
      reactor->Finish(WriteSynced(*db_, request->key(), request->value()));
    }
    return reactor;
  }

 private:
  leveldb::DB* const db_;
  PutQueue* const queue_;
};

}  // namespace

// The queue answers what it holds before the server shuts down (which waits for every call to finish); the members
// are then destroyed in reverse order, the database last.
struct BaselineServer::State {
  std::unique_ptr<leveldb::DB> db;
  std::unique_ptr<PutQueue> queue;
  std::unique_ptr<BaselineServiceImpl> service;
  std::unique_ptr<grpc::Server> server;

  ~State() {
    if (queue)
      queue->Stop();
    if (server)
      server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  }
};

BaselineServer::BaselineServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

BaselineServer::~BaselineServer() = default;

absl::StatusOr<std::unique_ptr<BaselineServer>> BaselineServer::Start(const BaselineServerOptions& options) {
  if (options.write_threads < 0)
    return absl::InvalidArgumentError("write_threads must be >= 0");
  auto state = std::make_unique<State>();
  if (!options.db_path.empty()) {
    // As the browser opens its store (LevelDbStorageBackend): paranoid checks, created if missing.
    leveldb::Options db_options;
    db_options.create_if_missing = true;
    db_options.paranoid_checks = true;
    leveldb::DB* db = nullptr;
    leveldb::Status status = leveldb::DB::Open(db_options, options.db_path, &db);
    if (!status.ok())
      return absl::InternalError(absl::StrCat("opening ", options.db_path, ": ", status.ToString()));
    state->db.reset(db);
    if (options.write_threads > 0)
      state->queue = std::make_unique<PutQueue>(db, options.write_threads);
  }
  state->service = std::make_unique<BaselineServiceImpl>(state->db.get(), state->queue.get());
  unlink(options.socket_path.c_str());
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + options.socket_path, grpc::InsecureServerCredentials());
  // The browser's own transport settings, so that the baseline differs from the browser only in its handlers.
  BackgroundSyncHost::ApplyServerLimits(BackgroundSyncHost::Config(), builder);
  builder.RegisterService(state->service.get());
  state->server = builder.BuildAndStart();
  if (!state->server)
    return absl::UnavailableError("cannot serve on unix:" + options.socket_path);
  return std::unique_ptr<BaselineServer>(new BaselineServer(std::move(state)));
}

}  // namespace regbench
}  // namespace bgsync
