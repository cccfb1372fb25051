#include "delivery/http_client.hpp"

namespace webhookd::delivery {

std::optional<std::string_view> FindHeader(const HttpHeaders& headers,
                                           std::string_view lowercase_name) {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return value;
  }
  return std::nullopt;
}

}  // namespace webhookd::delivery
