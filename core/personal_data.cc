#include "core/personal_data.h"

#include <sodium.h>

#include "schemas/catalog.h"
#include "schemas/event_fields.h"

namespace jiritsu {
namespace {

constexpr std::string_view kAadTag = "jiritsu-enc:v1";
constexpr int kBase64Variant = sodium_base64_VARIANT_ORIGINAL;

std::string AssociatedData(const SealContext& c) {
  std::string aad;
  aad.reserve(kAadTag.size() + c.employee.size() + c.source.size() + c.id.size() +
              c.field.size() + 4);
  aad.append(kAadTag).push_back('\0');
  aad.append(c.employee).push_back('\0');
  aad.append(c.source).push_back('\0');
  aad.append(c.id).push_back('\0');
  aad.append(c.field);
  return aad;
}

// The nonce is a keyed hash of (associated data, plaintext) under a subkey
// (a synthetic IV, as in SIV modes): the same text of the same field of the
// same event under the same key always seals to the same bytes, so
// re-ingesting an event (a crash between log flush and dedupe index, a
// second ingestion of the same file into another log sharing the key store)
// yields byte-identical records and views. Different (context, text) pairs
// get independent nonces; equal ones reveal only that they are equal, and the
// context names one field of one event.
void SyntheticNonce(const EmployeeKey& key, std::string_view aad, std::string_view plaintext,
                    unsigned char* nonce) {
  static constexpr std::string_view kSubkeyLabel = "jiritsu-enc:v1 synthetic nonce key";
  unsigned char subkey[crypto_generichash_KEYBYTES];
  crypto_generichash(subkey, sizeof(subkey), reinterpret_cast<const unsigned char*>(kSubkeyLabel.data()),
                     kSubkeyLabel.size(), key.data(), key.size());
  crypto_generichash_state state;
  crypto_generichash_init(&state, subkey, sizeof(subkey), kSealedNonceBytes);
  const uint64_t aad_bytes = aad.size();
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(&aad_bytes), sizeof(aad_bytes));
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(aad.data()), aad.size());
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(plaintext.data()),
                            plaintext.size());
  crypto_generichash_final(&state, nonce, kSealedNonceBytes);
  sodium_memzero(subkey, sizeof(subkey));
}

}  // namespace

Result<std::string> SealText(const EmployeeKey& key, const SealContext& context,
                             std::string_view plaintext) {
  if (plaintext.empty()) return InvalidArgument("seal: empty text is not sealed");
  if (plaintext.size() > kMaxSealedPlainBytes) {
    return InvalidArgument("seal: text of " + std::to_string(plaintext.size()) +
                           " bytes exceeds " + std::to_string(kMaxSealedPlainBytes));
  }
  if (sodium_init() < 0) return Internal("seal: libsodium failed to initialise");
  const std::string aad = AssociatedData(context);
  std::string box(kSealedNonceBytes + plaintext.size() + kSealedTagBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(box.data());
  SyntheticNonce(key, aad, plaintext, out);
  unsigned long long cipher_bytes = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out + kSealedNonceBytes, &cipher_bytes, reinterpret_cast<const unsigned char*>(plaintext.data()),
      plaintext.size(), reinterpret_cast<const unsigned char*>(aad.data()), aad.size(), nullptr,
      out, key.data());
  box.resize(kSealedNonceBytes + cipher_bytes);
  std::string sealed(kSealedPrefix);
  const size_t b64_bytes = sodium_base64_ENCODED_LEN(box.size(), kBase64Variant);
  std::string b64(b64_bytes, '\0');
  sodium_bin2base64(b64.data(), b64.size(), out, box.size(), kBase64Variant);
  b64.resize(b64_bytes - 1);  // drop the terminating NUL
  sealed.append(b64);
  return sealed;
}

