#include "core/store_diff.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>
#include <utility>

#include "core/thread_name.h"

namespace jiritsu {
namespace {

constexpr size_t kDigestBytes = 32;

void SortUnique(std::vector<std::string>* names) {
  std::sort(names->begin(), names->end());
  names->erase(std::unique(names->begin(), names->end()), names->end());
}

void HashSized(crypto_generichash_state* state, std::string_view bytes) {
  const uint32_t size = static_cast<uint32_t>(bytes.size());
  const unsigned char prefix[4] = {static_cast<unsigned char>(size >> 24),
                                   static_cast<unsigned char>(size >> 16),
                                   static_cast<unsigned char>(size >> 8),
                                   static_cast<unsigned char>(size)};
  crypto_generichash_update(state, prefix, sizeof(prefix));
  crypto_generichash_update(state, reinterpret_cast<const unsigned char*>(bytes.data()),
                            bytes.size());
}

std::string Hex(const unsigned char* bytes, size_t size) {
  std::string out(size * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes, size);
  out.resize(size * 2);
  return out;
}

// An iterator positioned at the first key, or nullptr when the store has no
// such family (treated as empty).
Result<std::unique_ptr<StateIterator>> OpenFamily(const StateStore& store,
                                                  const std::string& family) {
  std::unique_ptr<StateIterator> it = store.NewIterator(family);
  it->SeekToFirst();
  if (!it->Valid()) {
    Status status = it->status();
    if (status.code() == StatusCode::kNotFound) return std::unique_ptr<StateIterator>();
    if (!status.ok()) return status;
  }
  return it;
}

// The rows of one family in key order: out of scope ones skipped, and each
// read through `read` when given (a row it leaves out is skipped too).
// `it` may be null (no such family: no rows).
class RowCursor {
 public:
  // `read` is copied: callers pass temporaries ({} for none).
  RowCursor(StateIterator* it, const std::string& family, const RowPredicate& in_scope,
            RowReader read)
      : it_(it), family_(family), in_scope_(in_scope), read_(std::move(read)) {}
  // Moves to the first row at or after the iterator's position that counts.
  Status Settle() {
    if (it_ == nullptr) return Status::Ok();
    for (; it_->Valid(); it_->Next()) {
      if (in_scope_ && !in_scope_(family_, it_->key())) continue;
      if (!read_) return Status::Ok();
      JIRITSU_ASSIGN_OR_RETURN(std::optional<std::string> value,
                               read_(family_, it_->key(), it_->value()));
      if (!value) continue;
      value_ = std::move(*value);
      return Status::Ok();
    }
    return it_->status();
  }
  bool Valid() const { return it_ != nullptr && it_->Valid(); }
  std::string_view key() const { return it_->key(); }
  std::string_view value() const { return read_ ? std::string_view(value_) : it_->value(); }
  Status Next() {
    it_->Next();
    return Settle();
  }

 private:
  StateIterator* it_;
  const std::string& family_;
  const RowPredicate& in_scope_;
  const RowReader read_;
  std::string value_;
};

// One family's digest: its name, rows and BLAKE2b-256 (also as bytes).
Status DigestFamily(const StateStore& store, const std::string& family,
                    const RowPredicate& in_scope, const RowReader& read, FamilyDigest* digest,
                    std::array<unsigned char, kDigestBytes>* bytes) {
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, kDigestBytes);
  *digest = FamilyDigest{family, 0, ""};
  JIRITSU_ASSIGN_OR_RETURN(std::unique_ptr<StateIterator> it, OpenFamily(store, family));
  RowCursor rows(it.get(), family, in_scope, read);
  JIRITSU_RETURN_IF_ERROR(rows.Settle());
  while (rows.Valid()) {
    HashSized(&state, rows.key());
    HashSized(&state, rows.value());
    ++digest->keys;
    JIRITSU_RETURN_IF_ERROR(rows.Next());
  }
  crypto_generichash_final(&state, bytes->data(), bytes->size());
  digest->digest = Hex(bytes->data(), bytes->size());
  return Status::Ok();
}

}  // namespace

std::string_view KeyDifferenceKindName(KeyDifference::Kind kind) {
  switch (kind) {
    case KeyDifference::Kind::kOnlyLeft: return "only_left";
    case KeyDifference::Kind::kOnlyRight: return "only_right";
    case KeyDifference::Kind::kValueDiffers: return "value_differs";
  }
  return "unknown";
}

