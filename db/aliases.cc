// Database aliases (Database::UpdateAliases): other names of collections,
// kept in meta "alias/<alias>" (db/FORMAT.md) and in DatabaseImpl::aliases_.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/db_impl.h"
#include "db/format.h"
#include "db/rocks_util.h"
#include "quant/echo.h"
#include "quant/status_macros.h"
#include "rocksdb/write_batch.h"

namespace tqdb {
namespace dbimpl {

absl::Status DatabaseImpl::LoadAliases() {
  const std::string prefix(dbformat::kAliasPrefix);
  std::unique_ptr<rocksdb::Iterator> it(
      core_->db->NewIterator(rocksdb::ReadOptions(), core_->meta()));
  absl::MutexLock l(&mu_);
  rocksdb::WriteBatch stale;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    const std::string alias = it->key().ToString().substr(prefix.size());
    const std::string collection = it->value().ToString();
    // A drop deletes its collection's aliases in its own batch; one whose
    // collection is gone was left by a build that knew no aliases (it
    // ignores them). Deleted, or it would name a collection created later
    // under that name.
    if (!collections_.count(collection)) {
      stale.Delete(core_->meta(), it->key());
      continue;
    }
    aliases_[alias] = collection;
  }
  TQ_RETURN_IF_ERROR(FromRocks(it->status(), core_->dir + ": meta aliases"));
  if (stale.Count() == 0) return absl::OkStatus();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(core_->db->Write(wo, &stale),
                   core_->dir + ": deleting aliases of dropped collections");
}

const std::string& DatabaseImpl::Resolve(const std::string& name) const {
  auto it = aliases_.find(name);
  return it == aliases_.end() ? name : it->second;
}

absl::Status DatabaseImpl::UpdateAliases(
    const std::vector<AliasChange>& changes) {
  absl::ReaderMutexLock life(&core_->life_mu);
  if (core_->closed) return absl::FailedPreconditionError("database is closed");
  if (core_->db == nullptr) return core_->ReopeningError();
  absl::MutexLock l(&mu_);
  std::map<std::string, std::string> next = aliases_;
  rocksdb::WriteBatch batch;
  for (size_t i = 0; i < changes.size(); ++i) {
    const AliasChange& ch = changes[i];
    const std::string where = absl::StrCat("alias change ", i, ": ");
    if (!ValidName(ch.alias)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "alias name '", EchoInput(ch.alias),
                       "' must match [A-Za-z0-9_-]{1,64}"));
    }
    if (ch.kind == AliasChange::Kind::kDelete) {
      if (next.erase(ch.alias) == 0) {
        return absl::NotFoundError(
            absl::StrCat(where, "alias '", ch.alias, "' not found"));
      }
      batch.Delete(core_->meta(), dbformat::AliasKey(ch.alias));
      continue;
    }
    if (collections_.count(ch.alias)) {
      return absl::AlreadyExistsError(
          absl::StrCat(where, "'", ch.alias, "' is the name of a collection"));
    }
    if (auto a = next.find(ch.alias); a != next.end()) {
      return absl::AlreadyExistsError(absl::StrCat(
          where, "alias '", ch.alias, "' exists (of collection '", a->second,
          "'): delete it first, in the same call to move it at once"));
    }
    if (!collections_.count(ch.collection)) {
      return absl::NotFoundError(absl::StrCat(
          where, "collection '", EchoInput(ch.collection), "' not found",
          next.count(ch.collection) ? " (it is an alias: name a collection)"
                                    : ""));
    }
    next[ch.alias] = ch.collection;
    batch.Put(core_->meta(), dbformat::AliasKey(ch.alias), ch.collection);
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  TQ_RETURN_IF_ERROR(
      FromRocks(core_->db->Write(wo, &batch), core_->dir + ": update aliases"));
  aliases_ = std::move(next);
  return absl::OkStatus();
}

std::map<std::string, std::string> DatabaseImpl::ListAliases() const {
  absl::MutexLock l(&mu_);
  return aliases_;
}

}  // namespace dbimpl
}  // namespace tqdb
