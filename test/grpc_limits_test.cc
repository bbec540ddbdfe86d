// The transport limits BackgroundSyncHost sets for untrusted peers (reliability.md P5; public/README.md,
// "Limits"), each observed from the wire: the host runs in this process on a unix socket, and hostile peers are raw
// HTTP/2 connections written byte by byte (a real gRPC client obeys the limits, so it cannot show that the server
// enforces them), plus gRPC clients for the per-session rate limit. Durations are shortened through the Config;
// waits have generous deadlines and the measured times are printed ("figure: ...").
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "browser/background_sync_host.h"
#include "components/background_sync/memory_storage_backend.h"
#include "components/background_sync/system_clock.h"
#include "components/background_sync/testing/fake_network_state.h"
#include "components/background_sync/testing/fake_service_worker_registry.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "test/process_probe.h"

namespace bgsync {
namespace {

constexpr absl::Duration kGenerous = absl::Seconds(30);

// Polls `condition` until it holds or a generous deadline passes.
template <typename Condition>
bool Eventually(Condition condition) {
  const absl::Time deadline = absl::Now() + kGenerous;
  while (!condition()) {
    if (absl::Now() > deadline)
      return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// HTTP/2 (RFC 9113) frame types, settings and error codes used here.
constexpr uint8_t kHeaders = 0x1, kRstStream = 0x3, kSettings = 0x4, kPing = 0x6, kGoaway = 0x7;
constexpr uint8_t kFlagAck = 0x1, kFlagEndHeaders = 0x4;
constexpr uint16_t kSettingsMaxConcurrentStreams = 0x3, kSettingsMaxHeaderListSize = 0x6;
constexpr uint32_t kEnhanceYourCalm = 0xb;

uint32_t Read32(const std::string& bytes, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(bytes[at])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + 3]));
}

// A raw HTTP/2 client on a unix socket: what a hostile renderer can write, frame by frame, without a gRPC
// library's manners.
class RawHttp2Connection {
 public:
  struct Frame {
    uint8_t type = 0;
    uint8_t flags = 0;
    uint32_t stream = 0;
    std::string payload;
  };

  explicit RawHttp2Connection(const std::string& socket_path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
    connected_ = fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawHttp2Connection() {
    if (fd_ >= 0)
      close(fd_);
  }
  bool connected() const { return connected_; }

  // The client connection preface and an empty SETTINGS frame.
  void SendPreface() {
    Send(std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    SendFrame(kSettings, 0, 0, "");
  }
  void SendFrame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
    std::string frame;
    frame.push_back(static_cast<char>(payload.size() >> 16));
    frame.push_back(static_cast<char>(payload.size() >> 8));
    frame.push_back(static_cast<char>(payload.size()));
    frame.push_back(static_cast<char>(type));
    frame.push_back(static_cast<char>(flags));
    for (int shift = 24; shift >= 0; shift -= 8)
      frame.push_back(static_cast<char>(stream >> shift));
    Send(frame + payload);
  }
  void SendPing(bool ack, const std::string& data = std::string(8, 'p')) {
    SendFrame(kPing, ack ? kFlagAck : 0, 0, data);
  }
  // HEADERS for a gRPC call to `path` carrying `metadata`, every field a literal without indexing (RFC 7541
  // 6.2.2), no Huffman. No END_STREAM: the call's message never comes, so the stream stays open.
  void SendCallHeaders(uint32_t stream,
                       const std::string& path,
                       const std::vector<std::pair<std::string, std::string>>& metadata) {
    std::vector<std::pair<std::string, std::string>> fields = {{":method", "POST"},
                                                               {":scheme", "http"},
                                                               {":path", path},
                                                               {":authority", "localhost"},
                                                               {"content-type", "application/grpc"},
                                                               {"te", "trailers"}};
    fields.insert(fields.end(), metadata.begin(), metadata.end());
    std::string block;
    for (const auto& [name, value] : fields) {
      block.push_back('\0');
      AppendLength(block, name.size());
      block += name;
      AppendLength(block, value.size());
      block += value;
    }
    SendFrame(kHeaders, kFlagEndHeaders, stream, block);
  }

  // The next frame, or nullopt once the connection is closed or `timeout` passed (then timed_out() is true).
  std::optional<Frame> ReadFrame(absl::Duration timeout) {
    timed_out_ = false;
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      if (buffer_.size() >= 9) {
        const size_t length = (static_cast<uint8_t>(buffer_[0]) << 16) | (static_cast<uint8_t>(buffer_[1]) << 8) |
                              static_cast<uint8_t>(buffer_[2]);
        if (buffer_.size() >= 9 + length) {
          Frame frame{static_cast<uint8_t>(buffer_[3]), static_cast<uint8_t>(buffer_[4]),
                      Read32(buffer_, 5) & 0x7fffffff, buffer_.substr(9, length)};
          buffer_.erase(0, 9 + length);
          return frame;
        }
      }
      if (closed_)
        return std::nullopt;
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        timed_out_ = true;
        return std::nullopt;
      }
      timeval tv = absl::ToTimeval(left);
      setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      char chunk[16384];
      const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      if (n > 0) {
        buffer_.append(chunk, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        closed_ = true;
        closed_at_ = absl::Now();
      }
    }
  }
  // Reads until SETTINGS arrives from the server, acknowledging it; returns its parameters.
  std::vector<std::pair<uint16_t, uint32_t>> ReadServerSettings() {
    std::vector<std::pair<uint16_t, uint32_t>> settings;
    while (std::optional<Frame> frame = ReadFrame(kGenerous)) {
      if (frame->type != kSettings || (frame->flags & kFlagAck))
        continue;
      for (size_t at = 0; at + 6 <= frame->payload.size(); at += 6) {
        const uint16_t id = static_cast<uint16_t>((static_cast<uint8_t>(frame->payload[at]) << 8) |
                                                  static_cast<uint8_t>(frame->payload[at + 1]));
        settings.emplace_back(id, Read32(frame->payload, at + 2));
      }
      SendFrame(kSettings, kFlagAck, 0, "");
      break;
    }
    return settings;
  }

