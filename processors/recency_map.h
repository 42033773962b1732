// A map from string keys to values in recency order: the projector's cache of
// employee states (processors/projector.cc).
//
// Why not std::unordered_map plus a std::list of keys: a lookup there walks
// the bucket array, the node before the bucket's first (another key's), the
// node and its cached hash at the node's end, and every use splices a list
// node holding a copy of the key. At 100 000 employees each of those is a
// cache miss, and the lookup was the runtime thread's largest cost
// (docs/performance.md, thirty-eighth pass). Here a lookup reads one slot of
// a flat, linearly probed array (a 16-byte hash and node pointer) and then
// the node, which it needs anyway; the recency list is threaded through the
// nodes. Slots are indexed by the hash's high bits, so lookups made in hash
// order (the runtime groups a batch by std::hash of the key) walk the array
// forwards.
//
// Lifecycle: nodes are allocated by Insert and freed by Erase, Clear and the
// destructor; a Node* stays valid until its node is erased (a rehash moves
// slots, never nodes). Thread-safety: none (one owner thread). Failure: none
// but std::bad_alloc.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jiritsu::processors {

template <typename Value>
class RecencyMap {
 public:
  struct Node {
    Node(std::string node_key, uint64_t node_hash) : key(std::move(node_key)), hash(node_hash) {}
    const std::string key;
    const uint64_t hash;
    Value value{};
    Node* newer = nullptr;  // towards the most recently used
    Node* older = nullptr;  // towards the least recently used
  };

  RecencyMap() = default;
  RecencyMap(const RecencyMap&) = delete;
  RecencyMap& operator=(const RecencyMap&) = delete;
  ~RecencyMap() { Clear(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The node of `key`, or nullptr. Does not change the recency order.
  Node* Find(std::string_view key) const {
    if (size_ == 0) return nullptr;
    const uint64_t hash = Hash(key);
    for (size_t slot = Home(hash);; slot = (slot + 1) & mask_) {
      const Slot& candidate = slots_[slot];
      if (candidate.node == nullptr) return nullptr;
      if (candidate.hash == hash && candidate.node->key == key) return candidate.node;
    }
  }

  // Prefetch helpers, for a caller that knows which keys come next: the
  // slot `hash` starts its probe at, and (once that slot is cached) the node
  // it finds there under `hash`, or null. Neither compares keys nor
  // changes anything.
  void PrefetchSlot(uint64_t hash) const {
    if (size_ != 0) __builtin_prefetch(&slots_[Home(hash)]);
  }
  Node* PeekNode(uint64_t hash) const {
    if (size_ == 0) return nullptr;
    for (size_t slot = Home(hash);; slot = (slot + 1) & mask_) {
      const Slot& candidate = slots_[slot];
      if (candidate.node == nullptr) return nullptr;
      if (candidate.hash == hash) return candidate.node;
    }
  }

  // Adds `key` (which must be absent) with a value-initialised value, as the
  // most recently used.
  Node* Insert(std::string key) {
    if (2 * (size_ + 1) > slots_.size()) Grow();
    const uint64_t hash = Hash(key);
    Node* node = new Node(std::move(key), hash);
    Place(hash, node);
    ++size_;
    LinkNewest(node);
    return node;
  }

  // Makes `node` the most recently used.
  void Touch(Node* node) {
    if (node == newest_) return;
    Unlink(node);
    LinkNewest(node);
  }

  // Removes and frees `node`.
  void Erase(Node* node) {
    size_t slot = Home(node->hash);
    while (slots_[slot].node != node) slot = (slot + 1) & mask_;
    // Backward-shift deletion: later slots of the probe run move up, so
    // lookups never need tombstones.
    for (size_t next = (slot + 1) & mask_;; next = (next + 1) & mask_) {
      const Slot& moving = slots_[next];
      if (moving.node == nullptr) break;
      const size_t home = Home(moving.hash);
      // `moving` may fill the hole unless its home lies cyclically in (slot, next].
      const bool home_after_hole =
          slot <= next ? (slot < home && home <= next) : (slot < home || home <= next);
      if (home_after_hole) continue;
      slots_[slot] = moving;
      slot = next;
    }
    slots_[slot] = Slot{};
    --size_;
    Unlink(node);
    delete node;
  }

  void Clear() {
    for (Node* node = oldest_; node != nullptr;) {
      Node* newer = node->newer;
      delete node;
      node = newer;
    }
    oldest_ = newest_ = nullptr;
    slots_.clear();
    mask_ = 0;
    shift_ = 64;
    size_ = 0;
  }

  // The recency list's ends (nullptr when empty); walk with ->newer/->older.
  Node* LeastRecent() const { return oldest_; }
  Node* MostRecent() const { return newest_; }

 private:
  struct Slot {
    uint64_t hash = 0;
    Node* node = nullptr;
  };

  static uint64_t Hash(std::string_view key) { return std::hash<std::string_view>{}(key); }
  size_t Home(uint64_t hash) const { return static_cast<size_t>(hash >> shift_); }

  void Place(uint64_t hash, Node* node) {
    size_t slot = Home(hash);
    while (slots_[slot].node != nullptr) slot = (slot + 1) & mask_;
    slots_[slot] = Slot{hash, node};
  }

  void Grow() {
    const size_t capacity = slots_.empty() ? 16 : 2 * slots_.size();
    std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(capacity));
    mask_ = capacity - 1;
    shift_ = 64 - std::countr_zero(capacity);
    for (const Slot& slot : old) {
      if (slot.node != nullptr) Place(slot.hash, slot.node);
    }
  }

  void LinkNewest(Node* node) {
    node->older = newest_;
    node->newer = nullptr;
    if (newest_ != nullptr) newest_->newer = node;
    newest_ = node;
    if (oldest_ == nullptr) oldest_ = node;
  }

  void Unlink(Node* node) {
    (node->newer != nullptr ? node->newer->older : newest_) = node->older;
    (node->older != nullptr ? node->older->newer : oldest_) = node->newer;
    node->newer = node->older = nullptr;
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int shift_ = 64;  // Home() of an empty table is never asked
  size_t size_ = 0;
  Node* newest_ = nullptr;
  Node* oldest_ = nullptr;
};

}  // namespace jiritsu::processors
