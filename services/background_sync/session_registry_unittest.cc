#include "services/background_sync/session_registry.h"

#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "services/background_sync/bad_message_reporter.h"

namespace bgsync {
namespace {

const Origin kMail = *Origin::Parse("https://mail.example");

TEST(SessionRegistryTest, TokensAreUnguessableAndAuthenticate) {
  SessionRegistry sessions;
  std::set<std::string> tokens;
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<SessionRegistry::Created> created = sessions.Create(kMail, ClientType::kWindow, 0, 0);
    ASSERT_TRUE(created.ok());
    EXPECT_EQ(created->token.size(), 64u);
    EXPECT_EQ(created->token.find_first_not_of("0123456789abcdef"), std::string::npos);
    tokens.insert(created->token);
    std::optional<Session> session = sessions.Authenticate(created->token);
    ASSERT_TRUE(session);
    EXPECT_EQ(session->id, created->session.id);
    EXPECT_EQ(session->origin, kMail);
  }
  EXPECT_EQ(tokens.size(), 100u);
  EXPECT_FALSE(sessions.Authenticate(""));
  EXPECT_FALSE(sessions.Authenticate(std::string(64, '0')));
}

TEST(SessionRegistryTest, AnOriginHasAWindowWhileAnyOfItsWindowSessionsLives) {
  SessionRegistry sessions;
  const Origin other = *Origin::Parse("https://other.example");
  auto iframe = *sessions.Create(kMail, ClientType::kIframe, 0, 0);
  EXPECT_FALSE(sessions.HasWindow(kMail));  // only top-level windows count
  auto first = *sessions.Create(kMail, ClientType::kWindow, 0, 0);
  auto second = *sessions.Create(kMail, ClientType::kWindow, 0, 0);
  EXPECT_TRUE(sessions.HasWindow(kMail));
  EXPECT_FALSE(sessions.HasWindow(other));
  sessions.Revoke(first.session.id);
  sessions.Revoke(first.session.id);  // a second revoke of one session changes nothing
  EXPECT_TRUE(sessions.HasWindow(kMail));
  sessions.Revoke(iframe.session.id);
  EXPECT_TRUE(sessions.HasWindow(kMail));
  sessions.Revoke(second.session.id);
  EXPECT_FALSE(sessions.HasWindow(kMail));
}

TEST(SessionRegistryTest, RevokeEndsTheSessionAndNotifiesOnce) {
  SessionRegistry sessions;
  std::vector<uint64_t> revoked;
  sessions.AddRevokeObserver([&](const Session& s) { revoked.push_back(s.id); });
  auto window = *sessions.Create(kMail, ClientType::kWindow, 0, 100);
  auto worker = *sessions.Create(kMail, ClientType::kServiceWorker, 5, 101);
  EXPECT_TRUE(sessions.HasWindow(kMail));
  sessions.Revoke(window.session.id);
  sessions.Revoke(window.session.id);
  EXPECT_FALSE(sessions.Authenticate(window.token));
  EXPECT_TRUE(sessions.Authenticate(worker.token));
  EXPECT_FALSE(sessions.HasWindow(kMail));
  sessions.RevokeProcess(101);
  EXPECT_FALSE(sessions.Authenticate(worker.token));
  EXPECT_EQ(revoked, (std::vector<uint64_t>{window.session.id, worker.session.id}));
  EXPECT_TRUE(sessions.List().empty());
}

TEST(SessionRegistryTest, BoundSessionIsRefusedOnAnyOtherConnectionAndCounted) {
  SessionRegistry sessions;
  auto bound = *sessions.Create(kMail, ClientType::kWindow, 0, 100, "fd:17");
  EXPECT_EQ(bound.session.bound_peer, "fd:17");
  std::optional<Session> own = sessions.Authenticate(bound.token, "fd:17");
  ASSERT_TRUE(own);
  EXPECT_EQ(own->id, bound.session.id);
  EXPECT_EQ(sessions.stolen_token_refusals(), 0);

  // The shared socket, another process's channel, a channel whose number merely starts alike, no connection.
  for (const char* other : {"unix:", "fd:18", "fd:1", "fd:170", ""})
    EXPECT_FALSE(sessions.Authenticate(bound.token, other)) << other;
  EXPECT_FALSE(sessions.Authenticate(bound.token));
  EXPECT_EQ(sessions.stolen_token_refusals(), 6);
  // A refusal does not end the session: its own process carries on.
  EXPECT_TRUE(sessions.IsLive(bound.session.id));
  EXPECT_TRUE(sessions.Authenticate(bound.token, "fd:17"));
  // Unknown and revoked tokens are not counted as stolen.
  EXPECT_FALSE(sessions.Authenticate(std::string(64, '0'), "fd:17"));
  sessions.Revoke(bound.session.id);
  EXPECT_FALSE(sessions.Authenticate(bound.token, "fd:17"));
  EXPECT_EQ(sessions.stolen_token_refusals(), 6);
}

TEST(SessionRegistryTest, UnboundSessionIsABearerTokenOnAnyConnection) {
  SessionRegistry sessions;
  auto tool = *sessions.Create(kMail, ClientType::kWindow, 0, 0);
  EXPECT_EQ(tool.session.bound_peer, "");
  for (const char* peer : {"unix:", "fd:17", ""})
    EXPECT_TRUE(sessions.Authenticate(tool.token, peer)) << peer;
  EXPECT_TRUE(sessions.Authenticate(tool.token));
  EXPECT_EQ(sessions.stolen_token_refusals(), 0);
}

TEST(SessionRegistryTest, RevokeBoundToEndsTheSessionsOfThatConnectionOnly) {
  SessionRegistry sessions;
  std::vector<uint64_t> revoked;
  sessions.AddRevokeObserver([&](const Session& s) { revoked.push_back(s.id); });
  auto old_channel = *sessions.Create(kMail, ClientType::kServiceWorker, 5, 100, "fd:9");
  auto other_channel = *sessions.Create(kMail, ClientType::kWindow, 0, 101, "fd:90");
  auto tool = *sessions.Create(kMail, ClientType::kWindow, 0, 0);
  sessions.RevokeBoundTo("");  // unbound sessions have no connection to lose
  sessions.RevokeBoundTo("fd:9");
  EXPECT_FALSE(sessions.IsLive(old_channel.session.id));
  EXPECT_TRUE(sessions.IsLive(other_channel.session.id));
  EXPECT_TRUE(sessions.IsLive(tool.session.id));
  EXPECT_EQ(revoked, std::vector<uint64_t>{old_channel.session.id});
  // A new session may now be bound to the name; the old token stays dead on it.
  auto new_channel = *sessions.Create(kMail, ClientType::kServiceWorker, 5, 102, "fd:9");
  EXPECT_TRUE(sessions.Authenticate(new_channel.token, "fd:9"));
  EXPECT_FALSE(sessions.Authenticate(old_channel.token, "fd:9"));
}

// A launched process's session exists before its pid is known (the token goes into the spawn). SetPid records
// the pid of a live session and fails for one that ended in the meantime, so the launcher can kill the process.
TEST(SessionRegistryTest, SetPidFailsForASessionRevokedBeforeThePidWasRecorded) {
  SessionRegistry sessions;
  auto live = *sessions.Create(kMail, ClientType::kWindow, 0, 0, "fd:7");
  EXPECT_TRUE(sessions.SetPid(live.session.id, 4242).ok());
  EXPECT_EQ(sessions.Authenticate(live.token, "fd:7")->pid, 4242);
  auto revoked = *sessions.Create(kMail, ClientType::kServiceWorker, 3, 0, "fd:8");
  std::optional<Session> ended = sessions.Revoke(revoked.session.id);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->pid, 0);
  EXPECT_EQ(sessions.SetPid(revoked.session.id, 4243).code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(sessions.Revoke(revoked.session.id)) << "revoked twice";
  EXPECT_EQ(sessions.SetPid(12345, 4244).code(), absl::StatusCode::kNotFound) << "an id never issued";
  EXPECT_EQ(sessions.Revoke(live.session.id)->pid, 4242);
}

// The race of a bad message with the launch, both orders: the reporter kills the pid recorded when it revokes the
// session, even if the call's copy of the session was taken before the pid was recorded; and when it revokes
// first, there is no pid to kill and SetPid tells the launcher to kill instead. Either way the process dies.
TEST(SessionRegistryTest, ABadMessageRacingTheLaunchStillKillsTheProcess) {
  SessionRegistry sessions;
  std::vector<pid_t> killed;
  BadMessageReporter reporter(&sessions, [&](pid_t pid) { killed.push_back(pid); });

  // The pid is recorded between the call's authentication and its report.
  auto first = *sessions.Create(kMail, ClientType::kWindow, 0, 0, "fd:7");
  const Session stale = *sessions.Authenticate(first.token, "fd:7");
  ASSERT_TRUE(sessions.SetPid(first.session.id, 4242).ok());
  EXPECT_EQ(reporter.Report(stale, "impossible").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(killed, std::vector<pid_t>{4242});

  // The report comes before the pid is recorded.
  auto second = *sessions.Create(kMail, ClientType::kServiceWorker, 3, 0, "fd:8");
  EXPECT_EQ(reporter.Report(*sessions.Authenticate(second.token, "fd:8"), "impossible").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(killed, std::vector<pid_t>{4242}) << "no pid to kill yet";
  EXPECT_EQ(sessions.SetPid(second.session.id, 4243).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(reporter.count(), 2);
}

}  // namespace
}  // namespace bgsync
