// Fail closed: missing or corrupt families and files, a format from the
// future, checksum errors -> DataLoss / FailedPrecondition naming the file,
// never a crash, never an empty result.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "db/db.h"
#include "db/format.h"
#include "gtest/gtest.h"
#include "quant/coding.h"
#include "rocksdb/db.h"
#include "rocksdb/table_properties.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

namespace fs = std::filesystem;
using dbtest::MakePoints;
using dbtest::TempDir;
using dbtest::VectorFor;

constexpr uint32_t kDim = 16;

// "t": trained (400 points); "u": untrained (50 points). Closed cleanly, so
// everything is in SST files.
void BuildDb(const std::string& dir) {
  auto db = Database::Open(dir, DatabaseOptions());
  ASSERT_TRUE(db.ok()) << db.status();
  CollectionConfig t;
  t.name = "t";
  t.dim = kDim;
  t.nlist = 4;
  t.train_threshold = 1000000;
  ASSERT_TRUE((*db)->CreateCollection(t).ok());
  CollectionConfig u = t;
  u.name = "u";
  ASSERT_TRUE((*db)->CreateCollection(u).ok());
  auto tc = *(*db)->GetCollection("t");
  ASSERT_TRUE(tc->Upsert(MakePoints(0, 400, kDim), true).ok());
  ASSERT_TRUE(tc->Train().ok());
  auto uc = *(*db)->GetCollection("u");
  ASSERT_TRUE(uc->Upsert(MakePoints(0, 50, kDim), true).ok());
  ASSERT_TRUE((*db)->Close().ok());
}

// Raw access to the RocksDB underneath.
class Raw {
 public:
  explicit Raw(const std::string& dir, bool read_only = false) {
    std::vector<std::string> names;
    EXPECT_TRUE(
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names)
            .ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& n : names)
      cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    rocksdb::Status s =
        read_only ? rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), dir, cfs,
                                                 &handles_, &db_)
                  : rocksdb::DB::Open(rocksdb::DBOptions(), dir, cfs, &handles_,
                                      &db_);
    EXPECT_TRUE(s.ok()) << s.ToString();
    names_ = names;
  }
  ~Raw() { Close(); }
  void Close() {
    if (!db_) return;
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    handles_.clear();
    delete db_;
    db_ = nullptr;
  }
  rocksdb::DB* db() { return db_; }
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) {
    for (size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == name) return handles_[i];
    }
    return nullptr;
  }
  std::string Get(const std::string& cf_name, const std::string& key) {
    std::string v;
    EXPECT_TRUE(db_->Get(rocksdb::ReadOptions(), cf(cf_name), key, &v).ok());
    return v;
  }
  void Put(const std::string& cf_name, const std::string& key,
           const std::string& value) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    ASSERT_TRUE(db_->Put(wo, cf(cf_name), key, value).ok());
  }
  void DropCf(const std::string& name) {
    ASSERT_TRUE(db_->DropColumnFamily(cf(name)).ok());
  }
  // Bytes of data blocks in one family's (single) SST.
  uint64_t DataSize(const std::string& cf_name) {
    rocksdb::TablePropertiesCollection props;
    EXPECT_TRUE(db_->GetPropertiesOfAllTables(cf(cf_name), &props).ok());
    uint64_t total = 0;
    for (const auto& [path, p] : props) total += p->data_size;
    return total;
  }
  // SST files of one family (full paths).
  std::vector<std::string> Ssts(const std::string& cf_name) {
    std::vector<rocksdb::LiveFileMetaData> files;
    db_->GetLiveFilesMetaData(&files);
    std::vector<std::string> out;
    for (const auto& f : files) {
      if (f.column_family_name == cf_name) out.push_back(f.db_path + f.name);
    }
    return out;
  }

 private:
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::vector<std::string> names_;
};

std::string SstOf(const std::string& dir, const std::string& cf) {
  Raw raw(dir, /*read_only=*/true);
  auto ssts = raw.Ssts(cf);
  EXPECT_EQ(ssts.size(), 1u) << cf;
  return ssts.empty() ? "" : fs::path(ssts[0]).lexically_normal().string();
}

void FlipBytes(const std::string& path, size_t at, size_t n) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << path;
  for (size_t i = 0; i < n; ++i) {
    f.seekg(at + i);
    char c;
    f.get(c);
    f.seekp(at + i);
    f.put(static_cast<char>(c ^ 0x5A));
  }
}

