// Build-time tool: converts docs/openapi.yaml to JSON and writes it as a C++ source that
// defines webhookd::api::OpenApiJson(). The server then serves GET /openapi.json without
// parsing YAML, or linking a YAML library, at run time; a YAML mistake fails the build.
//
// Usage: webhookd_openapi_embed INPUT.yaml OUTPUT.cpp
//
// Plain scalars are typed by the YAML 1.2 core schema, as JavaScript's `yaml` package does
// (the interop tests compare both readings): null, booleans, decimal integers and decimal
// floats; every other plain scalar is a string. Forms that the two could read differently
// (octal, hex, .inf, .nan), explicit tags other than !!str, non-scalar keys and duplicate keys
// are refused, so the JSON served is exactly the document as written.
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>

namespace {

constexpr std::string_view kStringTag = "tag:yaml.org,2002:str";
constexpr std::string_view kRawDelimiter = "webhookd_openapi";

// Carries the source position so that the build log points at the line to fix.
class ConversionError : public std::runtime_error {
 public:
  ConversionError(const YAML::Node& node, const std::string& message)
      : std::runtime_error("line " + std::to_string(node.Mark().line + 1) + ": " + message) {}
};

bool IsCoreNull(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::optional<bool> CoreBool(const std::string& s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

boost::json::value PlainScalar(const YAML::Node& node) {
  static const std::regex kInteger("[-+]?[0-9]+");
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  static const std::regex kAmbiguous(
      R"(0o[0-7]+|0x[0-9a-fA-F]+|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))");
  const std::string& text = node.Scalar();
  if (IsCoreNull(text)) return nullptr;
  if (std::optional<bool> b = CoreBool(text)) return *b;
  if (std::regex_match(text, kInteger)) {
    std::int64_t value = 0;
    const char* begin = text.data() + (text.front() == '+' ? 1 : 0);
    const auto [end, ec] = std::from_chars(begin, text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
      throw ConversionError(node, "integer " + text + " does not fit in 64 bits");
    }
    return value;
  }
  if (std::regex_match(text, kFloat)) return std::stod(text);
  if (std::regex_match(text, kAmbiguous)) {
    throw ConversionError(node, "'" + text + "': quote it, or write the number in decimal");
  }
  return boost::json::string(text);
}

boost::json::value ToJson(const YAML::Node& node);

boost::json::object MappingToJson(const YAML::Node& node) {
  boost::json::object object;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) throw ConversionError(entry.first, "keys must be scalars");
    const std::string& key = entry.first.Scalar();
    if (object.contains(key)) throw ConversionError(entry.first, "duplicate key '" + key + "'");
    object.emplace(key, ToJson(entry.second));
  }
  return object;
}

boost::json::value ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Map:
      return MappingToJson(node);
    case YAML::NodeType::Sequence: {
      boost::json::array array;
      for (const auto& item : node) array.push_back(ToJson(item));
      return array;
    }
    case YAML::NodeType::Scalar:
      break;
  }
  // "?": a plain scalar, typed by the core schema; "!": quoted or block, always a string.
  if (node.Tag() == "?") return PlainScalar(node);
  if (node.Tag() == "!" || node.Tag() == kStringTag) return boost::json::string(node.Scalar());
  throw ConversionError(node, "unsupported tag " + node.Tag());
}

std::string CppSource(const std::string& json) {
  std::ostringstream out;
  out << "// Generated from docs/openapi.yaml by src/api/openapi/openapi_embed.cpp. Do not edit.\n"
      << "#include \"api/api.hpp\"\n\n"
      << "namespace webhookd::api {\n\n"
      << "std::string_view OpenApiJson() {\n"
      << "  static constexpr std::string_view kDocument = R\"" << kRawDelimiter << "(" << json
      << ")" << kRawDelimiter << "\";\n"
      << "  return kDocument;\n"
      << "}\n\n"
      << "}  // namespace webhookd::api\n";
  return out.str();
}

int Fail(const std::string& input, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", input.c_str(), message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s INPUT.yaml OUTPUT.cpp\n", argv[0]);
    return 2;
  }
  const std::string input = argv[1];
  std::string json;
  try {
    const YAML::Node document = YAML::LoadFile(input);
    if (!document.IsMap()) return Fail(input, "the document must be a mapping");
    json = boost::json::serialize(ToJson(document));
  } catch (const std::exception& e) {
    return Fail(input, e.what());
  }
  if (json.find(")" + std::string(kRawDelimiter) + "\"") != std::string::npos) {
    return Fail(input, "the document contains the raw string delimiter; change kRawDelimiter");
  }
  std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
  out << CppSource(json);
  out.close();
  if (!out) return Fail(argv[2], "cannot write the output");
  return 0;
}
