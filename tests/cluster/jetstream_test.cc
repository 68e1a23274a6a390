// rpc/cluster's NATS connection, JetStream streams, publishing and durable
// pull consumers against a real three-server NATS cluster with JetStream
// (Debian's nats-server) started on free loopback ports.
#include "rpc/cluster/jetstream.h"

#include <csignal>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "rpc/cluster/log_names.h"
#include "rpc/cluster/nats_connection.h"
#include "rpc/cluster/pull_consumer.h"
#include "tests/cluster/cluster_test_util.h"
#include "tests/cluster/service_processes.h"

namespace tqdb {
namespace cluster {
namespace {

using testing_util::Eventually;

class JetStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto log = testing_util::JetStreamCluster::Start(dir_.path() + "/nats", 3);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
  }

  StreamConfig Docs() const {
    return testing_util::JetStreamCluster::CollectionStream("docs", 3);
  }

  // Fetches until `n` messages came (or 30 s passed).
  std::vector<JsMessage> FetchN(PullConsumer* consumer, size_t n) {
    std::vector<JsMessage> out;
    Eventually(absl::Seconds(30), [&] {
      auto batch = consumer->Fetch(static_cast<int>(n - out.size()),
                                   absl::Milliseconds(500));
      EXPECT_TRUE(batch.ok()) << batch.status();
      if (batch.ok()) {
        for (JsMessage& m : *batch) out.push_back(std::move(m));
      }
      return out.size() >= n;
    });
    return out;
  }

  testing_util::TempDir dir_;
  testing_util::JetStreamCluster log_;
};

TEST(NatsConnectTest, UnreachableIsUnavailableNamingTheServers) {
  NatsOptions o;
  o.servers = {absl::StrCat("127.0.0.1:", testing_util::FreeLoopbackPort())};
  o.connect_timeout = absl::Milliseconds(300);
  auto c = NatsConnection::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(absl::IsUnavailable(c.status())) << c.status();
  EXPECT_NE(c.status().message().find(o.servers[0]), std::string::npos)
      << c.status();
  EXPECT_TRUE(absl::IsInvalidArgument(NatsConnection::Connect({}).status()));
}

TEST_F(JetStreamTest, StreamIsReplicatedAndPublishDeduplicatesById) {
  ASSERT_TRUE(log_.js->EnsureStream(Docs()).ok());
  ASSERT_TRUE(log_.js->EnsureStream(Docs()).ok());  // idempotent
  auto state = log_.js->GetStreamState(StreamName("docs"));
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->replicas, 3);
  EXPECT_FALSE(state->leader.empty());
  EXPECT_EQ(state->followers.size(), 2u);

  for (int i = 0; i < 10; ++i) {
    auto ack =
        log_.js->Publish(ShardSubject("docs", i % 4), absl::StrCat("m", i),
                         absl::StrCat("req-", i), absl::Seconds(10));
    ASSERT_TRUE(ack.ok()) << ack.status();
    EXPECT_EQ(ack->sequence, static_cast<uint64_t>(i + 1));
    EXPECT_FALSE(ack->duplicate);
  }
  // A retry with an id already stored is answered with the first copy.
  auto dup = log_.js->Publish(ShardSubject("docs", 3), "m3 again", "req-3",
                              absl::Seconds(10));
  ASSERT_TRUE(dup.ok());
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ(dup->sequence, 4u);
  EXPECT_EQ(log_.js->GetStreamState(StreamName("docs"))->messages, 10u);

  // A subject's last sequence: 0 only for a subject without a message; a
  // stream that does not exist is an error, not "no message" (a replica
  // taking it for 0 would call itself caught up).
  auto last =
      log_.js->LastSequence(StreamName("docs"), ShardSubject("docs", 1));
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, 10u);  // m9
  last = log_.js->LastSequence(StreamName("docs"), ShardSubject("docs", 7));
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, 0u);
  last = log_.js->LastSequence("tqdb_none", ShardSubject("none", 0));
  EXPECT_FALSE(last.ok()) << *last;

  // No stream takes the subject: Unavailable, after the timeout.
  auto nowhere = log_.js->Publish("tqdb.none.0", "x", "id", absl::Seconds(1),
                                  absl::Milliseconds(300));
  EXPECT_TRUE(absl::IsUnavailable(nowhere.status())) << nowhere.status();
  EXPECT_TRUE(absl::IsNotFound(log_.js->GetStreamState("tqdb_none").status()));

  ASSERT_TRUE(log_.js->DeleteStream(StreamName("docs")).ok());
  EXPECT_TRUE(
      absl::IsNotFound(log_.js->GetStreamState(StreamName("docs")).status()));
}

