// Which organization a write belongs to: admins name it, organization keys imply it.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>

#include "api/router.hpp"
#include "core/result.hpp"

namespace webhookd::api {

// The body's organizationId for an admin key (required, positive); for an organization key its
// own organization (a different organizationId in the body is Forbidden).
Result<std::int64_t> OrganizationOfWrite(const boost::json::object& body,
                                         const Principal& principal);

}  // namespace webhookd::api
