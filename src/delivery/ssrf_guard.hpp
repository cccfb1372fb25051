// Server-side request forgery guard: decides whether webhookd may connect to an address.
// It is applied to the address a connection is actually opened to (libcurl's open-socket
// callback), after DNS, so that a name resolving to an internal address (DNS rebinding)
// cannot slip through.
#pragma once

#include <sys/socket.h>

#include <string>
#include <vector>

#include "core/result.hpp"
#include "delivery/ip_address.hpp"

namespace webhookd::delivery {

struct SsrfDecision {
  bool allowed = true;
  // Why a target was refused, naming the address and the rule, e.g.
  // "refused 10.0.0.5: private address (RFC 1918); allow it with --allow-target or
  // WEBHOOKD_ALLOW_TARGETS".
  std::string message;
};

// Immutable after construction; Check() is thread-safe.
class SsrfGuard {
 public:
  // Enabled, with an empty allow-list: only public addresses are allowed.
  SsrfGuard() = default;

  // Enabled, allowing every non-public address inside one of `allowed_cidrs` ("127.0.0.0/8",
  // "::1/128"). Error::Invalid naming the first CIDR that does not parse.
  static Result<SsrfGuard> WithAllowList(const std::vector<std::string>& allowed_cidrs);
  // Allows everything. For tests of other parts only.
  static SsrfGuard Disabled();

  // Public addresses are allowed; others only when an allow-list CIDR contains them. An
  // IPv4-mapped IPv6 address is matched against IPv4 CIDRs too. Unknown families are refused.
  SsrfDecision Check(const sockaddr* address) const;
  SsrfDecision Check(const IpAddress& address) const;

  bool enabled() const { return enabled_; }

 private:
  bool IsAllowListed(const IpAddress& address) const;

  bool enabled_ = true;
  std::vector<Cidr> allowed_;
};

}  // namespace webhookd::delivery
