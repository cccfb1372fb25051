// Errors become HTTP here and nowhere else: an Error's kind picks the status and the
// RFC 9457 problem type; internal errors are logged and answered with a bare 500.
#pragma once

#include <string_view>

#include "api/http_message.hpp"
#include "core/result.hpp"

namespace webhookd::api {

Response ProblemResponse(const Error& error);
// `error`, whose detail names the serve flag that sets the limit when it is kLimitExceeded.
Error WithLimitFlag(Error error, std::string_view flag);
// For protocol-level problems that have no Error kind (405, malformed HTTP).
Response ProblemResponse(int status, std::string_view slug, std::string_view title,
                         std::string_view detail);

}  // namespace webhookd::api
