// Crash safety: a child process (this binary re-executed with
// --gtest_filter=DbCrashChild.Run and TQDB_CRASH_* in its environment)
// ingests batches with wait = true and reports each acknowledged batch on a
// pipe; the parent kill -9s it at random moments (some while a training is
// running, some while a payload index is being built over the points),
// reopens the directory and checks that every acknowledged batch is fully
// present and searchable, that the batch in flight is either fully there or
// not at all, that deleted points stay deleted, and that the payload
// indexes hold exactly what the payloads say.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "db/db.h"
#include "gtest/gtest.h"
#include "quant/random.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

using dbtest::TempDir;
using dbtest::VectorFor;

constexpr uint32_t kDim = 32;
constexpr uint64_t kBatch = 200;
constexpr int kBatchesPerRound = 15;
constexpr int kRounds = dbtest::kSanitized ? 12 : 24;
// Pipe messages besides batch numbers.
constexpr int32_t kReady = -1, kTrainStart = -2, kTrainEnd = -3, kError = -100;

// Batch b: kinds 0-2 insert ids [b*200, b*200+200) (version 0); kind 3
// rewrites the points of batch b-3 (version b); kind 4 deletes the points of
// batch b-3. The payload names the batch that wrote the point.
enum class Kind { kInsert, kUpdate, kDelete };
Kind KindOf(int64_t b) {
  const int k = static_cast<int>(b % 5);
  return k < 3 ? Kind::kInsert : k == 3 ? Kind::kUpdate : Kind::kDelete;
}
uint64_t FirstId(int64_t b) {
  return KindOf(b) == Kind::kInsert ? b * kBatch : (b - 3) * kBatch;
}

// id -> the batch that last wrote it (absent: not stored).
using Expected = std::map<uint64_t, int64_t>;
Expected Simulate(int64_t batches) {
  Expected e;
  for (int64_t b = 0; b < batches; ++b) {
    for (uint64_t i = 0; i < kBatch; ++i) {
      const uint64_t id = FirstId(b) + i;
      if (KindOf(b) == Kind::kDelete) {
        e.erase(id);
      } else {
        e[id] = b;
      }
    }
  }
  return e;
}
uint64_t VersionOf(int64_t writer) {
  return KindOf(writer) == Kind::kUpdate ? static_cast<uint64_t>(writer) : 0;
}

// The payload of point id written by batch b: the batch (an integer index)
// and a group of the id (a keyword index, built while batches arrive).
std::string Payload(uint64_t id, int64_t b) {
  return "{\"b\":" + std::to_string(b) + ",\"g\":\"g" + std::to_string(id % 7) +
         "\"}";
}

absl::Status ApplyBatch(Collection* c, int64_t b) {
  if (KindOf(b) == Kind::kDelete) {
    std::vector<uint64_t> ids;
    for (uint64_t i = 0; i < kBatch; ++i) ids.push_back(FirstId(b) + i);
    return c->Delete(ids, /*wait=*/true).status();
  }
  std::vector<Point> pts(kBatch);
  for (uint64_t i = 0; i < kBatch; ++i) {
    pts[i].id = FirstId(b) + i;
    pts[i].vector = VectorFor(pts[i].id, VersionOf(b), kDim);
    pts[i].payload = Payload(pts[i].id, b);
  }
  return c->Upsert(pts, /*wait=*/true);
}

absl::Status EnsureCollections(Database* db) {
  CollectionConfig c;
  c.name = "c";
  c.dim = kDim;
  c.metric = Metric::kCosine;
  c.nlist = 16;  // first training at 624 points
  CollectionConfig nv = c;
  nv.name = "nv";
  nv.nlist = 8;
  nv.store_vectors = false;
  nv.train_threshold = 3000;
  for (const CollectionConfig& cfg : {c, nv}) {
    if (!db->GetCollection(cfg.name).ok()) {
      auto info = db->CreateCollection(cfg);
      if (!info.ok()) return info.status();
      // An index from the start (written with every batch).
      auto idx = (*db->GetCollection(cfg.name))
                     ->CreateFieldIndex("b", FieldType::kInteger, true);
      if (!idx.ok()) return idx.status();
    }
  }
  return absl::OkStatus();
}