TEST_F(JetStreamTest, DurableConsumerReadsOneShardAndResumes) {
  ASSERT_TRUE(log_.js->EnsureStream(Docs()).ok());
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(log_.js
                    ->Publish(ShardSubject("docs", i % 2), absl::StrCat(i),
                              absl::StrCat("id", i), absl::Seconds(10))
                    .ok());
  }
  ConsumerConfig c;
  c.stream = StreamName("docs");
  c.durable = ConsumerName(1, 1);
  c.filter_subject = ShardSubject("docs", 1);
  c.ack_wait = absl::Seconds(1);
  {
    auto consumer = PullConsumer::Create(log_.js.get(), c);
    ASSERT_TRUE(consumer.ok()) << consumer.status();
    std::vector<JsMessage> got = FetchN(consumer->get(), 10);
    ASSERT_EQ(got.size(), 10u);
    for (size_t i = 0; i < got.size(); ++i) {
      // Shard 1's messages only: the odd ones, in stream order.
      EXPECT_EQ(got[i].data(), absl::StrCat(2 * i + 1));
      EXPECT_EQ(got[i].stream_sequence(), 2 * i + 2);
      EXPECT_EQ(got[i].subject(), ShardSubject("docs", 1));
      EXPECT_EQ(got[i].message_id(), absl::StrCat("id", 2 * i + 1));
      EXPECT_EQ(got[i].delivered(), 1u);
    }
    for (size_t i = 0; i < 5; ++i) ASSERT_TRUE(got[i].Ack().ok());
  }
  auto state = PullConsumer::Lookup(log_.js.get(), c.stream, c.durable);
  ASSERT_TRUE(state.ok() && state->has_value()) << state.status();
  // Acknowledged through sequence 10; 11 is not the consumer's.
  EXPECT_GE((*state)->ack_floor, 10u);
  EXPECT_LT((*state)->ack_floor, 12u);

  // Bound again (a restarted node): the unacknowledged five come back once
  // their ack_wait ran out, then the rest.
  auto again = PullConsumer::Create(log_.js.get(), c);
  ASSERT_TRUE(again.ok()) << again.status();
  std::vector<JsMessage> rest = FetchN(again->get(), 15);
  ASSERT_EQ(rest.size(), 15u);
  std::set<std::string> data;
  for (JsMessage& m : rest) {
    data.insert(std::string(m.data()));
    ASSERT_TRUE(m.Ack().ok());
  }
  EXPECT_EQ(data.size(), 15u);
  EXPECT_EQ(data.count("9"), 0u);   // acknowledged before
  EXPECT_EQ(data.count("11"), 1u);  // redelivered
  EXPECT_EQ(data.count("39"), 1u);
  auto acked = (*again)->State();
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_EQ(acked->ack_floor, 40u);

  // Deleted: Lookup says so, and a new consumer starts where it is told.
  again->reset();
  ASSERT_TRUE(PullConsumer::Delete(log_.js.get(), c.stream, c.durable).ok());
  ASSERT_TRUE(PullConsumer::Delete(log_.js.get(), c.stream, c.durable).ok());
  EXPECT_FALSE(
      PullConsumer::Lookup(log_.js.get(), c.stream, c.durable)->has_value());
  c.start_sequence = 30;
  c.ack_all = true;
  auto from30 = PullConsumer::Create(log_.js.get(), c);
  ASSERT_TRUE(from30.ok()) << from30.status();
  std::vector<JsMessage> tail = FetchN(from30->get(), 6);
  ASSERT_EQ(tail.size(), 6u);  // sequences 30, 32, ..., 40
  EXPECT_EQ(tail.front().stream_sequence(), 30u);
  ASSERT_TRUE(tail.back().AckNoWait().ok());  // acks all six
  EXPECT_TRUE(Eventually(absl::Seconds(5), [&] {
    auto s = (*from30)->State();
    return s.ok() && s->ack_floor == 40u;
  }));
}

