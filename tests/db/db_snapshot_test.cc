// Snapshots: Database::CreateSnapshot makes a consistent copy; restoring it
// (Database::RestoreSnapshot) copies it into a new data directory and
// leaves the snapshot exactly as it was, and opening a snapshot directory
// itself is refused (it used to write a WAL, LOG and MANIFEST into it).
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "db/db.h"
#include "gtest/gtest.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

namespace fs = std::filesystem;
using dbtest::MakePoints;
using dbtest::TempDir;

constexpr uint32_t kDim = 16;

std::unique_ptr<Database> OpenOrDie(const std::string& dir) {
  DatabaseOptions o;
  o.background_training = false;
  auto db = Database::Open(dir, o);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

// Every file of a directory with its contents.
std::map<std::string, std::string> Files(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    out[e.path().filename().string()] = ss.str();
  }
  return out;
}

class DbSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = OpenOrDie(tmp_.sub("db"));
    CollectionConfig cfg;
    cfg.name = "a";
    cfg.dim = kDim;
    cfg.nlist = 4;
    ASSERT_TRUE(db->CreateCollection(cfg).ok());
    cfg.name = "b";
    ASSERT_TRUE(db->CreateCollection(cfg).ok());
    auto a = *db->GetCollection("a");
    ASSERT_TRUE(a->Upsert(MakePoints(0, 400, kDim), false).ok());
    ASSERT_TRUE(a->Train().ok());
    ASSERT_TRUE(
        (*db->GetCollection("b"))->Upsert(MakePoints(0, 10, kDim), false).ok());
    ASSERT_TRUE(db->CreateSnapshot(tmp_.sub("snap_all")).ok());
    ASSERT_TRUE(db->CreateSnapshot(tmp_.sub("snap_a"), "a").ok());
    EXPECT_EQ(db->CreateSnapshot(tmp_.sub("snap_a")).code(),
              absl::StatusCode::kAlreadyExists);
    EXPECT_EQ(db->CreateSnapshot(tmp_.sub("snap_x"), "x").code(),
              absl::StatusCode::kNotFound);
    // Later writes are not in the snapshots.
    ASSERT_TRUE(a->Delete({0, 1, 2}, false).ok());
    ASSERT_TRUE(db->Close().ok());
  }

  TempDir tmp_;
};

TEST_F(DbSnapshotTest, OpeningASnapshotIsRefusedAndChangesNothing) {
  const auto before = Files(tmp_.sub("snap_all"));
  auto db = Database::Open(tmp_.sub("snap_all"), DatabaseOptions());
  ASSERT_FALSE(db.ok()) << "a snapshot opened as a database";
  EXPECT_EQ(db.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(db.status().message().find("is a snapshot"), std::string::npos)
      << db.status();
  EXPECT_NE(db.status().message().find("RestoreSnapshot"), std::string::npos)
      << db.status();
  EXPECT_EQ(Files(tmp_.sub("snap_all")), before);
}

TEST_F(DbSnapshotTest, RestoreCopiesAndLeavesTheSnapshotIntact) {
  for (const char* name : {"snap_all", "snap_a"}) {
    SCOPED_TRACE(name);
    const std::string snap = tmp_.sub(name);
    const std::string dir = tmp_.sub(std::string("restored_") + name);
    const auto before = Files(snap);
    ASSERT_TRUE(Database::RestoreSnapshot(snap, dir).ok());
    {
      auto db = OpenOrDie(dir);
      ASSERT_TRUE(db);
      auto a = db->GetCollection("a");
      ASSERT_TRUE(a.ok()) << a.status();
      EXPECT_EQ((*a)->Count(), 400u);
      EXPECT_TRUE((*a)->Info()->trained);
      EXPECT_EQ(db->GetCollection("b").ok(), std::string(name) == "snap_all");
      // The restored copy is a database of its own: writes, a compaction
      // by flushes, a retraining.
      ASSERT_TRUE((*a)->Upsert(MakePoints(5000, 300, kDim), true).ok());
      ASSERT_TRUE((*a)->Retrain().ok());
      ASSERT_TRUE(db->Close().ok());
    }
    EXPECT_EQ(Files(snap), before);
    // Restoring again from the same snapshot gives the snapshot's state.
    const std::string again = dir + "_again";
    ASSERT_TRUE(Database::RestoreSnapshot(snap, again).ok());
    auto db = OpenOrDie(again);
    EXPECT_EQ((*db->GetCollection("a"))->Count(), 400u);
  }
}

TEST_F(DbSnapshotTest, RestoreRefusesBadArguments) {
  // Into an existing directory.
  EXPECT_EQ(
      Database::RestoreSnapshot(tmp_.sub("snap_all"), tmp_.sub("db")).code(),
      absl::StatusCode::kAlreadyExists);
  // From a directory that is not a snapshot.
  const absl::Status s =
      Database::RestoreSnapshot(tmp_.sub("db"), tmp_.sub("x"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_FALSE(fs::exists(tmp_.sub("x")));
  EXPECT_EQ(Database::RestoreSnapshot(tmp_.sub("nope"), tmp_.sub("y")).code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tqdb