void ExpectOpenFails(const std::string& dir, absl::StatusCode code,
                     const std::string& needle) {
  auto db = Database::Open(dir, DatabaseOptions());
  ASSERT_FALSE(db.ok()) << "opened a damaged database";
  printf("  -> %s\n", db.status().ToString().c_str());
  EXPECT_EQ(db.status().code(), code) << db.status();
  EXPECT_NE(db.status().message().find(needle), std::string::npos)
      << "message does not name '" << needle << "': " << db.status();
}

TEST(DbCorruption, MissingColumnFamily) {
  TempDir tmp;
  BuildDb(tmp.path());
  {
    Raw raw(tmp.path());
    raw.DropCf("codes");
  }
  ExpectOpenFails(tmp.path(), absl::StatusCode::kDataLoss, "'codes'");
}

TEST(DbCorruption, FormatFromTheFuture) {
  TempDir tmp;
  BuildDb(tmp.path());
  {
    Raw raw(tmp.path());
    raw.Put("meta", "format",
            dbformat::EncodeFormat(dbformat::kFormatVersion + 1));
  }
  ExpectOpenFails(tmp.path(), absl::StatusCode::kFailedPrecondition,
                  tmp.path());
  {
    Raw raw(tmp.path());
    std::string v = dbformat::EncodeFormat(dbformat::kFormatVersion);
    v[5] ^= 1;  // checksum no longer matches
    raw.Put("meta", "format", v);
  }
  ExpectOpenFails(tmp.path(), absl::StatusCode::kDataLoss, "format");
}

TEST(DbCorruption, CollectionRecordFromTheFutureOrCorrupt) {
  TempDir tmp;
  BuildDb(tmp.path());
  std::string good;
  {
    Raw raw(tmp.path());
    good = raw.Get("meta", "collection/t");
    std::string v = good.substr(0, good.size() - 4);
    v[4] = static_cast<char>(dbformat::kRecordVersion + 1);  // version field
    PutFixed32(&v, Crc32c(v.data(), v.size()));
    raw.Put("meta", "collection/t", v);
  }
  ExpectOpenFails(tmp.path(), absl::StatusCode::kFailedPrecondition,
                  "collection/t");
  {
    Raw raw(tmp.path());
    std::string v = good;
    v[20] ^= 0x10;
    raw.Put("meta", "collection/t", v);
  }
  ExpectOpenFails(tmp.path(), absl::StatusCode::kDataLoss, "collection/t");
  {
    Raw raw(tmp.path());
    raw.Put("meta", "collection/t", good);
  }
  auto db = Database::Open(tmp.path(), DatabaseOptions());
  ASSERT_TRUE(db.ok()) << db.status();
}

TEST(DbCorruption, TrainedParametersChecksum) {
  TempDir tmp;
  BuildDb(tmp.path());
  {
    Raw raw(tmp.path());
    std::string key = "trained/";
    dbformat::PutBig32(&key, 1);  // "t" is the first collection
    std::string v = raw.Get("meta", key);
    ASSERT_GT(v.size(), 100u);
    v[v.size() / 2] ^= 0x01;
    raw.Put("meta", key, v);
  }
  ExpectOpenFails(tmp.path(), absl::StatusCode::kDataLoss, "trained/");
}

TEST(DbCorruption, MalformedCodeEntry) {
  TempDir tmp;
  BuildDb(tmp.path());
  {
    Raw raw(tmp.path());
    raw.Put("codes", dbformat::CodeKey(1, 1, 0, 424242), "xyz");
  }
  ExpectOpenFails(tmp.path(), absl::StatusCode::kDataLoss, "424242");
}

TEST(DbCorruption, CorruptCodesSst) {
  TempDir tmp;
  BuildDb(tmp.path());
  const std::string sst = SstOf(tmp.path(), "codes");
  ASSERT_FALSE(sst.empty());
  FlipBytes(sst, fs::file_size(sst) / 4, 32);
  ExpectOpenFails(tmp.path(), absl::StatusCode::kDataLoss,
                  fs::path(sst).filename().string());
}

TEST(DbCorruption, TruncatedSst) {
  TempDir tmp;
  BuildDb(tmp.path());
  const std::string sst = SstOf(tmp.path(), "idmap");
  ASSERT_FALSE(sst.empty());
  fs::resize_file(sst, fs::file_size(sst) / 2);
  ExpectOpenFails(tmp.path(), absl::StatusCode::kDataLoss,
                  fs::path(sst).filename().string());
}

TEST(DbCorruption, MissingSst) {
  TempDir tmp;
  BuildDb(tmp.path());
  const std::string sst = SstOf(tmp.path(), "codes");
  ASSERT_FALSE(sst.empty());
  fs::remove(sst);
  // RocksDB names the file by number (it also tries the legacy .ldb name).
  ExpectOpenFails(tmp.path(), absl::StatusCode::kDataLoss,
                  fs::path(sst).stem().string());
}