  bool closed() const { return closed_; }
  bool timed_out() const { return timed_out_; }
  absl::Time closed_at() const { return closed_at_; }

 private:
  static void AppendLength(std::string& out, size_t length) {
    // A 7-bit-prefix integer (RFC 7541 5.1), Huffman bit clear.
    if (length < 127) {
      out.push_back(static_cast<char>(length));
      return;
    }
    out.push_back(static_cast<char>(127));
    length -= 127;
    while (length >= 128) {
      out.push_back(static_cast<char>((length % 128) | 128));
      length /= 128;
    }
    out.push_back(static_cast<char>(length));
  }
  void Send(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0)
        return;  // the server closed the connection: reads will say so
      done += static_cast<size_t>(n);
    }
  }

  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  bool timed_out_ = false;
  absl::Time closed_at_;
  std::string buffer_;
};

class GrpcLimitsTest : public ::testing::Test {
 protected:
  static constexpr int64_t kSw = 1;

  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "bgsync-limits-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    registry_.Add(kSw, mail_);
  }
  void TearDown() override {
    host_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Start(BackgroundSyncHost::Config config) {
    config.socket_path = dir_ + "/browser.sock";
    BackgroundSyncHost::Embedder embedder;
    embedder.clock = &clock_;
    embedder.network = &network_;
    embedder.permissions = &permissions_;
    embedder.registry = &registry_;
    embedder.worker_spec = [](int64_t) -> absl::StatusOr<WorkerSpec> {
      return absl::NotFoundError("no worker processes in this test");
    };
    embedder.launcher = &launcher_;
    embedder.storage = std::make_unique<MemoryStorageBackend>();
    absl::StatusOr<std::unique_ptr<BackgroundSyncHost>> host = BackgroundSyncHost::Start(config, std::move(embedder));
    ASSERT_TRUE(host.ok()) << host.status();
    host_ = *std::move(host);
  }
  std::string socket_path() const { return dir_ + "/browser.sock"; }
  std::string WindowToken() { return host_->sessions().Create(mail_, ClientType::kWindow, 0, 0)->token; }

  // A unary GetRegistrations on a fresh channel of its own.
  grpc::Status GetTags(const std::string& token, mojom::GetRegistrationsReply* reply = nullptr) {
    if (!channel_)
      channel_ = grpc::CreateChannel("unix:" + socket_path(), grpc::InsecureChannelCredentials());
    auto stub = mojom::OneShotBackgroundSyncService::NewStub(channel_);
    grpc::ClientContext context;
    context.AddMetadata(kSessionMetadataKey, token);
    context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
    mojom::GetRegistrationsRequest request;
    request.set_service_worker_registration_id(kSw);
    mojom::GetRegistrationsReply ignored;
    return stub->GetRegistrations(&context, request, reply ? reply : &ignored);
  }

  const Origin mail_ = *Origin::Parse("https://mail.example");
  std::string dir_;
  SystemClock clock_;
  FakeNetworkState network_{false};
  FakePermissionController permissions_;
  FakeServiceWorkerRegistry registry_;
  ProcessLauncher launcher_;
  std::unique_ptr<BackgroundSyncHost> host_;
  std::shared_ptr<grpc::Channel> channel_;
};

