#include "core/dedupe_index.h"

#include <utility>

namespace jiritsu {
namespace {
constexpr std::string_view kIdentitiesFamily = "identities";
}  // namespace

Result<std::unique_ptr<DedupeIndex>> DedupeIndex::Open(const std::string& dir) {
  StateStoreOptions options;
  options.column_families = {std::string(kIdentitiesFamily)};
  options.block_cache_bytes = 32 << 20;
  Result<std::unique_ptr<StateStore>> store = StateStore::Open(dir, options);
  if (!store.ok()) return store.status().WithContext("dedupe index " + dir);
  return std::unique_ptr<DedupeIndex>(new DedupeIndex(std::move(store).value()));
}

std::string DedupeIndex::Key(std::string_view source, std::string_view id) {
  std::string key;
  key.reserve(source.size() + 1 + id.size());
  key.append(source);
  key.push_back('\0');
  key.append(id);
  return key;
}

Result<bool> DedupeIndex::Contains(std::string_view key) const {
  std::string value;
  const Status status = store_->Get(kIdentitiesFamily, key, &value);
  if (status.ok()) return true;
  if (status.code() == StatusCode::kNotFound) return false;
  return status.WithContext("dedupe index lookup");
}

Status DedupeIndex::Mark(const std::vector<std::string>& keys) {
  if (keys.empty()) return Status::Ok();
  StateBatch batch;
  for (const std::string& key : keys) batch.Put(kIdentitiesFamily, key, "");
  return store_->Write(&batch).WithContext("dedupe index write");
}

}  // namespace jiritsu
