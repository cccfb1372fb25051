#include "delivery/ssrf_guard.hpp"

namespace webhookd::delivery {

Result<SsrfGuard> SsrfGuard::WithAllowList(const std::vector<std::string>& allowed_cidrs) {
  SsrfGuard guard;
  for (const std::string& text : allowed_cidrs) {
    Result<Cidr> cidr = Cidr::Parse(text);
    if (!cidr.ok()) return cidr.error();
    guard.allowed_.push_back(*cidr);
  }
  return guard;
}

SsrfGuard SsrfGuard::Disabled() {
  SsrfGuard guard;
  guard.enabled_ = false;
  return guard;
}

SsrfDecision SsrfGuard::Check(const sockaddr* address) const {
  std::optional<IpAddress> ip = IpAddress::FromSockaddr(address);
  if (!ip) {
    if (!enabled_) return {};
    return {false, "refused a connection: not an IPv4 or IPv6 address"};
  }
  return Check(*ip);
}

SsrfDecision SsrfGuard::Check(const IpAddress& address) const {
  if (!enabled_) return {};
  Classification classification = ClassifyAddress(address);
  if (classification.address_class == AddressClass::kPublic || IsAllowListed(address)) return {};
  return {false, "refused " + address.ToString() + ": " + classification.reason +
                     "; allow it with --allow-target or WEBHOOKD_ALLOW_TARGETS"};
}

bool SsrfGuard::IsAllowListed(const IpAddress& address) const {
  std::optional<IpAddress> mapped = address.MappedIpv4();
  for (const Cidr& cidr : allowed_) {
    if (cidr.Contains(address) || (mapped && cidr.Contains(*mapped))) return true;
  }
  return false;
}

}  // namespace webhookd::delivery