TEST_F(JetStreamTest, PublishesSurviveTheLossOfOneServer) {
  ASSERT_TRUE(log_.js->EnsureStream(Docs()).ok());
  // Kill the stream's leader while publishing: publishes retry with their
  // message id through the election and none is lost or stored twice.
  auto state = log_.js->GetStreamState(StreamName("docs"));
  ASSERT_TRUE(state.ok());
  int victim = -1;
  for (int i = 0; i < log_.nats->size(); ++i) {
    if (state->leader == absl::StrCat("n", i)) victim = i;
  }
  ASSERT_GE(victim, 0) << state->leader;
  constexpr int kMessages = 200;
  std::set<uint64_t> sequences;
  for (int i = 0; i < kMessages; ++i) {
    if (i == kMessages / 2) log_.nats->server(victim).Signal(SIGKILL);
    auto ack = log_.js->Publish(ShardSubject("docs", 0), absl::StrCat(i),
                                absl::StrCat("k", i), absl::Seconds(30));
    ASSERT_TRUE(ack.ok()) << "message " << i << ": " << ack.status();
    sequences.insert(ack->sequence);
  }
  EXPECT_EQ(sequences.size(), static_cast<size_t>(kMessages));
  auto after = log_.js->GetStreamState(StreamName("docs"));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->messages, static_cast<uint64_t>(kMessages));
  EXPECT_NE(after->leader, absl::StrCat("n", victim));

  // Every acknowledged message is readable, once, in order. The consumer
  // is a new Raft group on the stream's peers, the dead one among them: its
  // create returns once the group elected a leader, and an election with a
  // peer gone takes seconds (the stream's own took 5.3 s after the kill in
  // a failed run), which can outlast one API call's 5 s timeout; the create
  // completes regardless, and another attempt finds the consumer. (The
  // replicas do the same: a failed session starts over.)
  ConsumerConfig c;
  c.stream = StreamName("docs");
  c.durable = "reader";
  c.filter_subject = ShardSubject("docs", 0);
  absl::StatusOr<std::unique_ptr<PullConsumer>> consumer;
  int attempts = 0;
  EXPECT_TRUE(Eventually(absl::Seconds(60),
                         [&] {
                           ++attempts;
                           consumer = PullConsumer::Create(log_.js.get(), c);
                           return consumer.ok();
                         }))
      << attempts << " attempts";
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  std::cerr << "consumer created after " << attempts << " attempt(s)"
            << std::endl;
  std::vector<JsMessage> all = FetchN(consumer->get(), kMessages);
  ASSERT_EQ(all.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_EQ(all[i].data(), absl::StrCat(i));
  }

  // The server comes back and catches up: both followers current again
  // (an offline one is listed among the followers all along).
  ASSERT_TRUE(log_.nats->Restart(victim).ok());
  std::vector<std::string> current;
  EXPECT_TRUE(Eventually(absl::Seconds(30), [&] {
    auto s = log_.js->GetStreamState(StreamName("docs"));
    if (s.ok()) current = s->current_followers;
    return s.ok() && s->current_followers.size() == 2u;
  })) << absl::StrJoin(current, ",");
}

TEST_F(JetStreamTest, PublishFailsUnavailableWithoutQuorum) {
  ASSERT_TRUE(log_.js->EnsureStream(Docs()).ok());
  ASSERT_TRUE(
      log_.js->Publish(ShardSubject("docs", 0), "x", "a", absl::Seconds(10))
          .ok());
  // Two of three servers gone: nothing can be stored on a quorum.
  log_.nats->server(1).Signal(SIGKILL);
  log_.nats->server(2).Signal(SIGKILL);
  const absl::Time start = absl::Now();
  auto ack = log_.js->Publish(ShardSubject("docs", 0), "y", "b",
                              absl::Seconds(3), absl::Milliseconds(500));
  EXPECT_TRUE(absl::IsUnavailable(ack.status())) << ack.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(8));
  // Back: the same message id goes through.
  ASSERT_TRUE(log_.nats->Restart(1).ok());
  ASSERT_TRUE(log_.nats->Restart(2).ok());
  auto retried =
      log_.js->Publish(ShardSubject("docs", 0), "y", "b", absl::Seconds(30));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(log_.js->GetStreamState(StreamName("docs"))->messages, 2u);
}

}  // namespace
}  // namespace cluster
}  // namespace tqdb
