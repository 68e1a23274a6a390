// An in-process tqdb server on a loopback port with a real gRPC channel, for
// the rpc/ tests.
#ifndef TQDB_TESTS_RPC_RPC_TEST_UTIL_H_
#define TQDB_TESTS_RPC_RPC_TEST_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "db/db.h"
#include "gtest/gtest.h"
#include "rpc/server.h"
#include "tests/db/db_test_util.h"
#include "tqdb/v1/collections.grpc.pb.h"
#include "tqdb/v1/points.grpc.pb.h"
#include "tqdb/v1/snapshots.grpc.pb.h"

namespace tqdb {
namespace rpctest {

namespace pb = ::tqdb::v1;

// A self-signed certificate for 127.0.0.1 and localhost, made by openssl
// (tools/setup.sh installs it) in `dir`: cert.pem and key.pem, and their text.
struct SelfSignedCert {
  std::string cert_path, key_path;
  std::string cert_pem, key_pem;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// False when openssl failed.
inline bool MakeSelfSignedCert(const dbtest::TempDir& dir,
                               SelfSignedCert* out) {
  out->key_path = dir.sub("key.pem");
  out->cert_path = dir.sub("cert.pem");
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
      out->key_path + " -out " + out->cert_path + " 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) return false;
  out->cert_pem = ReadFile(out->cert_path);
  out->key_pem = ReadFile(out->key_path);
  return true;
}

class TestServer {
 public:
  // Background training is off unless `background_training`.
  explicit TestServer(ServerOptions so = ServerOptions(),
                      DatabaseOptions dbo = DatabaseOptions(),
                      bool background_training = false) {
    dbo.background_training = background_training;
    auto db = Database::Open(dir_.sub("db"), dbo);
    EXPECT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    so.listen = "127.0.0.1:0";
    auto s = Server::Start(db_.get(), so);
    EXPECT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(256 << 20);
    args.SetMaxSendMessageSize(256 << 20);
    channel_ = grpc::CreateCustomChannel(
        server_->address(), grpc::InsecureChannelCredentials(), args);
    collections_ = pb::Collections::NewStub(channel_);
    points_ = pb::Points::NewStub(channel_);
    snapshots_ = pb::Snapshots::NewStub(channel_);
  }
  ~TestServer() {
    server_->Shutdown(absl::Seconds(5));
    server_.reset();
    EXPECT_TRUE(db_->Close().ok());
  }

  Database* db() { return db_.get(); }
  Server* server() { return server_.get(); }
  const dbtest::TempDir& dir() const { return dir_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  pb::Collections::Stub& collections() { return *collections_; }
  pb::Points::Stub& points() { return *points_; }
  pb::Snapshots::Stub& snapshots() { return *snapshots_; }

 private:
  dbtest::TempDir dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Collections::Stub> collections_;
  std::unique_ptr<pb::Points::Stub> points_;
  std::unique_ptr<pb::Snapshots::Stub> snapshots_;
};

inline pb::CreateCollectionRequest CreateReq(const std::string& name,
                                             uint32_t dim, pb::Metric metric) {
  pb::CreateCollectionRequest r;
  r.set_name(name);
  r.set_dim(dim);
  r.set_metric(metric);
  r.mutable_quantizer()->set_method(pb::METHOD_RENORM);
  r.mutable_quantizer()->set_bits(4);
  return r;
}

// Points first_id .. first_id + n - 1 with dbtest::VectorFor vectors.
inline pb::UpsertRequest UpsertReq(const std::string& collection,
                                   uint64_t first_id, size_t n, uint32_t dim,
                                   uint64_t version = 0) {
  pb::UpsertRequest r;
  r.set_collection(collection);
  for (size_t i = 0; i < n; ++i) {
    pb::Point* p = r.add_points();
    p->set_id(first_id + i);
    const std::vector<float> v = dbtest::VectorFor(first_id + i, version, dim);
    p->mutable_vector()->Add(v.begin(), v.end());
    p->set_payload("{\"i\":" + std::to_string(first_id + i) + "}");
  }
  return r;
}

inline pb::SearchRequest SearchReq(const std::string& collection,
                                   const std::vector<float>& v,
                                   uint32_t limit) {
  pb::SearchRequest r;
  r.set_collection(collection);
  r.mutable_vector()->Add(v.begin(), v.end());
  r.set_limit(limit);
  return r;
}

}  // namespace rpctest
}  // namespace tqdb

#endif  // TQDB_TESTS_RPC_RPC_TEST_UTIL_H_
