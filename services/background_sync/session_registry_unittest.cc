#include "services/background_sync/session_registry.h"

#include <set>

#include "gtest/gtest.h"

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

}  // namespace
}  // namespace bgsync
