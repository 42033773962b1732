// Authentication and the role model of the HTTP service.
//
// Credentials (the Authorization header):
//   Bearer <JWT>    verified by JwtVerifier (service/jwt.h); roles from the
//                   "roles"/"role" claim, allowed CloudEvents sources from
//                   "sources"/"source" (role `source` only), identity = sub
//                   (for employee/manager: the employee id).
//   Bearer <token>  a service credential ([[auth.service_credentials]]): an
//                   opaque token (no dots) whose SHA-256 is configured;
//                   role `source` with the configured sources.
//   Basic name:token  the same service credential.
//   Basic name:password  an xAPI LRS client ([[xapi.clients]]): the password
//                   is checked against its salted PBKDF2-HMAC-SHA256 hash;
//                   role `source` with the client's one source. Verified
//                   credentials are remembered (in memory, as a SHA-256 of
//                   name:password) so the key derivation runs once per
//                   client and password, not per request.
// Roles: source, employee, manager, hr, auditor, ops (docs/configuration.md
// has the matrix). Unknown role names are ignored.
//
// Lifecycle: Create() once; immutable. Thread-safety: Authenticate() is
// const and thread-safe. Failure: Authenticate -> kInvalidArgument with the
// reason (the caller answers 401 without the reason's details beyond a
// short code).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "service/config.h"
#include "service/jwt.h"

namespace jiritsu::service {

enum Role : uint32_t {
  kRoleSource = 1u << 0,
  kRoleEmployee = 1u << 1,
  kRoleManager = 1u << 2,
  kRoleHr = 1u << 3,
  kRoleAuditor = 1u << 4,
  kRoleOps = 1u << 5,
};
inline constexpr uint32_t kAnyRole = 0x3F;
// Roles that read every row of personal views.
inline constexpr uint32_t kReadAllRoles = kRoleHr | kRoleAuditor;

// 0 for an unknown name.
uint32_t RoleFromName(std::string_view name);
std::string RoleNames(uint32_t roles);  // "hr,ops"

struct Principal {
  std::string subject;               // sub claim or credential name
  uint32_t roles = 0;
  std::vector<std::string> sources;  // for role source
  std::string method;                // "jwt" | "service-token" | "basic"
  bool Has(uint32_t any_of) const { return (roles & any_of) != 0; }
};

// True when `source` matches one of `patterns`: equal, or the pattern ends
// in "/*" and the source starts with the pattern without the '*'.
bool SourceAllowed(const std::vector<std::string>& patterns, std::string_view source);

class Authenticator {
 public:
  static Result<std::unique_ptr<Authenticator>> Create(const ServeConfig& config);
  Result<Principal> Authenticate(std::string_view authorization_header, int64_t now_s) const;

 private:
  Authenticator() = default;
  Result<Principal> ServiceCredential(std::string_view name, std::string_view token,
                                      const char* method) const;
  Result<Principal> XapiClient(const XapiClientConfig& client, std::string_view password) const;
  std::unique_ptr<JwtVerifier> verifier_;
  std::vector<ServiceCredentialConfig> credentials_;
  std::vector<XapiClientConfig> xapi_clients_;
  mutable std::mutex verified_mutex_;
  mutable std::set<std::string> verified_;  // SHA-256 hex of name ':' password
};

// Standard base64 (RFC 4648 section 4) for Basic credentials.
Result<std::string> Base64Decode(std::string_view text);

}  // namespace jiritsu::service