Result<std::string> OpenSealedText(const EmployeeKey& key, const SealContext& context,
                                   std::string_view sealed) {
  if (!IsWellFormedSealed(sealed)) {
    return InvalidArgument("open: " + std::string(context.field) + " is not a sealed value");
  }
  if (sodium_init() < 0) return Internal("open: libsodium failed to initialise");
  const std::string_view b64 = sealed.substr(kSealedPrefix.size());
  std::string box(b64.size() / 4 * 3, '\0');
  size_t box_bytes = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(box.data()), box.size(), b64.data(),
                        b64.size(), nullptr, &box_bytes, nullptr, kBase64Variant) != 0) {
    return InvalidArgument("open: " + std::string(context.field) + " is not valid base64");
  }
  const auto* in = reinterpret_cast<const unsigned char*>(box.data());
  const std::string aad = AssociatedData(context);
  std::string plain(box_bytes - kSealedNonceBytes - kSealedTagBytes, '\0');
  unsigned long long plain_bytes = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plain.data()), &plain_bytes, nullptr,
          in + kSealedNonceBytes, box_bytes - kSealedNonceBytes,
          reinterpret_cast<const unsigned char*>(aad.data()), aad.size(), in, key.data()) != 0) {
    return Corruption("open: " + std::string(context.field) + " of employee \"" +
                      std::string(context.employee) + "\" (event " + std::string(context.source) +
                      " " + std::string(context.id) +
                      ") does not authenticate: wrong key, or the value or its context changed");
  }
  plain.resize(plain_bytes);
  return plain;
}

bool NeedsEmployeeKey(Event* event) {
  if (!IsEmployeeScoped(event->type)) return false;
  bool any_clear = false;
  fields::ForEachPersonalField(&event->data, [&](std::string_view, std::string* value) {
    if (!HasSealedPrefix(*value)) any_clear = true;
  });
  return any_clear;
}

Status SealPersonalFields(KeyStore* keys, Event* event) {
  if (!NeedsEmployeeKey(event)) return Status::Ok();  // no key is created for events without personal data
  JIRITSU_ASSIGN_OR_RETURN(KeyLookup lookup, keys->GetOrCreate(event->subject));
  return SealPersonalFieldsWith(lookup, event);
}

Status SealPersonalFieldsWith(const KeyLookup& lookup, Event* event) {
  if (!NeedsEmployeeKey(event)) return Status::Ok();
  if (lookup.state == KeyLookup::kAbsent) {
    return FailedPrecondition("seal: no key was created for employee \"" + event->subject + "\"");
  }
  EmployeeKey key = lookup.key;
  if (lookup.state != KeyLookup::kPresent) {
    // Erased: seal under a key nobody keeps, so the value is stored as erased.
    randombytes_buf(key.data(), key.size());
  }
  Status status;
  const std::string subject = event->subject;
  const std::string source = event->source;
  const std::string id = event->id;
  // Sealed into copies first: the event changes only when every field sealed.
  std::vector<std::pair<std::string*, std::string>> sealed;
  fields::ForEachPersonalField(&event->data, [&](std::string_view field, std::string* value) {
    if (!status.ok() || HasSealedPrefix(*value)) return;
    Result<std::string> s = SealText(key, SealContext{subject, source, id, field}, *value);
    if (!s.ok()) {
      status = s.status().WithContext("data." + std::string(field));
      return;
    }
    sealed.emplace_back(value, std::move(s).value());
  });
  sodium_memzero(key.data(), key.size());
  JIRITSU_RETURN_IF_ERROR(status);
  for (auto& [target, value] : sealed) *target = std::move(value);
  return Status::Ok();
}

RevealedText RevealPersonalText(const KeyLookup& lookup, bool erased, const SealContext& context,
                                std::string_view stored) {
  RevealedText out;
  if (erased || lookup.state == KeyLookup::kErased) {
    out.state = RevealedText::kErased;
    return out;
  }
  if (!HasSealedPrefix(stored)) {
    out.state = RevealedText::kClear;
    out.text.assign(stored);
    return out;
  }
  if (lookup.state != KeyLookup::kPresent) {
    out.state = RevealedText::kKeyMissing;
    return out;
  }
  Result<std::string> opened = OpenSealedText(lookup.key, context, stored);
  if (!opened.ok()) {
    out.state = RevealedText::kUndecryptable;
    return out;
  }
  out.state = RevealedText::kOpened;
  out.text = std::move(opened).value();
  return out;
}

}  // namespace jiritsu
