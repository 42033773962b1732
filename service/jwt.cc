#include "service/jwt.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>

#include "schemas/codec.h"

namespace jiritsu::service {
namespace {

constexpr size_t kMaxTokenBytes = 8192;
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &size);
  return std::string(reinterpret_cast<char*>(out), size);
}

std::string HeaderJson(std::string_view alg, std::string_view kid) {
  std::string header = "{\"alg\":\"" + std::string(alg) + "\",\"typ\":\"JWT\"";
  if (!kid.empty()) {
    header += ",\"kid\":";
    AppendJsonString(&header, kid);
  }
  return header + "}";
}

// Reads a string or an array of strings member into `out`.
Status StringOrArray(simdjson::dom::object claims, const char* name, std::vector<std::string>* out) {
  simdjson::dom::element value;
  if (claims[name].get(value) != simdjson::SUCCESS) return Status::Ok();
  if (value.is_string()) {
    out->emplace_back(std::string_view(value));
    return Status::Ok();
  }
  simdjson::dom::array array;
  if (value.get_array().get(array) != simdjson::SUCCESS) {
    return InvalidArgument(std::string("claim ") + name + ": must be a string or an array of strings");
  }
  for (simdjson::dom::element item : array) {
    std::string_view text;
    if (item.get_string().get(text) != simdjson::SUCCESS) {
      return InvalidArgument(std::string("claim ") + name + ": must contain only strings");
    }
    out->emplace_back(text);
  }
  return Status::Ok();
}

Result<int64_t> NumericDate(simdjson::dom::object claims, const char* name, bool required) {
  simdjson::dom::element value;
  if (claims[name].get(value) != simdjson::SUCCESS) {
    if (required) return InvalidArgument(std::string("claim ") + name + ": required");
    return int64_t{-1};
  }
  double number = 0;
  if (value.is_int64()) return int64_t(value.get_int64().value());
  if (value.is_uint64() || value.get_double().get(number) != simdjson::SUCCESS ||
      !std::isfinite(number) || std::fabs(number) > 1e15) {
    return InvalidArgument(std::string("claim ") + name + ": must be a NumericDate (seconds)");
  }
  return static_cast<int64_t>(std::floor(number));
}

}  // namespace

struct JwtVerifier::Key {
  std::string kid;
  std::string algorithm;
  std::string secret;
  PkeyPtr public_key;
};

JwtVerifier::~JwtVerifier() = default;

Result<std::unique_ptr<JwtVerifier>> JwtVerifier::Create(const std::vector<JwtKeyConfig>& keys,
                                                         std::string issuer, std::string audience,
                                                         int leeway_s) {
  std::unique_ptr<JwtVerifier> verifier(new JwtVerifier());
  verifier->issuer_ = std::move(issuer);
  verifier->audience_ = std::move(audience);
  verifier->leeway_s_ = leeway_s;
  for (const JwtKeyConfig& config : keys) {
    auto key = std::make_unique<Key>();
    key->kid = config.kid;
    key->algorithm = config.algorithm;
    const std::string name = config.kid.empty() ? config.algorithm + " key" : "key " + config.kid;
    if (config.algorithm == "HS256") {
      if (config.secret.size() < 32) return InvalidArgument(name + ": secret shorter than 32 bytes");
      key->secret = config.secret;
    } else if (config.algorithm == "RS256") {
      BIO* bio = BIO_new_mem_buf(config.public_key_pem.data(),
                                 static_cast<int>(config.public_key_pem.size()));
      key->public_key.reset(PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr));
      BIO_free(bio);
      if (!key->public_key || EVP_PKEY_base_id(key->public_key.get()) != EVP_PKEY_RSA) {
        return InvalidArgument(name + ": not a PEM RSA public key");
      }
      if (EVP_PKEY_bits(key->public_key.get()) < 2048) {
        return InvalidArgument(name + ": RSA keys must have at least 2048 bits");
      }
    } else {
      return InvalidArgument(name + ": unsupported algorithm " + config.algorithm);
    }
    verifier->keys_.push_back(std::move(key));
  }
  return verifier;
}

