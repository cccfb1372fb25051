// IP addresses and CIDR ranges, IPv4 and IPv6, as plain values: what the SSRF guard needs to
// judge the address a connection is actually made to.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace webhookd::delivery {

// An IPv4 address is held as the 4 bytes in network order (bytes 0..3); an IPv6 address as
// its 16 bytes. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) stays IPv6: see EmbeddedIpv4().
struct IpAddress {
  bool is_v6 = false;
  std::array<std::uint8_t, 16> bytes{};

  // nullopt for anything but a literal address ("10.0.0.1", "::1", "::ffff:10.0.0.1").
  static std::optional<IpAddress> Parse(std::string_view text);
  // nullopt for families other than AF_INET and AF_INET6.
  static std::optional<IpAddress> FromSockaddr(const sockaddr* address);

  // The IPv4 address inside an IPv4-mapped IPv6 address, or nullopt.
  std::optional<IpAddress> MappedIpv4() const;
  std::string ToString() const;
  int bit_count() const { return is_v6 ? 128 : 32; }
};

// A CIDR range such as "127.0.0.0/8" or "::1/128". A bare address is a full-length prefix.
struct Cidr {
  IpAddress network;  // host bits cleared
  int prefix_length = 0;

  // Error::Invalid naming the CIDR text and what is wrong with it.
  static Result<Cidr> Parse(std::string_view text);
  // False when the families differ (mapping IPv4 into IPv6 is the caller's decision).
  bool Contains(const IpAddress& address) const;
  std::string ToString() const;
};

// Why an address may or may not be a webhook target.
enum class AddressClass {
  kPublic,
  kLoopback,
  kPrivate,    // RFC 1918, IPv6 unique local fc00::/7
  kLinkLocal,  // 169.254.0.0/16 (incl. cloud metadata 169.254.169.254), fe80::/10
  kCgnat,      // shared address space 100.64.0.0/10
  kMulticast,
  kUnspecified,
  kReserved,  // 0/8, 240/4, broadcast, documentation and benchmarking ranges, ...
};

struct Classification {
  AddressClass address_class = AddressClass::kPublic;
  // Human-readable reason, e.g. "private address (RFC 1918)"; empty for kPublic.
  std::string reason;
};

// Classifies by the most specific special-purpose range the address belongs to. Addresses that
// embed an IPv4 address (IPv4-mapped, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by it too.
Classification ClassifyAddress(const IpAddress& address);

}  // namespace webhookd::delivery