// The connection's first SETTINGS carry the stream cap and the metadata limit of the Config.
TEST_F(GrpcLimitsTest, TheServerAdvertisesItsLimits) {
  BackgroundSyncHost::Config config;
  Start(config);
  RawHttp2Connection peer(socket_path());
  ASSERT_TRUE(peer.connected());
  peer.SendPreface();
  std::optional<uint32_t> streams, header_list;
  for (const auto& [id, value] : peer.ReadServerSettings()) {
    if (id == kSettingsMaxConcurrentStreams)
      streams = value;
    if (id == kSettingsMaxHeaderListSize)
      header_list = value;
  }
  ASSERT_TRUE(streams);
  EXPECT_EQ(*streams, static_cast<uint32_t>(config.max_concurrent_streams));
  ASSERT_TRUE(header_list);
  EXPECT_EQ(*header_list, static_cast<uint32_t>(config.max_metadata_bytes));
  std::printf("figure: SETTINGS from the browser: MAX_CONCURRENT_STREAMS %u, MAX_HEADER_LIST_SIZE %u\n", *streams,
              *header_list);
}

// A peer that ignores the advertised cap: streams within it stay open; the first one beyond it makes gRPC 1.51
// drop the whole connection (its open calls fail UNAVAILABLE "Failed parsing HTTP/2"). Other connections are not
// affected.
TEST_F(GrpcLimitsTest, AConnectionExceedingTheStreamCapIsDropped) {
  BackgroundSyncHost::Config config;
  config.max_concurrent_streams = 8;
  Start(config);
  const std::string token = WindowToken();
  RawHttp2Connection peer(socket_path());
  ASSERT_TRUE(peer.connected());
  peer.SendPreface();
  peer.ReadServerSettings();
  for (int i = 0; i < config.max_concurrent_streams; ++i) {
    peer.SendCallHeaders(1 + 2 * i, "/bgsync.mojom.OneShotBackgroundSyncService/Register",
                         {{kSessionMetadataKey, token}});
  }
  // Within the cap: nothing happens to the streams (their messages never come).
  int answered_within_cap = 0;
  while (std::optional<RawHttp2Connection::Frame> frame = peer.ReadFrame(absl::Milliseconds(500)))
    answered_within_cap += frame->type == kHeaders || frame->type == kRstStream ? 1 : 0;
  EXPECT_TRUE(peer.timed_out());
  EXPECT_EQ(answered_within_cap, 0);

  const absl::Time over = absl::Now();
  peer.SendCallHeaders(1 + 2 * config.max_concurrent_streams, "/bgsync.mojom.OneShotBackgroundSyncService/Register",
                       {{kSessionMetadataKey, token}});
  int failed = 0;
  bool goaway = false;
  while (std::optional<RawHttp2Connection::Frame> frame = peer.ReadFrame(kGenerous)) {
    failed += frame->type == kHeaders ? 1 : 0;
    goaway = goaway || frame->type == kGoaway;
  }
  ASSERT_TRUE(peer.closed()) << "the connection survived a stream beyond the cap";
  EXPECT_EQ(failed, config.max_concurrent_streams);
  EXPECT_TRUE(GetTags(token).ok()) << "another connection was hurt";
  std::printf(
      "figure: stream cap %d: %d streams stay open; stream %d drops the connection after %.1f ms (%d open "
      "calls failed UNAVAILABLE, GOAWAY %s); other connections unaffected\n",
      config.max_concurrent_streams, config.max_concurrent_streams, config.max_concurrent_streams + 1,
      absl::ToDoubleMilliseconds(peer.closed_at() - over), failed, goaway ? "sent" : "not sent");
}

