#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tools/bench/commands.h"

namespace tqdb {
namespace {

int RunCli(const std::vector<std::string>& args, std::string* out,
           std::string* err) {
  std::ostringstream o, e;
  const int rc = RunDistortion(args, o, e);
  *out = o.str();
  *err = e.str();
  return rc;
}

TEST(DistortionTest, JsonLinesHaveTheDocumentedKeys) {
  std::string out, err;
  ASSERT_EQ(RunCli({"--dim", "64", "--n", "600", "--bits", "2,4", "--json"},
                   &out, &err),
            0)
      << err;
  std::istringstream lines(out);
  std::string line;
  int count = 0;
  for (; std::getline(lines, line); ++count) {
    for (const char* key :
         {"\"method\":", "\"bits\":", "\"dim\":64",
          "\"d_mse\":", "\"ip_bias\":", "\"ip_var\":", "\"bytes_per_vector\":",
          "\"encode_vectors_per_s\":"}) {
      EXPECT_NE(line.find(key), std::string::npos) << key << " in " << line;
    }
  }
  EXPECT_EQ(count, 8);  // 4 methods x 2 bit widths
  // renorm at 4 bits: d_mse near the exact-Beta value (~0.0093 at d = 64).
  const size_t at = out.find("{\"method\":\"renorm\",\"bits\":4");
  ASSERT_NE(at, std::string::npos);
  const double d_mse = std::stod(out.substr(out.find("\"d_mse\":", at) + 8));
  EXPECT_NEAR(d_mse, 0.0093, 0.0015);
}

TEST(DistortionTest, BadInputExitsTwoWithAClearMessage) {
  std::string out, err;
  EXPECT_EQ(RunCli({"--dim", "64", "--bits", "9"}, &out, &err), 2);
  EXPECT_NE(err.find("--bits: '9'"), std::string::npos) << err;
  EXPECT_EQ(RunCli({"--bits", "2"}, &out, &err), 2);
  EXPECT_NE(err.find("--dim"), std::string::npos) << err;
  EXPECT_EQ(RunCli({"--input", "/nonexistent/x.fvecs"}, &out, &err), 2);
  EXPECT_NE(err.find("/nonexistent/x.fvecs"), std::string::npos) << err;
  EXPECT_EQ(RunCli({"--dim", "64", "--methods", "lvq"}, &out, &err), 2);
  EXPECT_NE(err.find("'lvq'"), std::string::npos) << err;
  EXPECT_EQ(RunCli({"--frobnicate"}, &out, &err), 2);
  EXPECT_EQ(RunCli({"--help"}, &out, &err), 0);
  EXPECT_NE(out.find("usage: tqdb distortion"), std::string::npos);
}

}  // namespace
}  // namespace tqdb