// The payload indexes match the payloads of `e` (counts per value), and a
// filtered search finds a point of a batch among that batch's points. The
// "g" index, built in the background from the third round on, is waited
// for (its build resumes at open).
void VerifyIndexes(Collection* c, const Expected& e, Rng* rng) {
  std::map<int64_t, uint64_t> per_batch;
  std::map<uint64_t, uint64_t> per_group;
  for (const auto& [id, writer] : e) {
    ++per_batch[writer];
    ++per_group[id % 7];
  }
  for (const auto& [writer, n] : per_batch) {
    Filter f;
    f.must.push_back(Condition::Integer("b", writer));
    auto r = c->Count(f);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->count, n) << c->config().name << ": b = " << writer;
    EXPECT_TRUE(r->unindexed_fields.empty());
  }
  auto info = c->Info();
  ASSERT_TRUE(info.ok());
  for (const FieldIndexInfo& fi : info->field_indexes) {
    if (fi.field != "g") continue;
    auto ready = c->CreateFieldIndex("g", FieldType::kKeyword, true);
    ASSERT_TRUE(ready.ok()) << ready.status();
    for (uint64_t g = 0; g < 7; ++g) {
      Filter f;
      f.must.push_back(Condition::Keyword("g", "g" + std::to_string(g)));
      auto r = c->Count(f);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->count, per_group[g]) << c->config().name << ": g" << g;
      EXPECT_TRUE(r->unindexed_fields.empty());
    }
  }
  if (e.empty()) return;
  auto it = e.begin();
  std::advance(it, rng->Uniform(e.size()));
  QueryOptions o;
  o.k = 5;
  o.nprobe = 0;
  auto filter = std::make_shared<Filter>();
  filter->must.push_back(Condition::Integer("b", it->second));
  o.filter = filter;
  auto r = c->Search(VectorFor(it->first, VersionOf(it->second), kDim), o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->empty());
  bool found = false;
  for (const Neighbor& n : *r) {
    EXPECT_EQ(e.at(n.id), it->second) << "filtered search returned another "
                                         "batch's point";
    found |= n.id == it->first;
  }
  EXPECT_TRUE(found) << c->config().name << ": point " << it->first
                     << " not found by a filtered search";
}

void Send(int fd, int32_t v) {
  if (write(fd, &v, sizeof(v)) != sizeof(v)) _exit(3);
}