// A peer pinging without sending data more often than min_client_ping_interval is told to calm down (GOAWAY
// ENHANCE_YOUR_CALM "too_many_pings") after max_ping_strikes, and disconnected.
TEST_F(GrpcLimitsTest, APingFloodIsCutOff) {
  BackgroundSyncHost::Config config;
  Start(config);
  RawHttp2Connection peer(socket_path());
  ASSERT_TRUE(peer.connected());
  peer.SendPreface();
  peer.ReadServerSettings();
  int pings = 0;
  std::optional<RawHttp2Connection::Frame> goaway;
  const absl::Time deadline = absl::Now() + kGenerous;
  while (!goaway && !peer.closed() && absl::Now() < deadline) {
    peer.SendPing(/*ack=*/false);
    ++pings;
    while (std::optional<RawHttp2Connection::Frame> frame = peer.ReadFrame(absl::Milliseconds(1))) {
      if (frame->type == kGoaway) {
        goaway = frame;
        break;
      }
    }
  }
  ASSERT_TRUE(goaway) << "no GOAWAY after " << pings << " pings";
  ASSERT_GE(goaway->payload.size(), 8u);
  EXPECT_EQ(Read32(goaway->payload, 4), kEnhanceYourCalm);
  const std::string debug = goaway->payload.substr(8);
  EXPECT_EQ(debug, "too_many_pings");
  EXPECT_LE(pings, config.max_ping_strikes + 2);
  while (peer.ReadFrame(kGenerous)) {
  }
  EXPECT_TRUE(peer.closed());
  std::printf(
      "figure: ping flood (max_ping_strikes %d, min interval %.0f s): GOAWAY ENHANCE_YOUR_CALM \"%s\" after "
      "%d pings, then closed\n",
      config.max_ping_strikes, absl::ToDoubleSeconds(config.min_client_ping_interval), debug.c_str(), pings);
}

// A peer that stops answering (a hung process holding its connection): the browser's keepalive ping goes
// unacknowledged and the connection is closed after keepalive_time + keepalive_timeout.
TEST_F(GrpcLimitsTest, AnUnresponsivePeerIsDisconnectedByKeepalive) {
  BackgroundSyncHost::Config config;
  config.keepalive_time = absl::Milliseconds(300);
  config.keepalive_timeout = absl::Milliseconds(300);
  Start(config);
  RawHttp2Connection peer(socket_path());
  ASSERT_TRUE(peer.connected());
  const absl::Time start = absl::Now();
  peer.SendPreface();
  peer.ReadServerSettings();
  std::optional<absl::Time> pinged;
  while (std::optional<RawHttp2Connection::Frame> frame = peer.ReadFrame(kGenerous)) {
    if (frame->type == kPing && !(frame->flags & kFlagAck) && !pinged)
      pinged = absl::Now();  // never acknowledged
  }
  ASSERT_TRUE(peer.closed()) << "still connected";
  ASSERT_TRUE(pinged) << "the browser never pinged";
  const absl::Duration closed_after = peer.closed_at() - start;
  EXPECT_GE(closed_after, config.keepalive_time + config.keepalive_timeout - absl::Milliseconds(50));
  EXPECT_LT(closed_after, config.keepalive_time + config.keepalive_timeout + absl::Seconds(5));
  std::printf(
      "figure: keepalive %.0f ms + timeout %.0f ms: pinged after %.0f ms, unanswered peer closed after %.0f "
      "ms\n",
      absl::ToDoubleMilliseconds(config.keepalive_time), absl::ToDoubleMilliseconds(config.keepalive_timeout),
      absl::ToDoubleMilliseconds(*pinged - start), absl::ToDoubleMilliseconds(closed_after));
}

