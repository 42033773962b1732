#include "xapi/store.h"

#include <simdjson.h>

#include <cinttypes>
#include <cstdio>

namespace jiritsu::xapi {
namespace {

constexpr std::string_view kStatements = "xapi_statements";
constexpr std::string_view kOrder = "xapi_order";
// Descending order: the complement of the ascending key (RocksDB iterators
// used here move forward only).
constexpr std::string_view kOrderDesc = "xapi_order_desc";

std::string Complement(std::string_view key) {
  std::string out(key);
  for (char& c : out) c = static_cast<char>(0xFF - static_cast<unsigned char>(c));
  return out;
}
constexpr std::string_view kVoided = "xapi_voided";
constexpr std::string_view kUnmapped = "xapi_unmapped";
constexpr std::string_view kOffsetKey = "xapi_next_offset";

std::string Field(simdjson::dom::element root, const char* key) {
  std::string_view text;
  if (root[key].get_string().get(text) != simdjson::SUCCESS) return "";
  return std::string(text);
}

}  // namespace

Result<StoredRecord> ParseRecord(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return Corruption("xapi record: not a JSON object");
  }
  StoredRecord record;
  record.json = std::string(json);
  record.id = Field(root, "id");
  record.hash = Field(root, "hash");
  record.client = Field(root, "client");
  record.outcome = Field(root, "outcome");
  record.employee = Field(root, "employee");
  record.source = Field(root, "source");
  record.event_id = Field(root, "event_id");
  record.voided_target = Field(root, "voided_target");
  simdjson::dom::element statement;
  if (root["statement"].get(statement) != simdjson::SUCCESS || !statement.is_object() || record.id.empty() ||
      root["stored_us"].get_int64().get(record.stored_us) != simdjson::SUCCESS) {
    return Corruption("xapi record: id, stored_us and statement are required");
  }
  record.statement = simdjson::to_string(statement);
  return record;
}

std::string StatementStore::OrderKey(const StoredRecord& record) {
  char buffer[24];
  std::snprintf(buffer, sizeof(buffer), "%016" PRIx64, static_cast<uint64_t>(record.stored_us));
  return std::string(buffer) + record.id;
}

Result<std::unique_ptr<StatementStore>> StatementStore::Open(const std::string& dir) {
  StateStoreOptions options;
  options.column_families = {std::string(kStatements), std::string(kOrder), std::string(kOrderDesc), std::string(kVoided),
                             std::string(kUnmapped)};
  options.sync_writes = true;  // a 200 to the LRS client means durable here too
  options.block_cache_bytes = 8 << 20;
  JIRITSU_ASSIGN_OR_RETURN(std::unique_ptr<StateStore> store, StateStore::Open(dir, options));
  return std::unique_ptr<StatementStore>(new StatementStore(std::move(store)));
}

Status StatementStore::AddToBatch(const StoredRecord& record, StateBatch* batch) const {
  if (record.id.empty()) return Status::Ok();  // an unreadable log record: only move past it
  std::string existing;
  Status found = store_->Get(kStatements, record.id, &existing);
  if (!found.ok() && found.code() != StatusCode::kNotFound) return found;
  if (found.code() == StatusCode::kNotFound) {
    const std::string order = OrderKey(record);
    batch->Put(kStatements, record.id, record.json);
    batch->Put(kOrder, order, record.id);
    batch->Put(kOrderDesc, Complement(order), record.id);
    if (!record.voided_target.empty()) batch->Put(kVoided, record.voided_target, record.id);
    if (record.outcome.starts_with("unmapped")) batch->Put(kUnmapped, order, record.id);
  }
  return Status::Ok();
}

Status StatementStore::Apply(const StoredRecord& record, int64_t log_offset) {
  StateBatch batch;
  JIRITSU_RETURN_IF_ERROR(AddToBatch(record, &batch));
  if (log_offset >= 0) batch.Put(kMetaFamily, kOffsetKey, std::to_string(log_offset + 1));
  return store_->Write(&batch);
}

Status StatementStore::ApplyAll(const std::vector<StoredRecord>& records, int64_t log_offset) {
  StateBatch batch;
  for (const StoredRecord& record : records) JIRITSU_RETURN_IF_ERROR(AddToBatch(record, &batch));
  if (log_offset >= 0) batch.Put(kMetaFamily, kOffsetKey, std::to_string(log_offset + 1));
  return store_->Write(&batch);
}

Result<StoredRecord> StatementStore::Get(std::string_view id) const {
  std::string json;
  Status s = store_->Get(kStatements, id, &json);
  if (!s.ok()) return s;
  return ParseRecord(json);
}

std::optional<std::string> StatementStore::VoidedBy(std::string_view id) const {
  std::string voiding;
  if (!store_->Get(kVoided, id, &voiding).ok()) return std::nullopt;
  return voiding;
}

Result<int64_t> StatementStore::NextOffset() const {
  std::string text;
  Status s = store_->Get(kMetaFamily, kOffsetKey, &text);
  if (s.code() == StatusCode::kNotFound) return int64_t{0};
  if (!s.ok()) return s;
  return static_cast<int64_t>(std::strtoll(text.c_str(), nullptr, 10));
}

Status StatementStore::Scan(
    bool ascending, const std::string& after,
    const std::function<bool(const std::string&, const StoredRecord&)>& visit) const {
  // Cursors are ascending order keys in both directions.
  auto it = store_->NewIterator(ascending ? kOrder : kOrderDesc);
  const std::string from = ascending || after.empty() ? after : Complement(after);
  if (from.empty()) {
    it->SeekToFirst();
  } else {
    it->Seek(from);
    if (it->Valid() && it->key() == from) it->Next();
  }
  for (; it->Valid(); it->Next()) {
    Result<StoredRecord> record = Get(it->value());
    if (!record.ok()) return record.status();
    const std::string key = ascending ? std::string(it->key()) : Complement(it->key());
    if (!visit(key, *record)) return Status::Ok();
  }
  return it->status();
}

Status StatementStore::Unmapped(const std::string& after, size_t limit, std::vector<std::string>* summaries,
                                std::string* next) const {
  next->clear();
  auto it = store_->NewIterator(kUnmapped);
  if (after.empty()) {
    it->SeekToFirst();
  } else {
    it->Seek(after);
    if (it->Valid() && it->key() == after) it->Next();
  }
  std::string last;
  for (; it->Valid(); it->Next()) {
    if (summaries->size() == limit) {
      *next = last;
      break;
    }
    Result<StoredRecord> record = Get(it->value());
    if (!record.ok()) return record.status();
    summaries->push_back(record->json);
    last = std::string(it->key());
  }
  return it->status();
}

}  // namespace jiritsu::xapi
