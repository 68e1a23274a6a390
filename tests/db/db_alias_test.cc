// Aliases (Database::UpdateAliases): another name of a collection that
// every GetCollection takes; moved to another collection in one call (no
// moment in which the name is unknown), all or none, kept across a reopen,
// deleted with their collection, and kept by a snapshot of it.
#include <map>
#include <string>
#include <vector>

#include "db/db.h"
#include "gtest/gtest.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

using dbtest::MakePoints;
using dbtest::TempDir;

constexpr uint32_t kDim = 8;

AliasChange Create(const std::string& alias, const std::string& collection) {
  return {AliasChange::Kind::kCreate, alias, collection};
}
AliasChange Delete(const std::string& alias) {
  return {AliasChange::Kind::kDelete, alias, ""};
}

std::unique_ptr<Database> OpenDb(const std::string& dir) {
  DatabaseOptions o;
  o.background_training = false;
  auto db = Database::Open(dir, o);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

void MakeCollection(Database* db, const std::string& name, uint64_t points) {
  CollectionConfig cfg;
  cfg.name = name;
  cfg.dim = kDim;
  ASSERT_TRUE(db->CreateCollection(cfg).ok());
  ASSERT_TRUE((*db->GetCollection(name))
                  ->Upsert(MakePoints(0, points, kDim), false)
                  .ok());
}

TEST(DbAliasTest, AnAliasNamesItsCollectionAndMovesAtOnce) {
  TempDir tmp;
  const std::string dir = tmp.sub("db");
  {
    auto db = OpenDb(dir);
    ASSERT_NO_FATAL_FAILURE(MakeCollection(db.get(), "v1", 10));
    ASSERT_NO_FATAL_FAILURE(MakeCollection(db.get(), "v2", 20));
    ASSERT_TRUE(db->UpdateAliases({Create("docs", "v1")}).ok());
    auto c = db->GetCollection("docs");
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ((*c)->config().name, "v1");
    EXPECT_EQ((*c)->Count(), 10u);
    EXPECT_EQ(db->ListCollections(), (std::vector<std::string>{"v1", "v2"}));

    // Moved in one call: delete, then create.
    ASSERT_TRUE(db->UpdateAliases({Delete("docs"), Create("docs", "v2")}).ok());
    EXPECT_EQ((*db->GetCollection("docs"))->Count(), 20u);

    // All or none: the second change fails, the first is not applied.
    absl::Status s =
        db->UpdateAliases({Create("other", "v1"), Create("docs", "v1")});
    EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
    EXPECT_NE(s.message().find("alias change 1"), std::string::npos) << s;
    EXPECT_EQ(db->ListAliases(),
              (std::map<std::string, std::string>{{"docs", "v2"}}));

    // Errors, each naming the change.
    EXPECT_TRUE(absl::IsAlreadyExists(db->UpdateAliases({Create("v1", "v2")})));
    EXPECT_TRUE(absl::IsNotFound(db->UpdateAliases({Create("x", "nope")})));
    EXPECT_TRUE(absl::IsNotFound(db->UpdateAliases({Create("x", "docs")})));
    EXPECT_TRUE(absl::IsNotFound(db->UpdateAliases({Delete("nope")})));
    EXPECT_TRUE(
        absl::IsInvalidArgument(db->UpdateAliases({Create("a b", "v1")})));
    // A collection cannot take an alias's name, nor be dropped by it.
    CollectionConfig cfg;
    cfg.name = "docs";
    cfg.dim = kDim;
    EXPECT_TRUE(absl::IsAlreadyExists(db->CreateCollection(cfg).status()));
    EXPECT_TRUE(absl::IsInvalidArgument(db->DropCollection("docs")));
    ASSERT_TRUE(db->UpdateAliases({Create("old", "v1")}).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  {
    // Kept across a reopen.
    auto db = OpenDb(dir);
    EXPECT_EQ(db->ListAliases(), (std::map<std::string, std::string>{
                                     {"docs", "v2"}, {"old", "v1"}}));
    EXPECT_EQ((*db->GetCollection("old"))->Count(), 10u);
    // A snapshot by an alias is of its collection, with the aliases of
    // that collection only.
    const std::string snap = tmp.sub("snap");
    ASSERT_TRUE(db->CreateSnapshot(snap, "docs").ok());
    const std::string restored = tmp.sub("restored");
    ASSERT_TRUE(Database::RestoreSnapshot(snap, restored).ok());
    {
      auto back = OpenDb(restored);
      EXPECT_EQ(back->ListCollections(), std::vector<std::string>{"v2"});
      EXPECT_EQ(back->ListAliases(),
                (std::map<std::string, std::string>{{"docs", "v2"}}));
    }
    // Dropping a collection deletes its aliases; a new collection of the
    // alias's name is then possible.
    ASSERT_TRUE(db->DropCollection("v1").ok());
    EXPECT_EQ(db->ListAliases(),
              (std::map<std::string, std::string>{{"docs", "v2"}}));
    EXPECT_TRUE(absl::IsNotFound(db->GetCollection("old").status()));
    ASSERT_NO_FATAL_FAILURE(MakeCollection(db.get(), "old", 3));
    ASSERT_TRUE(db->Close().ok());
  }
  {
    auto db = OpenDb(dir);
    EXPECT_EQ(db->ListAliases(),
              (std::map<std::string, std::string>{{"docs", "v2"}}));
    EXPECT_EQ((*db->GetCollection("old"))->Count(), 3u);
  }
}

}  // namespace
}  // namespace tqdb
