#include "api/tenancy.hpp"

#include "api/json_io.hpp"

namespace webhookd::api {

Result<std::int64_t> OrganizationOfWrite(const boost::json::object& body,
                                         const Principal& principal) {
  Result<std::optional<std::int64_t>> given =
      OptionalInteger(body, "organizationId", kPositiveIntegers);
  if (!given.ok()) return given.error();
  if (principal.is_admin()) {
    if (!given->has_value()) {
      return Error::Invalid("organizationId is required with an admin API key", "/organizationId");
    }
    return **given;
  }
  if (given->has_value() && **given != *principal.scope) {
    return Error::Forbidden("organizationId " + std::to_string(**given) +
                            " does not match the API key's organization");
  }
  return *principal.scope;
}

}  // namespace webhookd::api
