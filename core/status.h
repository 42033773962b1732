// Status and Result: the error currency at every I/O boundary in Jiritsu.
//
// Why: modules never throw across their boundaries. Adapters (RocksDB,
// librdkafka, cereal, simdjson) translate their native errors exactly once
// into a Status whose code tells the caller whether retrying can help.
//
// Thread-safety: value types; safe to copy and move between threads.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace jiritsu {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,    // bad input: fix the input, do not retry
  kNotFound,           // the thing does not exist
  kAlreadyExists,      // identity already used (e.g. duplicate event)
  kFailedPrecondition, // state does not allow it (e.g. store opened read-only)
  kCorruption,         // stored bytes are damaged: stop, investigate
  kIOError,            // local disk/OS failure
  kUnavailable,        // transient (broker down, lock held): retry with backoff
  kResourceExhausted,  // queue full / backpressure: retry later
  kDeadlineExceeded,   // timed out: may retry
  kInternal,           // a bug
};

inline std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "InvalidArgument";
    case StatusCode::kNotFound: return "NotFound";
    case StatusCode::kAlreadyExists: return "AlreadyExists";
    case StatusCode::kFailedPrecondition: return "FailedPrecondition";
    case StatusCode::kCorruption: return "Corruption";
    case StatusCode::kIOError: return "IOError";
    case StatusCode::kUnavailable: return "Unavailable";
    case StatusCode::kResourceExhausted: return "ResourceExhausted";
    case StatusCode::kDeadlineExceeded: return "DeadlineExceeded";
    case StatusCode::kInternal: return "Internal";
  }
  return "Unknown";
}

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // True when the same call may succeed later without changing the input.
  bool IsRetryable() const {
    return code_ == StatusCode::kUnavailable ||
           code_ == StatusCode::kResourceExhausted ||
           code_ == StatusCode::kDeadlineExceeded;
  }
  // "InvalidArgument: data.step: must be >= 1, got 0"
  std::string ToString() const {
    if (ok()) return "OK";
    return std::string(StatusCodeName(code_)) + ": " + message_;
  }
  // Prefixes the message with context, keeping the code.
  Status WithContext(std::string_view context) const {
    if (ok()) return *this;
    return Status(code_, std::string(context) + ": " + message_);
  }

  // Explicitly drops a status whose failure is acceptable at this call site.
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
inline Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "Result constructed from an OK status");
    if (status_.ok()) status_ = Internal("Result constructed from an OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace jiritsu

// Returns early from the enclosing function when `expr` is not OK.
#define JIRITSU_RETURN_IF_ERROR(expr)                 \
  do {                                                \
    ::jiritsu::Status jiritsu_status_ = (expr);       \
    if (!jiritsu_status_.ok()) return jiritsu_status_; \
  } while (0)

#define JIRITSU_CONCAT_INNER(a, b) a##b
#define JIRITSU_CONCAT(a, b) JIRITSU_CONCAT_INNER(a, b)
// JIRITSU_ASSIGN_OR_RETURN(auto x, Foo()); assigns the value or returns the status.
#define JIRITSU_ASSIGN_OR_RETURN(lhs, expr)                          \
  auto JIRITSU_CONCAT(jiritsu_result_, __LINE__) = (expr);          \
  if (!JIRITSU_CONCAT(jiritsu_result_, __LINE__).ok())              \
    return JIRITSU_CONCAT(jiritsu_result_, __LINE__).status();      \
  lhs = std::move(JIRITSU_CONCAT(jiritsu_result_, __LINE__)).value()