TEST(DbCorruption, MissingCurrentAndManifest) {
  TempDir tmp;
  BuildDb(tmp.path());
  std::string manifest;
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    if (e.path().filename().string().rfind("MANIFEST-", 0) == 0) {
      manifest = e.path().string();
    }
  }
  ASSERT_FALSE(manifest.empty());
  fs::copy_file(tmp.sub("CURRENT"), tmp.sub("CURRENT.bak"));
  fs::remove(tmp.sub("CURRENT"));
  ExpectOpenFails(tmp.path(), absl::StatusCode::kDataLoss, "CURRENT");
  fs::rename(tmp.sub("CURRENT.bak"), tmp.sub("CURRENT"));
  fs::resize_file(manifest, 10);
  ExpectOpenFails(tmp.path(), absl::StatusCode::kDataLoss,
                  fs::path(manifest).filename().string());
  fs::remove(manifest);
  ExpectOpenFails(tmp.path(), absl::StatusCode::kDataLoss,
                  fs::path(manifest).filename().string());
}

// Vectors are not read at open once a collection is trained: a corrupt
// vectors file surfaces as DataLoss from the reads that need it (never as a
// silently shorter result), and at open for an untrained collection.
TEST(DbCorruption, CorruptVectorsSst) {
  TempDir tmp;
  BuildDb(tmp.path());
  const std::string sst = SstOf(tmp.path(), "vectors");
  ASSERT_FALSE(sst.empty());
  uint64_t data_size;
  {
    Raw raw(tmp.path(), /*read_only=*/true);
    data_size = raw.DataSize("vectors");
  }
  ASSERT_GT(data_size, 4096u);
  for (size_t at = 64; at + 64 < data_size; at += 1024) FlipBytes(sst, at, 8);
  const std::string file = fs::path(sst).filename().string();
  ExpectOpenFails(tmp.path(), absl::StatusCode::kDataLoss, file);  // "u"
  {
    // Without "u" the database opens; "t" fails closed on every vector read.
    Raw raw(tmp.path());
    ASSERT_TRUE(
        raw.db()
            ->Delete(rocksdb::WriteOptions(), raw.cf("meta"), "collection/u")
            .ok());
  }
  auto db = Database::Open(tmp.path(), DatabaseOptions());
  ASSERT_TRUE(db.ok()) << db.status();
  auto t = *(*db)->GetCollection("t");
  EXPECT_EQ(t->Count(), 400u);
  QueryOptions o;
  o.nprobe = 0;
  auto r = t->Search(VectorFor(3, 0, kDim), o);  // codes only: fine
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->empty());
  o.rescore = true;
  r = t->Search(VectorFor(3, 0, kDim), o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  o.rescore = false;
  o.exact = true;
  r = t->Search(VectorFor(3, 0, kDim), o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find(file), std::string::npos) << r.status();
  std::vector<uint64_t> ids;
  for (uint64_t i = 0; i < 400; ++i) ids.push_back(i);
  auto g = t->Get(ids, true, false);
  EXPECT_EQ(g.status().code(), absl::StatusCode::kDataLoss) << g.status();
  EXPECT_EQ(t->Retrain().code(), absl::StatusCode::kDataLoss);
}

TEST(DbCorruption, OpenTwiceIsRefusedNotCorrupt) {
  TempDir tmp;
  auto a = Database::Open(tmp.path(), DatabaseOptions());
  ASSERT_TRUE(a.ok());
  auto b = Database::Open(tmp.path(), DatabaseOptions());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kFailedPrecondition)
      << b.status();
}

TEST(DbCorruption, NotADatabase) {
  TempDir tmp;
  // An empty directory is a new database; a missing one without
  // create_if_missing is NotFound.
  DatabaseOptions o;
  o.create_if_missing = false;
  EXPECT_EQ(Database::Open(tmp.sub("none"), o).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(Database::Open(tmp.sub("new"), DatabaseOptions()).ok());
  o.create_if_missing = true;
  o.error_if_exists = true;
  EXPECT_EQ(Database::Open(tmp.sub("new"), o).status().code(),
            absl::StatusCode::kAlreadyExists);
  // A RocksDB directory that is not tqdb's: no families of ours.
  {
    rocksdb::Options ro;
    ro.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(ro, tmp.sub("other"), &raw).ok());
    delete raw;
  }
  ExpectOpenFails(tmp.sub("other"), absl::StatusCode::kDataLoss, "'meta'");
}

}  // namespace
}  // namespace tqdb