// The child: runs only when re-executed by the parent.
TEST(DbCrashChild, Run) {
  const char* dir = std::getenv("TQDB_CRASH_CHILD_DIR");
  if (dir == nullptr) GTEST_SKIP() << "crash-test child; run by DbCrash.*";
  const int fd = std::atoi(std::getenv("TQDB_CRASH_FD"));
  const int64_t start = std::atoll(std::getenv("TQDB_CRASH_START"));
  auto fail = [&](const absl::Status& s) {
    fprintf(stderr, "crash child: %s\n", s.ToString().c_str());
    Send(fd, kError);
    _exit(2);
  };
  auto db = Database::Open(dir, DatabaseOptions());
  if (!db.ok()) fail(db.status());
  absl::Status s = EnsureCollections(db->get());
  if (!s.ok()) fail(s);
  auto c = *(*db)->GetCollection("c");
  auto nv = *(*db)->GetCollection("nv");
  if (start >= 2 * kBatchesPerRound) {
    // Built in the background while batches arrive (kills land in it);
    // every other round it is dropped and built again.
    if ((start / kBatchesPerRound) % 2 == 0) {
      absl::Status ds = c->DeleteFieldIndex("g");
      if (!ds.ok() && !absl::IsNotFound(ds)) fail(ds);
    }
    auto idx = c->CreateFieldIndex("g", FieldType::kKeyword, false);
    if (!idx.ok()) fail(idx.status());
  }
  Send(fd, kReady);
  // Retrains "c" over and over, so that kills land inside trainings (not
  // in every round: some see only the automatic first trainings).
  const bool retrain = std::atoi(std::getenv("TQDB_CRASH_RETRAIN")) != 0;
  std::thread retrainer([&] {
    if (!retrain) return;
    for (;;) {  // until the parent's SIGKILL
      if (c->Count() >= 624) {
        Send(fd, kTrainStart);
        absl::Status rs = c->Retrain();
        if (!rs.ok()) fail(rs);
        Send(fd, kTrainEnd);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });
  for (int64_t b = start; b < start + kBatchesPerRound; ++b) {
    absl::Status as = ApplyBatch(c.get(), b);
    if (as.ok()) as = ApplyBatch(nv.get(), b);
    if (!as.ok()) fail(as);
    Send(fd, static_cast<int32_t>(b));
  }
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // await kill
  retrainer.join();
}

struct Round {
  int64_t acked = 0;  // batches acknowledged so far (all rounds)
  bool killed_in_training = false;
  bool error = false;
};

// Starts the child, kills it per `mode`, returns what it acknowledged.
Round RunChild(const std::string& dir, int64_t start, bool kill_in_training,
               bool retrain, Rng* rng) {
  Round r;
  r.acked = start;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    r.error = true;
    return r;
  }
  const std::string env_dir = "TQDB_CRASH_CHILD_DIR=" + dir;
  const std::string env_fd = "TQDB_CRASH_FD=100";
  const std::string env_start = "TQDB_CRASH_START=" + std::to_string(start);
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) env_store.push_back(*e);
  env_store.push_back(env_dir);
  env_store.push_back(env_fd);
  env_store.push_back(env_start);
  env_store.push_back(std::string("TQDB_CRASH_RETRAIN=") +
                      (retrain ? "1" : "0"));
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe",
              filter = "--gtest_filter=DbCrashChild.Run";
  char* argv[] = {exe.data(), filter.data(), nullptr};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 100);
    const int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 1);
    execve("/proc/self/exe", argv, envp.data());
    _exit(127);
  }
  close(fds[1]);
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed_ms = [&] {
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now() - t0)
        .count();
  };
  bool ready = false, in_training = false, killed = false;
  double kill_at = -1;  // ms since start
  for (;;) {
    if (!killed && kill_at >= 0 && elapsed_ms() >= kill_at) {
      kill(pid, SIGKILL);
      killed = true;
      r.killed_in_training = in_training;
    }
    if (!killed && kill_at < 0 && elapsed_ms() > 5000) {
      kill_at = elapsed_ms();  // no training came: kill anyway
    }
    if (!killed && elapsed_ms() > 20000) {  // a stuck child
      kill(pid, SIGKILL);
      killed = true;
      r.error = true;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready_fds = poll(&p, 1, 1);
    if (ready_fds <= 0) continue;
    int32_t v;
    const ssize_t got = read(fds[0], &v, sizeof(v));
    if (got == 0) break;  // child gone, pipe drained
    if (got != sizeof(v)) continue;
    if (v == kError) {
      r.error = true;
    } else if (v == kReady) {
      ready = true;
      if (!kill_in_training) kill_at = elapsed_ms() + 5 + rng->Uniform(295);
    } else if (v == kTrainStart) {
      in_training = true;
      if (kill_in_training && ready && kill_at < 0 && r.acked > start) {
        kill_at = elapsed_ms() + rng->Uniform(8);
      }
    } else if (v == kTrainEnd) {
      in_training = false;
    } else if (v >= 0) {
      EXPECT_EQ(v, r.acked) << "acknowledgements out of order";
      r.acked = v + 1;
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!killed) r.error = true;  // it died on its own
  return r;
}

// The stored state of a collection matches Simulate(n) exactly?
bool Matches(Collection* c, const Expected& e, int64_t upto, bool vectors,
             std::string* why) {
  std::vector<uint64_t> ids;
  for (int64_t b = 0; b < upto; ++b) {
    if (KindOf(b) == Kind::kInsert) {
      for (uint64_t i = 0; i < kBatch; ++i) ids.push_back(FirstId(b) + i);
    }
  }
  auto got = c->Get(ids, vectors, true);
  if (!got.ok()) {
    *why = got.status().ToString();
    return false;
  }
  if (c->Count() != e.size() || got->size() != e.size()) {
    *why = "count " + std::to_string(c->Count()) + " / found " +
           std::to_string(got->size()) + ", expected " +
           std::to_string(e.size());
    return false;
  }
  for (const Record& r : *got) {
    auto it = e.find(r.id);
    if (it == e.end()) {
      *why = "point " + std::to_string(r.id) + " should not exist";
      return false;
    }
    if (r.payload != Payload(r.id, it->second)) {
      *why = "point " + std::to_string(r.id) + " payload " + r.payload +
             ", expected " + Payload(r.id, it->second);
      return false;
    }
    if (vectors && r.vector != VectorFor(r.id, VersionOf(it->second), kDim)) {
      *why = "point " + std::to_string(r.id) + " has a wrong vector";
      return false;
    }
  }
  return true;
}

void VerifySearchable(Collection* c, const Expected& e, Rng* rng) {
  if (e.empty()) return;
  auto info = c->Info();
  ASSERT_TRUE(info.ok()) << info.status();
  if (info->trained) {
    EXPECT_EQ(info->lists.live, e.size()) << c->config().name;
  }
  std::vector<uint64_t> live;
  for (const auto& [id, w] : e) live.push_back(id);
  for (int i = 0; i < 20; ++i) {
    const uint64_t id = live[rng->Uniform(live.size())];
    const auto q = VectorFor(id, VersionOf(e.at(id)), kDim);
    QueryOptions o;
    o.k = 10;
    o.nprobe = 0;
    if (c->config().store_vectors) {
      o.exact = true;
      auto r = c->Search(q, o);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_FALSE(r->empty());
      EXPECT_EQ((*r)[0].id, id) << c->config().name << " exact";
      o.exact = false;
      o.rescore = true;
    }
    auto r = c->Search(q, o);
    ASSERT_TRUE(r.ok()) << r.status();
    bool found = false;
    for (const Neighbor& n : *r) found |= n.id == id;
    EXPECT_TRUE(found) << c->config().name << ": point " << id
                       << " not found by search";
  }
}

TEST(DbCrash, KillNineDuringSyncedIngestAndTraining) {
  TempDir tmp;
  const std::string dir = tmp.sub("db");
  Rng rng(20240607);
  int64_t acked = 0;
  int in_training_kills = 0, in_flight_applied = 0;
  for (int round = 0; round < kRounds; ++round) {
    const bool kill_in_training = round % 3 == 2;
    Round r = RunChild(dir, acked, kill_in_training,
                       /*retrain=*/round % 3 != 1, &rng);
    ASSERT_FALSE(r.error) << "round " << round << ": the child failed";
    acked = r.acked;
    in_training_kills += r.killed_in_training;

    auto db = Database::Open(dir, DatabaseOptions());
    ASSERT_TRUE(db.ok()) << "round " << round << ": " << db.status();
    for (const char* name : {"c", "nv"}) {
      auto c = (*db)->GetCollection(name);
      ASSERT_TRUE(c.ok()) << c.status();
      // Open resumes a training the kill interrupted ("nv" past its
      // threshold): let it end first, or it could finish between reading
      // `trained` and reading the vectors, which a trained collection
      // without stored vectors no longer returns.
      (*c)->WaitForTraining();
      const bool vectors =
          (*c)->config().store_vectors || !(*c)->Info()->trained;
      std::string why_a, why_b;
      const Expected ea = Simulate(acked), eb = Simulate(acked + 1);
      const bool a = Matches(c->get(), ea, acked + 1, vectors, &why_a);
      const bool b = !a && Matches(c->get(), eb, acked + 1, vectors, &why_b);
      ASSERT_TRUE(a || b) << "round " << round << ", collection " << name
                          << ", " << acked << " batches acknowledged: "
                          << "not the state after them (" << why_a
                          << ") nor after the next one (" << why_b << ")";
      in_flight_applied += b;
      VerifySearchable(c->get(), a ? ea : eb, &rng);
      VerifyIndexes(c->get(), a ? ea : eb, &rng);
    }
    ASSERT_TRUE((*db)->Close().ok());
  }
  printf(
      "crash test: %d rounds, %lld batches acknowledged, %d kills during "
      "a training, %d unacknowledged batches found applied\n",
      kRounds, static_cast<long long>(acked), in_training_kills,
      in_flight_applied);
  EXPECT_GE(acked, kRounds);  // the rounds got work done
  // A third of the rounds aim their kill at a training; most land in it.
  EXPECT_GE(in_training_kills, kRounds / 8);
}

}  // namespace
}  // namespace tqdb
