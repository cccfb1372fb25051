#include "delivery/origin.hpp"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <cctype>

namespace webhookd::delivery {

std::string OriginOf(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return std::string(url);
  std::string scheme(parsed->scheme());
  std::string host(parsed->encoded_host());
  std::string port(parsed->port());
  if (port.empty()) port = scheme == "https" ? "443" : scheme == "http" ? "80" : "";
  std::string origin = scheme + "://" + host + ":" + port;
  std::transform(origin.begin(), origin.end(), origin.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return origin;
}

}  // namespace webhookd::delivery
