// Sealing and opening personal fields (crypto-shredding, docs/reliability.md
// "Personal data erasure").
//
// A sealed value is kSealedPrefix + base64(nonce || ciphertext || tag)
// (schemas/catalog.h), XChaCha20-Poly1305 (libsodium
// crypto_aead_xchacha20poly1305_ietf) under the employee's key. The 24-byte
// nonce is synthetic: a keyed BLAKE2b of (associated data, plaintext), so
// sealing is deterministic for one key (re-ingesting an event gives the same
// bytes; see SealText). The associated data binds the value to where it belongs:
//   "jiritsu-enc:v1" NUL employee NUL event source NUL event id NUL field
// so a sealed value copied into another employee's, event's or field's place
// does not open (kCorruption), and neither does a changed byte.
//
// Ingestion seals every accepted event before it is appended (the keys of a
// batch fetched together, KeyStore::GetOrCreateMany, then
// SealPersonalFieldsWith per event), so the log never holds plaintext
// personal data. Views keep the sealed values as they are, so a replay of a
// log reproduces its views' bytes without reading a key, while the same
// events ingested under other keys (a fresh key store) give other bytes and
// digests; read paths call RevealPersonalText on the way out.
//
// Thread-safety: reentrant (the key store is thread-safe). Failure: Status
// codes as documented per function; plaintext is never returned for a value
// that failed authentication.
#pragma once

#include <string>
#include <string_view>

#include "core/key_store.h"
#include "core/status.h"
#include "schemas/event.h"

namespace jiritsu {

// Where a sealed value belongs (its associated data).
struct SealContext {
  std::string_view employee;
  std::string_view source;  // of the event that carried the field
  std::string_view id;
  std::string_view field;   // e.g. "display_name"
};

// Seals non-empty `plaintext`. Deterministic: the same key, context and
// plaintext give the same sealed value (nothing else is revealed). Two
// ingestions of the same events produce identical logs and views only when
// they share the key store. kInvalidArgument for an empty plaintext (empty
// texts stay empty: "none" is not personal data).
Result<std::string> SealText(const EmployeeKey& key, const SealContext& context,
                             std::string_view plaintext);

// Opens a sealed value. kInvalidArgument when `sealed` is not a well-formed
// sealed value; kCorruption when it does not authenticate (wrong key, wrong
// context, changed bytes).
Result<std::string> OpenSealedText(const EmployeeKey& key, const SealContext& context,
                                   std::string_view sealed);

// Seals, in place, every non-empty personal field (schemas/event_fields.h
// ForEachPersonalField) of an employee-scoped event that is still in clear,
// under the subject's key (created on first need). Values already sealed
// (e.g. a dead letter re-submitted by `jiritsu dlq replay`) are kept. For an
// erased employee the fields are sealed under a throw-away random key, i.e.
// stored as erased. Errors: those of the key store (nothing is changed then).
Status SealPersonalFields(KeyStore* keys, Event* event);

// Whether SealPersonalFields needs the subject's key for `event`: it is
// employee-scoped and has a non-empty personal field still in clear. (A
// pointer because the field walker takes one; nothing is changed.)
bool NeedsEmployeeKey(Event* event);

// SealPersonalFields with the subject's entry already fetched (KeyStore::
// GetOrCreate, or GetOrCreateMany for a batch of events): kPresent seals
// under lookup.key, kErased under a throw-away key. kFailedPrecondition for
// kAbsent when the event needs a key (nothing is changed then).
Status SealPersonalFieldsWith(const KeyLookup& lookup, Event* event);

// How a stored personal text reads.
struct RevealedText {
  enum State : uint8_t {
    kClear = 0,      // stored in clear (a producer bypassed ingestion): shown as is
    kOpened,         // sealed and opened: `text` is the plaintext
    kErased,         // the employee was erased: nothing to show
    kKeyMissing,     // sealed, but this key store has no key for the employee
    kUndecryptable,  // sealed, the key is there, but the value does not authenticate
  };
  State state = kClear;
  std::string text;  // kClear and kOpened only
  bool Readable() const { return state == kClear || state == kOpened; }
};

// `lookup` is the employee's entry in the key store (KeyStore::Lookup);
// `erased` is true when the views recorded the employee's erasure. An erased
// employee's texts read as kErased even when stored in clear.
RevealedText RevealPersonalText(const KeyLookup& lookup, bool erased, const SealContext& context,
                                std::string_view stored);

}  // namespace jiritsu