Result<StoreDigest> DigestFamilies(const StateStore& store, std::vector<std::string> families,
                                   const RowPredicate& in_scope, const RowReader& read) {
  if (sodium_init() < 0) return Internal("libsodium failed to initialise");
  SortUnique(&families);
  // Each family has its own digest, so the families are digested side by
  // side, one thread each at a time (a replay's report waited ~5 s for its
  // digest, one family after another, before the promotion; see
  // docs/performance.md, fortieth pass); they are combined in name order.
  struct Digested {
    Status status;
    FamilyDigest digest;
    std::array<unsigned char, kDigestBytes> bytes{};
  };
  std::vector<Digested> digested(families.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < families.size(); i = next.fetch_add(1)) {
      digested[i].status =
          DigestFamily(store, families[i], in_scope, read, &digested[i].digest, &digested[i].bytes);
    }
  };
  const size_t threads =
      std::min<size_t>(families.size(), std::max(1u, std::thread::hardware_concurrency()));
  {
    std::vector<std::jthread> helpers;
    for (size_t t = 1; t < threads; ++t) {
      helpers.emplace_back([&work] {
        NameCurrentThread("jr-digest");
        work();
      });
    }
    work();
  }
  StoreDigest result;
  crypto_generichash_state combined;
  crypto_generichash_init(&combined, nullptr, 0, kDigestBytes);
  for (size_t i = 0; i < families.size(); ++i) {
    JIRITSU_RETURN_IF_ERROR(digested[i].status);
    HashSized(&combined, families[i]);
    crypto_generichash_update(&combined, digested[i].bytes.data(), digested[i].bytes.size());
    result.families.push_back(std::move(digested[i].digest));
  }
  std::array<unsigned char, kDigestBytes> bytes;
  crypto_generichash_final(&combined, bytes.data(), bytes.size());
  result.combined = Hex(bytes.data(), bytes.size());
  return result;
}

Result<std::vector<FamilyDiff>> DiffFamilies(const StateStore& left, const StateStore& right,
                                             std::vector<std::string> families,
                                             size_t max_differences_per_family,
                                             const RowPredicate& in_scope,
                                             const RowReader& read_left) {
  SortUnique(&families);
  std::vector<FamilyDiff> diffs;
  for (const auto& family : families) {
    JIRITSU_ASSIGN_OR_RETURN(std::unique_ptr<StateIterator> a_it, OpenFamily(left, family));
    JIRITSU_ASSIGN_OR_RETURN(std::unique_ptr<StateIterator> b_it, OpenFamily(right, family));
    RowCursor a(a_it.get(), family, in_scope, read_left);
    RowCursor b(b_it.get(), family, in_scope, {});
    JIRITSU_RETURN_IF_ERROR(a.Settle());
    JIRITSU_RETURN_IF_ERROR(b.Settle());
    FamilyDiff diff{family, 0, {}};
    auto record = [&](KeyDifference::Kind kind, std::string_view key, std::string_view left_value,
                      std::string_view right_value) {
      ++diff.differing_keys;
      if (diff.first_differences.size() < max_differences_per_family) {
        diff.first_differences.push_back(KeyDifference{
            kind, std::string(key), std::string(left_value), std::string(right_value)});
      }
    };
    // Bytewise order: std::string_view::compare is memcmp order, like
    // RocksDB's default comparator.
    while (a.Valid() || b.Valid()) {
      const int order = !a.Valid() ? 1 : !b.Valid() ? -1 : a.key().compare(b.key());
      if (order < 0) {
        record(KeyDifference::Kind::kOnlyLeft, a.key(), a.value(), {});
        JIRITSU_RETURN_IF_ERROR(a.Next());
      } else if (order > 0) {
        record(KeyDifference::Kind::kOnlyRight, b.key(), {}, b.value());
        JIRITSU_RETURN_IF_ERROR(b.Next());
      } else {
        if (a.value() != b.value()) {
          record(KeyDifference::Kind::kValueDiffers, a.key(), a.value(), b.value());
        }
        JIRITSU_RETURN_IF_ERROR(a.Next());
        JIRITSU_RETURN_IF_ERROR(b.Next());
      }
    }
    if (diff.differing_keys > 0) diffs.push_back(std::move(diff));
  }
  return diffs;
}

std::string PrintableBytes(std::string_view bytes, size_t limit) {
  std::string out;
  const size_t shown = std::min(bytes.size(), limit);
  for (size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
      out += escaped;
    }
  }
  if (shown < bytes.size()) out += "...";
  return out;
}

}  // namespace jiritsu
