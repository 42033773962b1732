// StringSink: a std::streambuf that appends everything written to a
// std::string, for cereal archives that encode straight into the string
// (no std::ostringstream and no copy). Used by the processors' cereal values
// (processors/cereal_io.h); the binary event codec appends directly.
//
// Thread-safety: one object per thread (it is a stream buffer). Failure:
// none (std::string growth may throw std::bad_alloc, as std::string does).
#pragma once

#include <streambuf>
#include <string>

namespace jiritsu {

class StringSink : public std::streambuf {
 public:
  explicit StringSink(std::string* out = nullptr) : out_(out) {}
  void set_target(std::string* out) { out_ = out; }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_->append(s, static_cast<size_t>(n));
    return n;
  }
  int_type overflow(int_type ch) override {
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      out_->push_back(traits_type::to_char_type(ch));
    }
    return traits_type::not_eof(ch);
  }

 private:
  std::string* out_;
};

}  // namespace jiritsu
