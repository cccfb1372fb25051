#include "delivery/ip_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace webhookd::delivery {
namespace {

// One special-purpose range, written as text so that the table reads like the RFCs.
struct SpecialRange {
  std::string_view cidr;
  AddressClass address_class;
  std::string_view reason;
};

// Most specific first: the first match wins.
constexpr SpecialRange kIpv4Ranges[] = {
    {"0.0.0.0/32", AddressClass::kUnspecified, "unspecified address"},
    {"0.0.0.0/8", AddressClass::kReserved, "reserved address (\"this network\", 0.0.0.0/8)"},
    {"127.0.0.0/8", AddressClass::kLoopback, "loopback address"},
    {"10.0.0.0/8", AddressClass::kPrivate, "private address (RFC 1918)"},
    {"172.16.0.0/12", AddressClass::kPrivate, "private address (RFC 1918)"},
    {"192.168.0.0/16", AddressClass::kPrivate, "private address (RFC 1918)"},
    {"169.254.169.254/32", AddressClass::kLinkLocal, "link-local address (cloud metadata service)"},
    {"169.254.0.0/16", AddressClass::kLinkLocal, "link-local address (169.254.0.0/16)"},
    {"100.64.0.0/10", AddressClass::kCgnat, "shared address space (CGNAT, 100.64.0.0/10)"},
    {"224.0.0.0/4", AddressClass::kMulticast, "multicast address"},
    {"255.255.255.255/32", AddressClass::kReserved, "broadcast address"},
    {"240.0.0.0/4", AddressClass::kReserved, "reserved address (240.0.0.0/4)"},
    {"192.0.0.0/24", AddressClass::kReserved,
     "reserved address (IETF protocol assignments, 192.0.0.0/24)"},
    {"192.0.2.0/24", AddressClass::kReserved, "reserved address (documentation, TEST-NET-1)"},
    {"198.51.100.0/24", AddressClass::kReserved, "reserved address (documentation, TEST-NET-2)"},
    {"203.0.113.0/24", AddressClass::kReserved, "reserved address (documentation, TEST-NET-3)"},
    {"198.18.0.0/15", AddressClass::kReserved, "reserved address (benchmarking, 198.18.0.0/15)"},
    {"192.88.99.0/24", AddressClass::kReserved, "reserved address (6to4 relay anycast)"},
};

constexpr SpecialRange kIpv6Ranges[] = {
    {"::/128", AddressClass::kUnspecified, "unspecified address"},
    {"::1/128", AddressClass::kLoopback, "loopback address"},
    {"::/96", AddressClass::kReserved, "reserved address (IPv4-compatible, ::/96)"},
    {"fc00::/7", AddressClass::kPrivate, "private address (unique local, fc00::/7)"},
    {"fe80::/10", AddressClass::kLinkLocal, "link-local address (fe80::/10)"},
    {"fec0::/10", AddressClass::kReserved, "reserved address (deprecated site-local, fec0::/10)"},
    {"ff00::/8", AddressClass::kMulticast, "multicast address"},
    {"2001:db8::/32", AddressClass::kReserved, "reserved address (documentation, 2001:db8::/32)"},
    {"100::/64", AddressClass::kReserved, "reserved address (discard-only, 100::/64)"},
};

IpAddress Ipv4FromBytes(const std::uint8_t* four) {
  IpAddress v4;
  std::memcpy(v4.bytes.data(), four, 4);
  return v4;
}

bool HasPrefix(const IpAddress& address, std::initializer_list<std::uint8_t> prefix) {
  std::size_t i = 0;
  for (std::uint8_t b : prefix) {
    if (address.bytes[i++] != b) return false;
  }
  return true;
}

// IPv4 addresses that IPv6 translation mechanisms carry inside an IPv6 address and that a
// connection to the IPv6 address would reach.
std::optional<IpAddress> TranslatedIpv4(const IpAddress& address) {
  if (auto mapped = address.MappedIpv4()) return mapped;
  if (HasPrefix(address, {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0})) {  // NAT64
    return Ipv4FromBytes(&address.bytes[12]);
  }
  if (HasPrefix(address, {0x20, 0x02})) return Ipv4FromBytes(&address.bytes[2]);  // 6to4
  return std::nullopt;
}

Classification ClassifyIn(const IpAddress& address, const auto& table) {
  for (const SpecialRange& range : table) {
    Result<Cidr> cidr = Cidr::Parse(range.cidr);
    if (cidr.ok() && cidr->Contains(address)) {
      return {range.address_class, std::string(range.reason)};
    }
  }
  return {};
}

}  // namespace

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  std::string nul_terminated(text);
  IpAddress address;
  if (inet_pton(AF_INET, nul_terminated.c_str(), address.bytes.data()) == 1) return address;
  address.is_v6 = true;
  if (inet_pton(AF_INET6, nul_terminated.c_str(), address.bytes.data()) == 1) return address;
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::FromSockaddr(const sockaddr* address) {
  if (address == nullptr) return std::nullopt;
  IpAddress result;
  if (address->sa_family == AF_INET) {
    sockaddr_in v4;
    std::memcpy(&v4, address, sizeof v4);
    std::memcpy(result.bytes.data(), &v4.sin_addr, 4);
    return result;
  }
  if (address->sa_family == AF_INET6) {
    sockaddr_in6 v6;
    std::memcpy(&v6, address, sizeof v6);
    result.is_v6 = true;
    std::memcpy(result.bytes.data(), &v6.sin6_addr, 16);
    return result;
  }
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::MappedIpv4() const {
  if (!is_v6 || !HasPrefix(*this, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})) {
    return std::nullopt;
  }
  return Ipv4FromBytes(&bytes[12]);
}