Result<JwtClaims> JwtVerifier::Verify(std::string_view token, int64_t now_s) const {
  if (token.size() > kMaxTokenBytes) return InvalidArgument("token: longer than 8192 bytes");
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return InvalidArgument("token: not a compact JWS (three dot-separated parts)");
  }
  const std::string_view signing_input = token.substr(0, dot2);
  Result<std::string> header_json = Base64UrlDecode(token.substr(0, dot1));
  if (!header_json.ok()) return header_json.status().WithContext("token header");
  Result<std::string> payload_json = Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!payload_json.ok()) return payload_json.status().WithContext("token payload");
  Result<std::string> signature = Base64UrlDecode(token.substr(dot2 + 1));
  if (!signature.ok()) return signature.status().WithContext("token signature");

  simdjson::dom::parser header_parser;
  simdjson::dom::object header;
  if (header_parser.parse(*header_json).get_object().get(header) != simdjson::SUCCESS) {
    return InvalidArgument("token header: not a JSON object");
  }
  std::string_view alg;
  if (header["alg"].get_string().get(alg) != simdjson::SUCCESS) {
    return InvalidArgument("token header: alg missing");
  }
  if (alg != "HS256" && alg != "RS256") {
    return InvalidArgument("token header: alg \"" + std::string(alg) + "\" is not accepted");
  }
  simdjson::dom::element crit;
  if (header["crit"].get(crit) == simdjson::SUCCESS) {
    return InvalidArgument("token header: crit extensions are not supported");
  }
  std::string_view kid;
  const bool has_kid = header["kid"].get_string().get(kid) == simdjson::SUCCESS;

  const Key* verified_by = nullptr;
  bool candidate = false;
  for (const auto& key : keys_) {
    if (has_kid && key->kid != kid) continue;
    if (key->algorithm != alg) continue;  // the per-key algorithm whitelist
    candidate = true;
    bool ok = false;
    if (key->algorithm == "HS256") {
      const std::string expected = HmacSha256(key->secret, signing_input);
      ok = ConstantTimeEquals(expected, *signature);
    } else {
      EVP_MD_CTX* context = EVP_MD_CTX_new();
      ok = context != nullptr &&
           EVP_DigestVerifyInit(context, nullptr, EVP_sha256(), nullptr, key->public_key.get()) == 1 &&
           EVP_DigestVerify(context, reinterpret_cast<const unsigned char*>(signature->data()),
                            signature->size(),
                            reinterpret_cast<const unsigned char*>(signing_input.data()),
                            signing_input.size()) == 1;
      EVP_MD_CTX_free(context);
    }
    if (ok) {
      verified_by = key.get();
      break;
    }
  }
  if (!candidate) {
    return InvalidArgument(has_kid ? "token header: unknown kid \"" + std::string(kid) + "\" for " +
                                         std::string(alg)
                                   : "token header: no " + std::string(alg) + " key configured");
  }
  if (verified_by == nullptr) return InvalidArgument("token: bad signature");

  simdjson::dom::parser claims_parser;
  simdjson::dom::object claims;
  if (claims_parser.parse(*payload_json).get_object().get(claims) != simdjson::SUCCESS) {
    return InvalidArgument("token payload: not a JSON object");
  }
  JwtClaims out;
  out.kid = verified_by->kid;
  JIRITSU_ASSIGN_OR_RETURN(out.expires_at, NumericDate(claims, "exp", true));
  JIRITSU_ASSIGN_OR_RETURN(int64_t not_before, NumericDate(claims, "nbf", false));
  if (now_s > out.expires_at + leeway_s_) return InvalidArgument("token: expired");
  if (not_before >= 0 && now_s < not_before - leeway_s_) return InvalidArgument("token: not yet valid (nbf)");
  std::string_view issuer;
  if (claims["iss"].get_string().get(issuer) != simdjson::SUCCESS || issuer != issuer_) {
    return InvalidArgument("token: wrong issuer");
  }
  out.issuer = std::string(issuer);
  std::vector<std::string> audiences;
  JIRITSU_RETURN_IF_ERROR(StringOrArray(claims, "aud", &audiences));
  if (std::find(audiences.begin(), audiences.end(), audience_) == audiences.end()) {
    return InvalidArgument("token: wrong audience");
  }
  std::string_view subject;
  if (claims["sub"].get_string().get(subject) != simdjson::SUCCESS || subject.empty()) {
    return InvalidArgument("claim sub: required non-empty string");
  }
  out.subject = std::string(subject);
  JIRITSU_RETURN_IF_ERROR(StringOrArray(claims, "roles", &out.roles));
  JIRITSU_RETURN_IF_ERROR(StringOrArray(claims, "role", &out.roles));
  JIRITSU_RETURN_IF_ERROR(StringOrArray(claims, "sources", &out.sources));
  JIRITSU_RETURN_IF_ERROR(StringOrArray(claims, "source", &out.sources));
  return out;
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t n = uint8_t(bytes[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
  } else if (i + 2 == bytes.size()) {
    const uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return InvalidArgument("bad base64url length");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z') value = c - 'A';
    else if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
    else if (c >= '0' && c <= '9') value = c - '0' + 52;
    else if (c == '-') value = 62;
    else if (c == '_') value = 63;
    else return InvalidArgument("bad base64url character");
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  // Canonical encoding only: the unused low bits must be zero.
  if (bits > 0 && (buffer & ((1u << bits) - 1)) != 0) return InvalidArgument("non-canonical base64url");
  return out;
}

std::string SignHs256(std::string_view claims_json, std::string_view secret, std::string_view kid) {
  std::string input =
      Base64UrlEncode(HeaderJson("HS256", kid)) + "." + Base64UrlEncode(claims_json);
  return input + "." + Base64UrlEncode(HmacSha256(secret, input));
}

Result<std::string> SignRs256(std::string_view claims_json, std::string_view private_key_pem,
                              std::string_view kid) {
  BIO* bio = BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size()));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  if (!key) return InvalidArgument("not a PEM private key");
  std::string input =
      Base64UrlEncode(HeaderJson("RS256", kid)) + "." + Base64UrlEncode(claims_json);
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  size_t size = 0;
  std::string signature;
  bool ok = context != nullptr &&
            EVP_DigestSignInit(context, nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
            EVP_DigestSign(context, nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()),
                           input.size()) == 1;
  if (ok) {
    signature.resize(size);
    ok = EVP_DigestSign(context, reinterpret_cast<unsigned char*>(signature.data()), &size,
                        reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    signature.resize(size);
  }
  EVP_MD_CTX_free(context);
  if (!ok) return InvalidArgument("RS256 signing failed");
  return input + "." + Base64UrlEncode(signature);
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace jiritsu::service
