#include "quant/echo.h"

#include <string>

#include "gtest/gtest.h"

namespace tqdb {
namespace {

TEST(EchoInput, ShortInputUnchanged) {
  EXPECT_EQ(EchoInput(""), "");
  EXPECT_EQ(EchoInput("docs"), "docs");
  const std::string max(kMaxEcho, 'a');
  EXPECT_EQ(EchoInput(max), max);
}

TEST(EchoInput, LongInputCappedWithItsLength) {
  const std::string name(10000, 'n');
  EXPECT_EQ(EchoInput(name), std::string(kMaxEcho, 'n') + "... (10000 bytes)");
}

TEST(EchoInput, CutsAtACharacterBoundary) {
  // 63 ASCII bytes, then "é" (2 bytes) straddling the cap: it goes whole.
  const std::string in = std::string(63, 'a') + "\xC3\xA9" + "zzz";
  EXPECT_EQ(EchoInput(in), std::string(63, 'a') + "... (68 bytes)");
}

}  // namespace
}  // namespace tqdb
