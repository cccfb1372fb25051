#include "api/api.hpp"
#include "crypto/secret.hpp"

namespace webhookd::api {

Authenticator MakeAuthenticator(Store& store) {
  return [&store](const Request& request) -> Result<Principal> {
    constexpr std::string_view kBearer = "Bearer ";
    const std::string_view header = request.Header("authorization");
    if (header.empty()) {
      return Error::Unauthorized("missing API key: send 'Authorization: Bearer <key>'");
    }
    if (header.size() <= kBearer.size() || header.substr(0, kBearer.size()) != kBearer) {
      return Error::Unauthorized("the Authorization header must be 'Bearer <key>'");
    }
    Result<ApiKey> key = store.FindApiKeyByHash(crypto::HashApiKey(header.substr(kBearer.size())));
    if (!key.ok()) {
      if (key.error().kind == ErrorKind::kNotFound) {
        return Error::Unauthorized("unknown or revoked API key");
      }
      return key.error();
    }
    return Principal{key->id, key->name, key->organization_id};
  };
}

}  // namespace webhookd::api