// A peer that answers pings but never calls anything is let go after max_connection_idle (GOAWAY).
TEST_F(GrpcLimitsTest, AnIdleConnectionIsClosed) {
  BackgroundSyncHost::Config config;
  config.max_connection_idle = absl::Milliseconds(500);
  Start(config);
  RawHttp2Connection peer(socket_path());
  ASSERT_TRUE(peer.connected());
  const absl::Time start = absl::Now();
  peer.SendPreface();
  peer.ReadServerSettings();
  std::optional<absl::Time> goaway;
  while (std::optional<RawHttp2Connection::Frame> frame = peer.ReadFrame(kGenerous)) {
    if (frame->type == kPing && !(frame->flags & kFlagAck))
      peer.SendPing(/*ack=*/true, frame->payload);
    if (frame->type == kGoaway && !goaway)
      goaway = absl::Now();
  }
  ASSERT_TRUE(goaway) << "never told to go away";
  EXPECT_GE(*goaway - start, config.max_connection_idle - absl::Milliseconds(50));
  EXPECT_LT(*goaway - start, config.max_connection_idle + absl::Seconds(5));
  std::printf("figure: max_connection_idle %.0f ms: GOAWAY after %.0f ms, closed after %.0f ms\n",
              absl::ToDoubleMilliseconds(config.max_connection_idle), absl::ToDoubleMilliseconds(*goaway - start),
              peer.closed() ? absl::ToDoubleMilliseconds(peer.closed_at() - start) : -1.0);
}

// A peer that connects and says nothing (not even the HTTP/2 preface) is closed after handshake_timeout.
TEST_F(GrpcLimitsTest, ASilentConnectionIsClosedAfterTheHandshakeTimeout) {
  BackgroundSyncHost::Config config;
  config.handshake_timeout = absl::Milliseconds(500);
  Start(config);
  RawHttp2Connection peer(socket_path());
  ASSERT_TRUE(peer.connected());
  const absl::Time start = absl::Now();
  while (peer.ReadFrame(kGenerous)) {
  }
  ASSERT_TRUE(peer.closed()) << "a silent connection stays open";
  const absl::Duration closed_after = peer.closed_at() - start;
  EXPECT_GE(closed_after, config.handshake_timeout - absl::Milliseconds(50));
  EXPECT_LT(closed_after, config.handshake_timeout + absl::Seconds(5));
  std::printf("figure: handshake timeout %.0f ms: a silent connection closed after %.0f ms\n",
              absl::ToDoubleMilliseconds(config.handshake_timeout), absl::ToDoubleMilliseconds(closed_after));
}

// The per-session rate limit: a burst, then the sustained rate; beyond it RESOURCE_EXHAUSTED with a clear
// message, counted, one log line per session; other sessions are unaffected; an ended session's bucket is freed.
TEST_F(GrpcLimitsTest, ThePerSessionRateLimit) {
  BackgroundSyncHost::Config config;
  config.rate_limit = {/*calls_per_second=*/10, /*burst=*/20, /*refusal_delay=*/absl::ZeroDuration()};
  Start(config);
  const std::string flooding = WindowToken();
  int ok = 0;
  grpc::Status refused;
  for (int i = 0; i < 100; ++i) {
    grpc::Status status = GetTags(flooding);
    if (status.ok())
      ++ok;
    else
      refused = status;
  }
  // 20 at once, plus whatever the 10 calls/s refilled while the 100 calls ran.
  EXPECT_GE(ok, 20);
  EXPECT_LT(ok, 30);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(refused.error_message(), "rate limit: more than 10 calls/s (burst 20) on this session");
  EXPECT_EQ(host_->rate_limiter().refused(), 100 - ok);
  EXPECT_TRUE(GetTags(WindowToken()).ok()) << "another session was limited too";
  absl::SleepFor(absl::Milliseconds(200));  // two calls' worth of refill
  EXPECT_TRUE(GetTags(flooding).ok());
  int lines = 0;
  for (const LogEntry& entry : host_->log().Since(0))
    lines += entry.event == "Rate limited" ? 1 : 0;
  EXPECT_EQ(lines, 1);
  EXPECT_EQ(host_->bad_messages().count(), 0) << "being limited is not a bad message";
  const size_t tracked = host_->rate_limiter().tracked_sessions();
  for (const Session& session : host_->sessions().List())
    host_->sessions().Revoke(session.id);
  EXPECT_EQ(host_->rate_limiter().tracked_sessions(), 0u);
  std::printf(
      "figure: rate limit 10 calls/s burst 20: %d of 100 back-to-back calls answered, %d RESOURCE_EXHAUSTED "
      "(\"%s\"); buckets %zu -> 0 after the sessions ended\n",
      ok, 100 - ok, refused.error_message().c_str(), tracked);
}

