// JWT (RFC 7519) verification for bearer tokens: JWS compact serialisation
// signed with HS256 (HMAC-SHA256) or RS256 (RSASSA-PKCS1-v1_5 with SHA-256),
// with configured keys only (no network fetch, no JWKS).
//
// Why our own ~300 lines instead of Debian's libjwt-dev: libjwt 1.10 (the
// bookworm version) pulls in Jansson for JSON and, in that version, lets the
// caller pass a key without binding it to an algorithm, which is exactly the
// HS/RS confusion hole; the rules below are short enough to own and test.
//
// Rules (each violation is a specific kInvalidArgument message, used for the
// 401 body and tests; the caller decides how much of it to reveal):
//   * three base64url segments without padding; at most 8 KiB in total;
//   * header JSON: "alg" must be exactly the algorithm of the selected key
//     ("none" and every other value are rejected); "kid", when present, must
//     name a configured key; without "kid" the keys of that algorithm are
//     tried in order;
//   * signature: HMAC compared in constant time (CRYPTO_memcmp); RSA through
//     EVP_DigestVerify;
//   * claims: "exp" required (numeric); now <= exp + leeway; "nbf" when
//     present: now >= nbf - leeway; "iss" equals the configured issuer; "aud"
//     (string or array) contains the configured audience; "sub" a non-empty
//     string.
//
// Lifecycle: JwtVerifier::Create() parses keys once; immutable afterwards.
// Thread-safety: Verify() is const and safe from many threads.
// Failure: Create -> kInvalidArgument (bad key PEM, short secret); Verify ->
// kInvalidArgument (any rejection).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "service/config.h"

namespace jiritsu::service {

struct JwtClaims {
  std::string subject;
  std::string issuer;
  int64_t expires_at = 0;
  std::vector<std::string> roles;    // "roles" (array) or "role" (string)
  std::vector<std::string> sources;  // "sources" (array) or "source" (string)
  std::string kid;                   // the key that verified the token
};

class JwtVerifier {
 public:
  static Result<std::unique_ptr<JwtVerifier>> Create(const std::vector<JwtKeyConfig>& keys,
                                                     std::string issuer, std::string audience,
                                                     int leeway_s);
  ~JwtVerifier();
  // `now_s`: seconds since the Unix epoch.
  Result<JwtClaims> Verify(std::string_view token, int64_t now_s) const;

 private:
  struct Key;
  JwtVerifier() = default;
  std::vector<std::unique_ptr<Key>> keys_;
  std::string issuer_;
  std::string audience_;
  int leeway_s_ = 0;
};

// base64url without padding (RFC 4648 section 5); Decode rejects padding,
// whitespace and any character outside the alphabet.
std::string Base64UrlEncode(std::string_view bytes);
Result<std::string> Base64UrlDecode(std::string_view text);

// Compact HS256 token over `claims_json` (dev tokens, tests); `kid` is put in
// the header when non-empty.
std::string SignHs256(std::string_view claims_json, std::string_view secret,
                      std::string_view kid = "");
// Compact RS256 token with a PEM private key (tests). kInvalidArgument for a
// bad key.
Result<std::string> SignRs256(std::string_view claims_json, std::string_view private_key_pem,
                              std::string_view kid = "");

// Lower-case hex SHA-256 (service credential tokens are stored hashed).
std::string Sha256Hex(std::string_view bytes);
// Constant-time equality of two strings of equal length (false otherwise).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace jiritsu::service
