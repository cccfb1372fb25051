// Indented JSON for people to read (Boost.JSON only serializes compactly).
#pragma once

#include <boost/json/value.hpp>
#include <string>

namespace webhookd::app {

// `value` with one member or element per line, nested levels indented by two more spaces,
// every line after the first prefixed with `indent`.
std::string PrettyJson(const boost::json::value& value, const std::string& indent = "");

}  // namespace webhookd::app
