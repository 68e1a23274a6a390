#include "quant/status_macros.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace tqdb {
namespace {

absl::Status Fails() { return absl::InvalidArgumentError("bad value"); }

absl::Status PlainReturn() {
  TQ_RETURN_IF_ERROR(Fails());
  return absl::OkStatus();
}

absl::Status WithRow(int row) {
  TQ_RETURN_IF_ERROR(Fails()) << "x.fvecs: row " << row;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int>> IntoStatusOr() {
  TQ_RETURN_IF_ERROR(Fails()) << "reading";
  return std::vector<int>{1};
}

absl::StatusOr<int> PassesThrough() {
  TQ_RETURN_IF_ERROR(absl::OkStatus()) << "never shown";
  return 7;
}

TEST(StatusMacrosTest, ReturnIfErrorKeepsCodeAndMessage) {
  EXPECT_EQ(PlainReturn(), absl::InvalidArgumentError("bad value"));
}

TEST(StatusMacrosTest, StreamedContextGoesInFront) {
  EXPECT_EQ(WithRow(3),
            absl::InvalidArgumentError("x.fvecs: row 3: bad value"));
  EXPECT_EQ(IntoStatusOr().status(),
            absl::InvalidArgumentError("reading: bad value"));
}

TEST(StatusMacrosTest, OkFallsThrough) {
  auto v = PassesThrough();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 7);
}

TEST(StatusMacrosTest, WithContext) {
  EXPECT_TRUE(WithContext(absl::OkStatus(), "ctx").ok());
  EXPECT_EQ(WithContext(absl::NotFoundError("m"), "a ", 1),
            absl::NotFoundError("a 1: m"));
  EXPECT_EQ(WithContext(absl::NotFoundError("m"), ""),
            absl::NotFoundError("m"));
}

TEST(StatusMacrosTest, ContextKeepsPayloads) {
  absl::Status marked = absl::ResourceExhaustedError("m");
  marked.SetPayload("type.test/mark", absl::Cord("x"));
  const absl::Status s = [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(marked) << "ctx";
    return absl::OkStatus();
  }();
  EXPECT_EQ(s.message(), "ctx: m");
  EXPECT_EQ(s.GetPayload("type.test/mark"), absl::Cord("x"));
  EXPECT_EQ(WithMessage(marked, "other").GetPayload("type.test/mark"),
            absl::Cord("x"));
  EXPECT_EQ(WithMessage(marked, "other").code(),
            absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace tqdb