std::string IpAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof text);
  return text;
}

Result<Cidr> Cidr::Parse(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return Error::Invalid("invalid CIDR \"" + std::string(text) + "\": " + std::string(why));
  };
  std::string_view address_text = text.substr(0, text.find('/'));
  std::optional<IpAddress> address = IpAddress::Parse(address_text);
  if (!address) return invalid("not an IPv4 or IPv6 address");

  Cidr cidr{*address, address->bit_count()};
  if (address_text.size() != text.size()) {
    std::string_view length_text = text.substr(address_text.size() + 1);
    auto [end, ec] = std::from_chars(length_text.data(), length_text.data() + length_text.size(),
                                     cidr.prefix_length);
    if (ec != std::errc() || end != length_text.data() + length_text.size() ||
        length_text.empty() || cidr.prefix_length < 0 ||
        cidr.prefix_length > address->bit_count()) {
      return invalid("prefix length must be a number from 0 to " +
                     std::to_string(address->bit_count()));
    }
  }
  for (int bit = cidr.prefix_length; bit < cidr.network.bit_count(); ++bit) {
    cidr.network.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  }
  return cidr;
}

bool Cidr::Contains(const IpAddress& address) const {
  if (address.is_v6 != network.is_v6) return false;
  int full_bytes = prefix_length / 8;
  if (std::memcmp(address.bytes.data(), network.bytes.data(), full_bytes) != 0) return false;
  int rest = prefix_length % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff00u >> rest);
  return (address.bytes[full_bytes] & mask) == network.bytes[full_bytes];
}

std::string Cidr::ToString() const {
  return network.ToString() + "/" + std::to_string(prefix_length);
}

Classification ClassifyAddress(const IpAddress& address) {
  if (!address.is_v6) return ClassifyIn(address, kIpv4Ranges);
  if (std::optional<IpAddress> v4 = TranslatedIpv4(address)) return ClassifyAddress(*v4);
  return ClassifyIn(address, kIpv6Ranges);
}

}  // namespace webhookd::delivery
