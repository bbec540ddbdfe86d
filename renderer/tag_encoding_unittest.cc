#include "renderer/tag_encoding.h"

#include <string>

#include "gtest/gtest.h"

namespace bgsync {
namespace {

TEST(TagEncodingTest, EncodesSpacesControlsPercentAndNonAscii) {
  EXPECT_EQ(PercentEncodeTag("outbox"), "outbox");
  EXPECT_EQ(PercentEncodeTag(""), "");
  EXPECT_EQ(PercentEncodeTag("a b"), "a%20b");
  EXPECT_EQ(PercentEncodeTag("100%"), "100%25");
  EXPECT_EQ(PercentEncodeTag(std::string("\n\t\x7f", 3)), "%0A%09%7F");
  EXPECT_EQ(PercentEncodeTag("\xc3\xa9"), "%C3%A9");
  EXPECT_EQ(PercentEncodeTag(std::string(1, '\0')), "%00");
}

TEST(TagEncodingTest, DecodesWhatItEncodes) {
  std::string all_bytes;
  for (int byte = 0; byte < 256; ++byte)
    all_bytes.push_back(static_cast<char>(byte));
  EXPECT_EQ(PercentDecodeTag(PercentEncodeTag(all_bytes)), all_bytes);
  EXPECT_EQ(PercentDecodeTag("a%20b%2f"), "a b/");
  EXPECT_EQ(PercentDecodeTag(""), "");
}

TEST(TagEncodingTest, RejectsMalformedEscapes) {
  EXPECT_EQ(PercentDecodeTag("%"), std::nullopt);
  EXPECT_EQ(PercentDecodeTag("ab%2"), std::nullopt);
  EXPECT_EQ(PercentDecodeTag("%zz"), std::nullopt);
}

}  // namespace
}  // namespace bgsync
