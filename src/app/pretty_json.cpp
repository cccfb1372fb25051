#include "app/pretty_json.hpp"

#include <boost/json/serialize.hpp>

namespace webhookd::app {
namespace {

namespace json = boost::json;

void Write(const json::value& value, const std::string& indent, std::string& out);

void WriteObject(const json::object& object, const std::string& indent, std::string& out) {
  if (object.empty()) {
    out += "{}";
    return;
  }
  const std::string inner = indent + "  ";
  out += "{\n";
  bool first = true;
  for (const auto& [key, member] : object) {
    if (!first) out += ",\n";
    first = false;
    out += inner + json::serialize(json::value(key)) + ": ";
    Write(member, inner, out);
  }
  out += "\n" + indent + "}";
}

void WriteArray(const json::array& array, const std::string& indent, std::string& out) {
  if (array.empty()) {
    out += "[]";
    return;
  }
  const std::string inner = indent + "  ";
  out += "[\n";
  bool first = true;
  for (const json::value& element : array) {
    if (!first) out += ",\n";
    first = false;
    out += inner;
    Write(element, inner, out);
  }
  out += "\n" + indent + "]";
}

void Write(const json::value& value, const std::string& indent, std::string& out) {
  if (value.is_object()) {
    WriteObject(value.as_object(), indent, out);
  } else if (value.is_array()) {
    WriteArray(value.as_array(), indent, out);
  } else {
    out += json::serialize(value);
  }
}

}  // namespace

std::string PrettyJson(const json::value& value, const std::string& indent) {
  std::string out;
  Write(value, indent, out);
  return out;
}

}  // namespace webhookd::app
