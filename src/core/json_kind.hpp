// The JSON Schema name of a value's type, for error messages that say what was sent.
#pragma once

#include <boost/json/value.hpp>
#include <string_view>

namespace webhookd {

// "null", "boolean", "integer", "number", "string", "array" or "object".
std::string_view JsonKindName(const boost::json::value& value);

}  // namespace webhookd
