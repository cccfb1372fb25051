#include "delivery/ssrf_guard.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>

namespace webhookd::delivery {
namespace {

IpAddress Ip(std::string_view text) {
  std::optional<IpAddress> address = IpAddress::Parse(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(IpAddress{});
}

struct ClassCase {
  const char* address;
  AddressClass expected;
  const char* reason;
};

class ClassifyTest : public ::testing::TestWithParam<ClassCase> {};

TEST_P(ClassifyTest, ClassifiesWithReason) {
  const ClassCase& c = GetParam();
  Classification classification = ClassifyAddress(Ip(c.address));
  EXPECT_EQ(classification.address_class, c.expected) << c.address;
  EXPECT_EQ(classification.reason, c.reason) << c.address;
}

INSTANTIATE_TEST_SUITE_P(
    Ipv4, ClassifyTest,
    ::testing::Values(
        ClassCase{"8.8.8.8", AddressClass::kPublic, ""},
        ClassCase{"172.32.0.1", AddressClass::kPublic, ""},
        ClassCase{"100.128.0.1", AddressClass::kPublic, ""},
        ClassCase{"127.0.0.1", AddressClass::kLoopback, "loopback address"},
        ClassCase{"127.255.0.9", AddressClass::kLoopback, "loopback address"},
        ClassCase{"10.0.0.5", AddressClass::kPrivate, "private address (RFC 1918)"},
        ClassCase{"172.16.0.1", AddressClass::kPrivate, "private address (RFC 1918)"},
        ClassCase{"172.31.255.255", AddressClass::kPrivate, "private address (RFC 1918)"},
        ClassCase{"192.168.1.1", AddressClass::kPrivate, "private address (RFC 1918)"},
        ClassCase{"169.254.169.254", AddressClass::kLinkLocal,
                  "link-local address (cloud metadata service)"},
        ClassCase{"169.254.1.1", AddressClass::kLinkLocal, "link-local address (169.254.0.0/16)"},
        ClassCase{"100.64.0.1", AddressClass::kCgnat,
                  "shared address space (CGNAT, 100.64.0.0/10)"},
        ClassCase{"100.127.255.254", AddressClass::kCgnat,
                  "shared address space (CGNAT, 100.64.0.0/10)"},
        ClassCase{"224.0.0.1", AddressClass::kMulticast, "multicast address"},
        ClassCase{"239.255.255.250", AddressClass::kMulticast, "multicast address"},
        ClassCase{"0.0.0.0", AddressClass::kUnspecified, "unspecified address"},
        ClassCase{"0.1.2.3", AddressClass::kReserved,
                  "reserved address (\"this network\", 0.0.0.0/8)"},
        ClassCase{"240.0.0.1", AddressClass::kReserved, "reserved address (240.0.0.0/4)"},
        ClassCase{"255.255.255.255", AddressClass::kReserved, "broadcast address"},
        ClassCase{"192.0.2.7", AddressClass::kReserved,
                  "reserved address (documentation, TEST-NET-1)"},
        ClassCase{"198.18.0.1", AddressClass::kReserved,
                  "reserved address (benchmarking, 198.18.0.0/15)"}));

INSTANTIATE_TEST_SUITE_P(
    Ipv6, ClassifyTest,
    ::testing::Values(
        ClassCase{"2606:4700:4700::1111", AddressClass::kPublic, ""},
        ClassCase{"::1", AddressClass::kLoopback, "loopback address"},
        ClassCase{"::", AddressClass::kUnspecified, "unspecified address"},
        ClassCase{"fc00::1", AddressClass::kPrivate, "private address (unique local, fc00::/7)"},
        ClassCase{"fd12:3456::1", AddressClass::kPrivate,
                  "private address (unique local, fc00::/7)"},
        ClassCase{"fe80::1", AddressClass::kLinkLocal, "link-local address (fe80::/10)"},
        ClassCase{"febf::1", AddressClass::kLinkLocal, "link-local address (fe80::/10)"},
        ClassCase{"ff02::1", AddressClass::kMulticast, "multicast address"},
        ClassCase{"2001:db8::1", AddressClass::kReserved,
                  "reserved address (documentation, 2001:db8::/32)"},
        ClassCase{"::2", AddressClass::kReserved, "reserved address (IPv4-compatible, ::/96)"}));

// IPv6 addresses that lead to an IPv4 address are judged by that address.
INSTANTIATE_TEST_SUITE_P(
    EmbeddedIpv4, ClassifyTest,
    ::testing::Values(
        ClassCase{"::ffff:127.0.0.1", AddressClass::kLoopback, "loopback address"},
        ClassCase{"::ffff:10.0.0.5", AddressClass::kPrivate, "private address (RFC 1918)"},
        ClassCase{"::ffff:169.254.169.254", AddressClass::kLinkLocal,
                  "link-local address (cloud metadata service)"},
        ClassCase{"::ffff:8.8.8.8", AddressClass::kPublic, ""},
        ClassCase{"64:ff9b::a00:5", AddressClass::kPrivate, "private address (RFC 1918)"},
        ClassCase{"2002:a9fe:a9fe::1", AddressClass::kLinkLocal,
                  "link-local address (cloud metadata service)"},
        ClassCase{"2002:808:808::1", AddressClass::kPublic, ""}));

TEST(SsrfGuardTest, RefusalNamesTheAddressAndTheRule) {
  SsrfGuard guard;
  SsrfDecision decision = guard.Check(Ip("10.0.0.5"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.message,
            "refused 10.0.0.5: private address (RFC 1918); allow it with --allow-target or "
            "WEBHOOKD_ALLOW_TARGETS");
  EXPECT_EQ(guard.Check(Ip("::ffff:169.254.169.254")).message,
            "refused ::ffff:169.254.169.254: link-local address (cloud metadata service); allow "
            "it with --allow-target or WEBHOOKD_ALLOW_TARGETS");
  EXPECT_EQ(
      guard.Check(Ip("::1")).message,
      "refused ::1: loopback address; allow it with --allow-target or WEBHOOKD_ALLOW_TARGETS");
}

TEST(SsrfGuardTest, AllowsPublicAddresses) {
  SsrfGuard guard;
  EXPECT_TRUE(guard.Check(Ip("93.184.216.34")).allowed);
  EXPECT_TRUE(guard.Check(Ip("2606:4700:4700::1111")).allowed);
  EXPECT_TRUE(guard.Check(Ip("93.184.216.34")).message.empty());
}

TEST(SsrfGuardTest, AllowListOpensOnlyItsRanges) {
  Result<SsrfGuard> guard = SsrfGuard::WithAllowList({"127.0.0.0/8", "::1/128", "10.1.0.0/16"});
  ASSERT_TRUE(guard.ok()) << guard.error().message;
  EXPECT_TRUE(guard->Check(Ip("127.0.0.1")).allowed);
  EXPECT_TRUE(guard->Check(Ip("127.3.2.1")).allowed);
  EXPECT_TRUE(guard->Check(Ip("::1")).allowed);
  EXPECT_TRUE(guard->Check(Ip("::ffff:127.0.0.1")).allowed);  // mapped matches IPv4 CIDRs
  EXPECT_TRUE(guard->Check(Ip("10.1.200.3")).allowed);
  EXPECT_FALSE(guard->Check(Ip("10.2.0.1")).allowed);
  EXPECT_FALSE(guard->Check(Ip("192.168.0.1")).allowed);
  EXPECT_FALSE(guard->Check(Ip("fe80::1")).allowed);
}

TEST(SsrfGuardTest, ChecksSockaddrs) {
  Result<SsrfGuard> guard = SsrfGuard::WithAllowList({"::1/128"});
  ASSERT_TRUE(guard.ok());

  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  inet_pton(AF_INET, "192.168.7.7", &v4.sin_addr);
  SsrfDecision refused = guard->Check(reinterpret_cast<const sockaddr*>(&v4));
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.message,
            "refused 192.168.7.7: private address (RFC 1918); allow it with --allow-target or "
            "WEBHOOKD_ALLOW_TARGETS");

  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::1", &v6.sin6_addr);
  EXPECT_TRUE(guard->Check(reinterpret_cast<const sockaddr*>(&v6)).allowed);
  inet_pton(AF_INET6, "::ffff:192.168.7.7", &v6.sin6_addr);
  EXPECT_FALSE(guard->Check(reinterpret_cast<const sockaddr*>(&v6)).allowed);

  sockaddr unix_socket{};
  unix_socket.sa_family = AF_UNIX;
  EXPECT_FALSE(guard->Check(&unix_socket).allowed);
}

TEST(SsrfGuardTest, DisabledAllowsEverything) {
  SsrfGuard guard = SsrfGuard::Disabled();
  EXPECT_FALSE(guard.enabled());
  EXPECT_TRUE(guard.Check(Ip("127.0.0.1")).allowed);
  EXPECT_TRUE(guard.Check(Ip("169.254.169.254")).allowed);
}

TEST(CidrTest, ParsesAndNormalises) {
  Result<Cidr> cidr = Cidr::Parse("10.1.2.3/8");
  ASSERT_TRUE(cidr.ok());
  EXPECT_EQ(cidr->ToString(), "10.0.0.0/8");
  EXPECT_TRUE(cidr->Contains(Ip("10.255.0.1")));
  EXPECT_FALSE(cidr->Contains(Ip("11.0.0.1")));

  Result<Cidr> single = Cidr::Parse("::1");
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->ToString(), "::1/128");

  Result<Cidr> odd = Cidr::Parse("192.168.0.0/23");
  ASSERT_TRUE(odd.ok());
  EXPECT_TRUE(odd->Contains(Ip("192.168.1.255")));
  EXPECT_FALSE(odd->Contains(Ip("192.168.2.0")));

  Result<Cidr> everything = Cidr::Parse("0.0.0.0/0");
  ASSERT_TRUE(everything.ok());
  EXPECT_TRUE(everything->Contains(Ip("203.0.113.9")));
  EXPECT_FALSE(everything->Contains(Ip("::1")));  // families never mix
}

TEST(CidrTest, ParseErrorsNameTheCidr) {
  struct BadCase {
    const char* text;
    const char* message;
  };
  for (const BadCase& c : {
           BadCase{"10.0.0.0/33",
                   "invalid CIDR \"10.0.0.0/33\": prefix length must be a number from 0 to 32"},
           BadCase{"::1/129",
                   "invalid CIDR \"::1/129\": prefix length must be a number from 0 to 128"},
           BadCase{"10.0.0.0/",
                   "invalid CIDR \"10.0.0.0/\": prefix length must be a number from 0 to 32"},
           BadCase{"10.0.0.0/8x",
                   "invalid CIDR \"10.0.0.0/8x\": prefix length must be a number from 0 to 32"},
           BadCase{"10.0.0.0/-1",
                   "invalid CIDR \"10.0.0.0/-1\": prefix length must be a number from 0 to 32"},
           BadCase{"localhost/8", "invalid CIDR \"localhost/8\": not an IPv4 or IPv6 address"},
           BadCase{"300.0.0.0/8", "invalid CIDR \"300.0.0.0/8\": not an IPv4 or IPv6 address"},
           BadCase{"", "invalid CIDR \"\": not an IPv4 or IPv6 address"},
       }) {
    Result<Cidr> cidr = Cidr::Parse(c.text);
    ASSERT_FALSE(cidr.ok()) << c.text;
    EXPECT_EQ(cidr.error().kind, ErrorKind::kInvalid);
    EXPECT_EQ(cidr.error().message, c.message);
  }
  Result<SsrfGuard> guard = SsrfGuard::WithAllowList({"127.0.0.0/8", "10.0.0.0/99"});
  ASSERT_FALSE(guard.ok());
  EXPECT_EQ(guard.error().message,
            "invalid CIDR \"10.0.0.0/99\": prefix length must be a number from 0 to 32");
}

TEST(IpAddressTest, RejectsNonLiterals) {
  EXPECT_FALSE(IpAddress::Parse("example.com").has_value());
  EXPECT_FALSE(IpAddress::Parse("1.2.3").has_value());
  EXPECT_FALSE(IpAddress::Parse("[::1]").has_value());
  EXPECT_EQ(Ip("::ffff:10.0.0.1").MappedIpv4()->ToString(), "10.0.0.1");
  EXPECT_FALSE(Ip("10.0.0.1").MappedIpv4().has_value());
}

}  // namespace
}  // namespace webhookd::delivery