// Refusals are held back (a tarpit): each refused call waits refusal_delay for its RESOURCE_EXHAUSTED, and a
// session's refusals come back no faster than its rate, so a flooder's calls in flight do not raise its rate: it
// gets about its limit in answers and its limit in refusals a second. Ending a session answers its held refusals
// at once; shutting the browser down answers every held one at once.
TEST_F(GrpcLimitsTest, RefusalsAreHeldBackToSlowAFlooderDown) {
  BackgroundSyncHost::Config config;
  config.rate_limit = {/*calls_per_second=*/10, /*burst=*/10, /*refusal_delay=*/absl::Milliseconds(200)};
  Start(config);
  const std::string flooding = WindowToken();
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(GetTags(flooding).ok());
  const absl::Time refused_at = absl::Now();
  grpc::Status refused = GetTags(flooding);
  const absl::Duration waited = absl::Now() - refused_at;
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_GE(waited, absl::Milliseconds(190));

  // 64 calls always in flight for one second (the stream limit of a connection), on this session and on another
  // one, each on a connection of its own; answers are counted for that second (the refusals still held then are
  // answered when the sessions end).
  struct Call {
    grpc::ClientContext context;
    mojom::GetRegistrationsRequest request;
    mojom::GetRegistrationsReply reply;
  };
  struct Flood {
    std::string token;
    std::unique_ptr<mojom::OneShotBackgroundSyncService::Stub> stub;
    int in_flight = 0, completed = 0, refused = 0;
  };
  absl::Mutex mu;
  Flood floods[2] = {{flooding}, {WindowToken()}};
  for (int i = 0; i < 2; ++i) {
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    arguments.SetString("bgsync.peer", absl::StrCat(i));  // a connection of its own
    floods[i].stub = mojom::OneShotBackgroundSyncService::NewStub(
        grpc::CreateCustomChannel("unix:" + socket_path(), grpc::InsecureChannelCredentials(), arguments));
  }
  std::vector<std::unique_ptr<Call>> calls;
  const absl::Time stop = absl::Now() + absl::Seconds(1);
  std::function<void(Flood&)> next = [&](Flood& flood) {
    absl::MutexLock lock(&mu);
    if (absl::Now() >= stop)
      return;
    ++flood.in_flight;
    calls.push_back(std::make_unique<Call>());
    Call* call = calls.back().get();
    call->context.AddMetadata(kSessionMetadataKey, flood.token);
    call->request.set_service_worker_registration_id(kSw);
    flood.stub->async()->GetRegistrations(&call->context, &call->request, &call->reply, [&](grpc::Status status) {
      next(flood);
      absl::MutexLock lock(&mu);
      --flood.in_flight;
      if (absl::Now() < stop) {
        ++flood.completed;
        flood.refused += status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ? 1 : 0;
      }
    });
  };
  for (Flood& flood : floods) {
    for (int i = 0; i < 64; ++i)
      next(flood);
  }
  absl::SleepFor(stop - absl::Now());
  ASSERT_TRUE(Eventually([&] { return host_->rate_limiter().held_refusals() > 0; }));
  const size_t held = host_->rate_limiter().held_refusals();
  // Ending a session answers its held refusals at once.
  const absl::Time forgotten = absl::Now();
  for (const Session& session : host_->sessions().List())
    host_->sessions().Revoke(session.id);
  {
    absl::MutexLock lock(&mu);
    auto idle = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return floods[0].in_flight + floods[1].in_flight == 0; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&idle), kGenerous));
  }
  const absl::Duration drained = absl::Now() - forgotten;
  EXPECT_LT(drained, absl::Seconds(2)) << "held refusals of ended sessions were not answered at once";
  // In that second each session got at most its burst and rate (10 + 10) and about 10 refusals (they start
  // 200 ms in and come 100 ms apart), not 64 answers per 200 ms.
  for (const Flood& flood : floods) {
    EXPECT_LE(flood.completed - flood.refused, 10 + 10 + 2);
    EXPECT_LE(flood.refused, 10 + 2);
  }

  // Held refusals are answered when the browser shuts down.
  const std::string last_token = WindowToken();
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(GetTags(last_token).ok());
  auto stub = mojom::OneShotBackgroundSyncService::NewStub(channel_);
  std::atomic<int> answered{0};
  std::vector<std::unique_ptr<Call>> last(16);
  for (auto& call : last) {
    call = std::make_unique<Call>();
    call->context.AddMetadata(kSessionMetadataKey, last_token);
    call->request.set_service_worker_registration_id(kSw);
    stub->async()->GetRegistrations(&call->context, &call->request, &call->reply,
                                    [&answered](grpc::Status) { ++answered; });
  }
  ASSERT_TRUE(Eventually([&] { return host_->rate_limiter().held_refusals() > 0; }));
  const absl::Time shutdown = absl::Now();
  host_.reset();
  const absl::Duration shutdown_took = absl::Now() - shutdown;
  ASSERT_TRUE(Eventually([&] { return answered.load() == 16; }));
  std::printf(
      "figure: refusal delay 200 ms, 10 calls/s: a refused call answered after %.0f ms; 2 sessions keeping 64 "
      "calls in flight for 1 s got %d and %d answers (%d and %d of them refusals; before refusals were paced, one "
      "session got 330), %zu "
      "refusals held at the end, answered %.0f ms after their sessions ended; shutdown with held refusals took "
      "%.0f ms\n",
      absl::ToDoubleMilliseconds(waited), floods[0].completed, floods[1].completed, floods[0].refused,
      floods[1].refused, held, absl::ToDoubleMilliseconds(drained), absl::ToDoubleMilliseconds(shutdown_took));
}

