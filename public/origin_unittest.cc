#include "public/origin.h"

#include "gtest/gtest.h"

namespace bgsync {
namespace {

TEST(OriginTest, ParsesAndCanonicalizes) {
  absl::StatusOr<Origin> origin = Origin::Parse("HTTPS://Mail.Example:443");
  ASSERT_TRUE(origin.ok()) << origin.status();
  EXPECT_EQ(origin->scheme(), "https");
  EXPECT_EQ(origin->host(), "mail.example");
  EXPECT_EQ(origin->port(), 0);
  EXPECT_EQ(origin->Serialize(), "https://mail.example");
}

TEST(OriginTest, KeepsNonDefaultPort) {
  absl::StatusOr<Origin> origin = Origin::Parse("http://localhost:8080");
  ASSERT_TRUE(origin.ok());
  EXPECT_EQ(origin->port(), 8080);
  EXPECT_EQ(origin->Serialize(), "http://localhost:8080");
}

TEST(OriginTest, ParsesIpv6Literal) {
  absl::StatusOr<Origin> origin = Origin::Parse("http://[::1]:9000");
  ASSERT_TRUE(origin.ok()) << origin.status();
  EXPECT_EQ(origin->host(), "[::1]");
  EXPECT_EQ(origin->Serialize(), "http://[::1]:9000");
}

TEST(OriginTest, RejectsMalformed) {
  for (const char* text :
       {"", "mail.example", "https://", "https://a/b", "https://a:0", "https://a:65536", "https://a:x", "https://a b",
        "1https://a", "https://[::1", "https://[zz]", "https://user@a", "https://a:-1"}) {
    EXPECT_FALSE(Origin::Parse(text).ok()) << text;
  }
}

TEST(OriginTest, PotentiallyTrustworthy) {
  auto trustworthy = [](const char* text) { return Origin::Parse(text)->IsPotentiallyTrustworthy(); };
  EXPECT_TRUE(trustworthy("https://mail.example"));
  EXPECT_TRUE(trustworthy("http://localhost:8000"));
  EXPECT_TRUE(trustworthy("http://app.localhost"));
  EXPECT_TRUE(trustworthy("http://127.0.0.1"));
  EXPECT_TRUE(trustworthy("http://127.255.0.9:81"));
  EXPECT_TRUE(trustworthy("http://[::1]"));
  EXPECT_FALSE(trustworthy("http://mail.example"));
  EXPECT_FALSE(trustworthy("http://128.0.0.1"));
  EXPECT_FALSE(trustworthy("http://127.0.0"));
  EXPECT_FALSE(trustworthy("http://localhost.example"));
  EXPECT_FALSE(trustworthy("ftp://localhost"));
}

TEST(OriginTest, EqualityAndOrdering) {
  EXPECT_EQ(*Origin::Parse("https://a.example"), *Origin::Parse("https://A.example:443"));
  EXPECT_NE(*Origin::Parse("https://a.example"), *Origin::Parse("http://a.example"));
  EXPECT_LT(*Origin::Parse("http://a.example"), *Origin::Parse("https://a.example"));
}

}  // namespace
}  // namespace bgsync
