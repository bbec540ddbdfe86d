#include "public/sync_tag.h"

#include <string>

#include "gtest/gtest.h"

namespace bgsync {
namespace {

TEST(SyncTagTest, LengthBoundary) {
  EXPECT_TRUE(IsTagLengthValid(""));
  EXPECT_TRUE(IsTagLengthValid(std::string(kMaxTagLengthBytes, 'a')));
  EXPECT_FALSE(IsTagLengthValid(std::string(kMaxTagLengthBytes + 1, 'a')));
}

TEST(SyncTagTest, WellFormedUtf8) {
  EXPECT_TRUE(IsWellFormedUtf8(""));
  EXPECT_TRUE(IsWellFormedUtf8("sync-messages"));
  EXPECT_TRUE(IsWellFormedUtf8("caf\xC3\xA9"));           // é
  EXPECT_TRUE(IsWellFormedUtf8("\xE2\x82\xAC"));          // €
  EXPECT_TRUE(IsWellFormedUtf8("\xF0\x9F\x93\xAC"));      // 📬
  EXPECT_TRUE(IsWellFormedUtf8(std::string("a\0b", 3)));  // NUL is a valid code point
}

TEST(SyncTagTest, MalformedUtf8) {
  EXPECT_FALSE(IsWellFormedUtf8("\x80"));              // stray continuation byte
  EXPECT_FALSE(IsWellFormedUtf8("\xC3"));              // truncated
  EXPECT_FALSE(IsWellFormedUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsWellFormedUtf8("\xE0\x80\xAF"));      // overlong
  EXPECT_FALSE(IsWellFormedUtf8("\xED\xA0\x80"));      // UTF-16 surrogate D800
  EXPECT_FALSE(IsWellFormedUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsWellFormedUtf8("\xFF"));
}

}  // namespace
}  // namespace bgsync