// Many peers pushing messages at the size limit at once against a small gRPC memory quota: the browser keeps
// serving (calls succeed or are refused, none hangs) and its memory stays within bounds.
TEST_F(GrpcLimitsTest, TheMemoryQuotaBoundsBuffersUnderLoad) {
  BackgroundSyncHost::Config config;
  config.max_grpc_memory_bytes = 4 * 1024 * 1024;
  config.rate_limit.calls_per_second = 0;
  Start(config);
  const std::string token = WindowToken();
  constexpr int kPeers = 32;
  constexpr int kCallsPerPeer = 20;
  const int64_t rss_before = ResidentKib(getpid());
  std::atomic<int> ok{0}, exhausted{0}, other{0};
  std::vector<std::thread> peers;
  for (int p = 0; p < kPeers; ++p) {
    peers.emplace_back([&, p] {
      grpc::ChannelArguments arguments;
      arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      arguments.SetString("bgsync.peer", absl::StrCat(p));  // a connection of its own
      auto stub = mojom::OneShotBackgroundSyncService::NewStub(
          grpc::CreateCustomChannel("unix:" + socket_path(), grpc::InsecureChannelCredentials(), arguments));
      for (int i = 0; i < kCallsPerPeer; ++i) {
        grpc::ClientContext context;
        context.AddMetadata(kSessionMetadataKey, token);
        context.set_deadline(absl::ToChronoTime(absl::Now() + kGenerous));
        mojom::RegisterRequest request;
        request.set_service_worker_registration_id(kSw);
        request.mutable_options()->set_tag(std::string(60 * 1024, 'q'));  // TAG_TOO_LONG once handled
        mojom::RegisterReply reply;
        grpc::Status status = stub->Register(&context, request, &reply);
        if (status.ok())
          ++ok;
        else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED)
          ++exhausted;
        else
          ++other;
      }
    });
  }
  for (std::thread& peer : peers)
    peer.join();
  const int64_t rss_after = ResidentKib(getpid());
  EXPECT_EQ(ok + exhausted + other, kPeers * kCallsPerPeer);
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(ok.load(), 0);
  EXPECT_TRUE(GetTags(token).ok()) << "the browser stopped serving";
  std::printf(
      "figure: %d peers x %d calls of 60 KiB against a 4 MiB gRPC memory quota: %d answered, %d "
      "RESOURCE_EXHAUSTED, %d other; test process (browser + clients) RSS %lld -> %lld KiB\n",
      kPeers, kCallsPerPeer, ok.load(), exhausted.load(), other.load(), static_cast<long long>(rss_before),
      static_cast<long long>(rss_after));
}

}  // namespace
}  // namespace bgsync
