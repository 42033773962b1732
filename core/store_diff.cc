#include "core/store_diff.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>

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
                                   const RowPredicate& in_scope) {
  if (sodium_init() < 0) return Internal("libsodium failed to initialise");
  SortUnique(&families);
  StoreDigest result;
  crypto_generichash_state combined;
  crypto_generichash_init(&combined, nullptr, 0, kDigestBytes);
  for (const auto& family : families) {
    crypto_generichash_state state;
    crypto_generichash_init(&state, nullptr, 0, kDigestBytes);
    FamilyDigest digest{family, 0, ""};
    JIRITSU_ASSIGN_OR_RETURN(std::unique_ptr<StateIterator> it, OpenFamily(store, family));
    if (it) {
      for (; it->Valid(); it->Next()) {
        if (in_scope && !in_scope(family, it->key())) continue;
        HashSized(&state, it->key());
        HashSized(&state, it->value());
        ++digest.keys;
      }
      JIRITSU_RETURN_IF_ERROR(it->status());
    }
    std::array<unsigned char, kDigestBytes> bytes;
    crypto_generichash_final(&state, bytes.data(), bytes.size());
    digest.digest = Hex(bytes.data(), bytes.size());
    HashSized(&combined, family);
    crypto_generichash_update(&combined, bytes.data(), bytes.size());
    result.families.push_back(std::move(digest));
  }
  std::array<unsigned char, kDigestBytes> bytes;
  crypto_generichash_final(&combined, bytes.data(), bytes.size());
  result.combined = Hex(bytes.data(), bytes.size());
  return result;
}

Result<std::vector<FamilyDiff>> DiffFamilies(const StateStore& left, const StateStore& right,
                                             std::vector<std::string> families,
                                             size_t max_differences_per_family,
                                             const RowPredicate& in_scope) {
  SortUnique(&families);
  std::vector<FamilyDiff> diffs;
  for (const auto& family : families) {
    JIRITSU_ASSIGN_OR_RETURN(std::unique_ptr<StateIterator> a, OpenFamily(left, family));
    JIRITSU_ASSIGN_OR_RETURN(std::unique_ptr<StateIterator> b, OpenFamily(right, family));
    FamilyDiff diff{family, 0, {}};
    auto record = [&](KeyDifference::Kind kind, std::string_view key, std::string_view left_value,
                      std::string_view right_value) {
      ++diff.differing_keys;
      if (diff.first_differences.size() < max_differences_per_family) {
        diff.first_differences.push_back(KeyDifference{
            kind, std::string(key), std::string(left_value), std::string(right_value)});
      }
    };
    const bool has_a = a != nullptr;
    const bool has_b = b != nullptr;
    auto skip_out_of_scope = [&](StateIterator* it, bool has) {
      if (!in_scope || !has) return;
      while (it->Valid() && !in_scope(family, it->key())) it->Next();
    };
    skip_out_of_scope(a.get(), has_a);
    skip_out_of_scope(b.get(), has_b);
    // Bytewise order: std::string_view::compare is memcmp order, like
    // RocksDB's default comparator.
    while ((has_a && a->Valid()) || (has_b && b->Valid())) {
      const bool a_valid = has_a && a->Valid();
      const bool b_valid = has_b && b->Valid();
      const int order = !a_valid ? 1 : !b_valid ? -1 : a->key().compare(b->key());
      if (order < 0) {
        record(KeyDifference::Kind::kOnlyLeft, a->key(), a->value(), {});
        a->Next();
        skip_out_of_scope(a.get(), has_a);
      } else if (order > 0) {
        record(KeyDifference::Kind::kOnlyRight, b->key(), {}, b->value());
        b->Next();
        skip_out_of_scope(b.get(), has_b);
      } else {
        if (a->value() != b->value()) {
          record(KeyDifference::Kind::kValueDiffers, a->key(), a->value(), b->value());
        }
        a->Next();
        b->Next();
        skip_out_of_scope(a.get(), has_a);
        skip_out_of_scope(b.get(), has_b);
      }
    }
    if (has_a) JIRITSU_RETURN_IF_ERROR(a->status());
    if (has_b) JIRITSU_RETURN_IF_ERROR(b->status());
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
