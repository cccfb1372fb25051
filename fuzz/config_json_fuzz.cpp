// Configuration JSON (POST, PUT and PATCH /external-events bodies), its URL, and the SSRF
// guard's address parsing.
// Input: a configuration body, or any text, which is also read as an address or CIDR. Besides
// not crashing:
//  - a body that is accepted has a URL ValidateWebhookUrl accepts, and what a GET returns for
//    it can be sent back with PUT (README: "a GET body can be sent back with PUT");
//  - an address that parses is read as the resolver reads the same text (curl connects to what
//    getaddrinfo returns), spells back to itself, and the guard judges it the same from its
//    sockaddr as from its text.
#include <netdb.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <cstring>

#include "api/config_json.hpp"
#include "api/json_io.hpp"
#include "delivery/ip_address.hpp"
#include "delivery/ssrf_guard.hpp"
#include "fuzz_input.hpp"

namespace {

using namespace webhookd;
using webhookd::fuzz::Broken;

constexpr std::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

WebhookConfig Existing() {
  WebhookConfig config;
  config.id = 7;
  config.organization_id = 1;
  config.name = "existing";
  config.url = "https://example.com/hook";
  config.event_type_id = 5;
  config.secret = std::string(kSecret);
  return config;
}

void CheckWrite(const boost::json::object& body, api::WriteMode mode, bool allow_insecure) {
  const api::ConfigRules rules{allow_insecure};
  const Catalog& catalog = Catalog::Builtin();
  WebhookConfig config = mode == api::WriteMode::kCreate ? WebhookConfig{} : Existing();
  if (!api::ApplyConfigJson(body, mode, rules, catalog, config).ok()) return;
  if (!api::ValidateWebhookUrl(config.url, allow_insecure).ok()) {
    Broken("an accepted configuration has a URL that ValidateWebhookUrl refuses");
  }
  if (config.secret.empty()) config.secret = std::string(kSecret);  // as POST generates one
  const boost::json::object returned = api::ConfigToJson(config, catalog);
  WebhookConfig replaced = config;
  if (!api::ApplyConfigJson(returned, api::WriteMode::kReplace, rules, catalog, replaced).ok()) {
    Broken("what GET returns for an accepted configuration cannot be sent back with PUT");
  }
}

// The address getaddrinfo reads from `text` without DNS, as curl would connect to it.
std::optional<delivery::IpAddress> ResolverReading(const std::string& text) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* found = nullptr;
  if (getaddrinfo(text.c_str(), nullptr, &hints, &found) != 0) return std::nullopt;
  std::optional<delivery::IpAddress> address = delivery::IpAddress::FromSockaddr(found->ai_addr);
  freeaddrinfo(found);
  return address;
}

bool Same(const delivery::IpAddress& a, const delivery::IpAddress& b) {
  return a.is_v6 == b.is_v6 && a.bytes == b.bytes;
}

void CheckAddress(std::string_view text) {
  static const delivery::SsrfGuard guard =
      *delivery::SsrfGuard::WithAllowList({"127.0.0.0/8", "::1/128", "10.1.0.0/16"});
  if (Result<delivery::Cidr> cidr = delivery::Cidr::Parse(text); cidr.ok()) {
    if (!cidr->Contains(cidr->network)) Broken("a CIDR does not contain its own network");
  }
  const std::optional<delivery::IpAddress> address = delivery::IpAddress::Parse(text);
  if (!address) return;
  const std::string spelled = address->ToString();
  const std::optional<delivery::IpAddress> again = delivery::IpAddress::Parse(spelled);
  if (!again || !Same(*again, *address)) Broken("an address does not spell back to itself");
  const std::optional<delivery::IpAddress> resolved = ResolverReading(std::string(text));
  if (!resolved || !Same(*resolved, *address)) {
    Broken("IpAddress::Parse reads a text otherwise than the resolver does");
  }
  sockaddr_storage storage{};
  if (address->is_v6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    v6->sin6_family = AF_INET6;
    std::memcpy(&v6->sin6_addr, address->bytes.data(), 16);
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    std::memcpy(&v4->sin_addr, address->bytes.data(), 4);
  }
  const delivery::SsrfDecision by_text = guard.Check(*address);
  const delivery::SsrfDecision by_socket = guard.Check(reinterpret_cast<const sockaddr*>(&storage));
  if (by_text.allowed != by_socket.allowed || by_text.message != by_socket.message) {
    Broken("the guard judges an address differently from its sockaddr");
  }
}

void CheckUrl(std::string_view url) {
  if (api::ValidateWebhookUrl(url, false).ok() && !api::ValidateWebhookUrl(url, true).ok()) {
    Broken("a URL accepted as https is refused when http is allowed too");
  }
  if (!api::ValidateWebhookUrl(url, true).ok()) return;
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) Broken("an accepted URL does not parse");
  CheckAddress(parsed->host_address());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = webhookd::fuzz::AsText(data, size);
  CheckAddress(text);
  Result<boost::json::object> body = api::ParseJsonObject(text);
  if (!body.ok()) return 0;
  for (api::WriteMode mode :
       {api::WriteMode::kCreate, api::WriteMode::kReplace, api::WriteMode::kPatch}) {
    CheckWrite(*body, mode, false);
    CheckWrite(*body, mode, true);
  }
  if (const boost::json::value* url = body->if_contains("url"); url && url->is_string()) {
    CheckUrl(url->get_string());
  }
  return 0;
}
