#include "delivery/origin.hpp"

#include <boost/url/parse.hpp>

#include "core/text.hpp"

namespace webhookd::delivery {

std::string OriginOf(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return std::string(url);
  std::string scheme(parsed->scheme());
  std::string host(parsed->encoded_host());
  std::string port(parsed->port());
  if (port.empty()) port = scheme == "https" ? "443" : scheme == "http" ? "80" : "";
  return Lowercase(scheme + "://" + host + ":" + port);
}

}  // namespace webhookd::delivery
