// A receiving server, as the dispatcher shares its connection cap among configurations.
#pragma once

#include <string>
#include <string_view>

namespace webhookd::delivery {

// "scheme://host:port" of a URL, lowercased, with the scheme's default port filled in
// ("https://Example.com/hook" -> "https://example.com:443"). A URL that does not parse is
// its own endpoint.
std::string OriginOf(std::string_view url);

}  // namespace webhookd::delivery
