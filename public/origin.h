// A web origin (scheme, host, port): the unit of identity for Background Sync.
//
// Value type; immutable once made; safe to copy and to share between threads.
#ifndef PUBLIC_ORIGIN_H_
#define PUBLIC_ORIGIN_H_

#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace bgsync {

class Origin {
 public:
  // An empty origin: not potentially trustworthy, equal only to other empty origins, serializes to "".
  Origin() = default;

  // Parses a serialized origin "scheme://host[:port]" (no path, query, fragment or user info).
  // Scheme and host are lower-cased; the default port of http (80) and https (443) is dropped, so the result
  // round-trips through Serialize(). IPv6 hosts are written in brackets ("http://[::1]:8080").
  // Returns InvalidArgument, with the reason, for anything else (including an empty string, a port outside
  // 1..65535, and characters that are not allowed in a host).
  static absl::StatusOr<Origin> Parse(absl::string_view text);

  const std::string& scheme() const { return scheme_; }
  const std::string& host() const { return host_; }
  // The port, or 0 when it is the scheme's default.
  uint16_t port() const { return port_; }

  // "scheme://host[:port]", the form Parse accepts.
  std::string Serialize() const;

  // True for the origins the spec calls potentially trustworthy, where Background Sync is exposed: https (and
  // wss), and http on localhost (or *.localhost), 127.0.0.0/8 and [::1].
  bool IsPotentiallyTrustworthy() const;

  friend bool operator==(const Origin& a, const Origin& b) {
    return a.scheme_ == b.scheme_ && a.host_ == b.host_ && a.port_ == b.port_;
  }
  friend bool operator!=(const Origin& a, const Origin& b) { return !(a == b); }
  friend bool operator<(const Origin& a, const Origin& b) {
    return std::tie(a.scheme_, a.host_, a.port_) < std::tie(b.scheme_, b.host_, b.port_);
  }
  template <typename H>
  friend H AbslHashValue(H h, const Origin& o) {
    return H::combine(std::move(h), o.scheme_, o.host_, o.port_);
  }

 private:
  Origin(std::string scheme, std::string host, uint16_t port)
      : scheme_(std::move(scheme)), host_(std::move(host)), port_(port) {}

  std::string scheme_;
  std::string host_;
  uint16_t port_ = 0;
};

}  // namespace bgsync

#endif  // PUBLIC_ORIGIN_H_
