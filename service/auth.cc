#include "service/auth.h"

#include <array>
#include <cctype>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace jiritsu::service {
namespace {

constexpr std::array<std::pair<std::string_view, uint32_t>, 6> kRoles = {{
    {"source", kRoleSource},
    {"employee", kRoleEmployee},
    {"manager", kRoleManager},
    {"hr", kRoleHr},
    {"auditor", kRoleAuditor},
    {"ops", kRoleOps},
}};

bool StartsWithCaseInsensitive(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

uint32_t RoleFromName(std::string_view name) {
  for (const auto& [role_name, role] : kRoles) {
    if (role_name == name) return role;
  }
  return 0;
}

std::string RoleNames(uint32_t roles) {
  std::string out;
  for (const auto& [role_name, role] : kRoles) {
    if ((roles & role) == 0) continue;
    if (!out.empty()) out += ",";
    out += role_name;
  }
  return out;
}

bool SourceAllowed(const std::vector<std::string>& patterns, std::string_view source) {
  for (const std::string& pattern : patterns) {
    if (pattern.size() >= 2 && pattern.ends_with("/*")) {
      if (source.starts_with(std::string_view(pattern).substr(0, pattern.size() - 1))) return true;
    } else if (pattern == source) {
      return true;
    }
  }
  return false;
}

Result<std::unique_ptr<Authenticator>> Authenticator::Create(const ServeConfig& config) {
  std::unique_ptr<Authenticator> auth(new Authenticator());
  JIRITSU_ASSIGN_OR_RETURN(auth->verifier_, JwtVerifier::Create(config.keys, config.issuer,
                                                                config.audience, config.leeway_s));
  auth->credentials_ = config.service_credentials;
  auth->xapi_clients_ = config.xapi_clients;
  return auth;
}

Result<Principal> Authenticator::XapiClient(const XapiClientConfig& client,
                                            std::string_view password) const {
  const std::string memo = Sha256Hex(client.name + ":" + std::string(password));
  bool known = false;
  {
    std::lock_guard lock(verified_mutex_);
    known = verified_.count(memo) != 0;
  }
  if (!known) {
    unsigned char key[32];
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                          reinterpret_cast<const unsigned char*>(client.salt.data()),
                          static_cast<int>(client.salt.size()), client.iterations, EVP_sha256(),
                          sizeof(key), key) != 1 ||
        client.derived_key.size() != sizeof(key) ||
        CRYPTO_memcmp(key, client.derived_key.data(), sizeof(key)) != 0) {
      return InvalidArgument("unknown LRS client or wrong password");
    }
    std::lock_guard lock(verified_mutex_);
    if (verified_.size() < 10000) verified_.insert(memo);
  }
  Principal principal;
  principal.subject = client.name;
  principal.roles = kRoleSource;
  principal.sources = {client.source};
  principal.method = "basic";
  return principal;
}

Result<Principal> Authenticator::ServiceCredential(std::string_view name, std::string_view token,
                                                   const char* method) const {
  const std::string hash = Sha256Hex(token);
  const ServiceCredentialConfig* match = nullptr;
  // Every credential is compared (constant time each), so timing does not
  // reveal which one matched.
  for (const ServiceCredentialConfig& credential : credentials_) {
    const bool same = ConstantTimeEquals(hash, credential.token_sha256);
    if (same && (name.empty() || name == credential.name) && match == nullptr) match = &credential;
  }
  if (match == nullptr) return InvalidArgument("unknown service credential");
  Principal principal;
  principal.subject = match->name;
  principal.roles = kRoleSource;
  principal.sources = match->sources;
  principal.method = method;
  return principal;
}

Result<Principal> Authenticator::Authenticate(std::string_view header, int64_t now_s) const {
  if (header.empty()) return InvalidArgument("missing Authorization header");
  if (StartsWithCaseInsensitive(header, "Bearer ")) {
    std::string_view token = header.substr(7);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    if (token.empty()) return InvalidArgument("empty bearer token");
    if (token.find('.') == std::string_view::npos) {
      return ServiceCredential("", token, "service-token");
    }
    JIRITSU_ASSIGN_OR_RETURN(JwtClaims claims, verifier_->Verify(token, now_s));
    Principal principal;
    principal.subject = claims.subject;
    for (const std::string& role : claims.roles) principal.roles |= RoleFromName(role);
    principal.sources = std::move(claims.sources);
    principal.method = "jwt";
    return principal;
  }
  if (StartsWithCaseInsensitive(header, "Basic ")) {
    JIRITSU_ASSIGN_OR_RETURN(std::string decoded, Base64Decode(header.substr(6)));
    const size_t colon = decoded.find(':');
    if (colon == std::string::npos) return InvalidArgument("Basic credentials without ':'");
    const std::string_view name = std::string_view(decoded).substr(0, colon);
    for (const XapiClientConfig& client : xapi_clients_) {
      if (client.name == name) return XapiClient(client, std::string_view(decoded).substr(colon + 1));
    }
    return ServiceCredential(std::string_view(decoded).substr(0, colon),
                             std::string_view(decoded).substr(colon + 1), "basic");
  }
  return InvalidArgument("unsupported Authorization scheme (use Bearer or Basic)");
}

Result<std::string> Base64Decode(std::string_view text) {
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.size() % 4 != 0) return InvalidArgument("bad base64 length");
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  size_t padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    int value;
    if (c == '=') {
      if (i + 2 < text.size()) return InvalidArgument("bad base64 padding");
      ++padding;
      continue;
    }
    if (padding > 0) return InvalidArgument("bad base64 padding");
    if (c >= 'A' && c <= 'Z') value = c - 'A';
    else if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
    else if (c >= '0' && c <= '9') value = c - '0' + 52;
    else if (c == '+') value = 62;
    else if (c == '/') value = 63;
    else return InvalidArgument("bad base64 character");
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

}  // namespace jiritsu::service
