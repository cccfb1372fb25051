#include "catalog/schema_decider.hpp"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>

#include "catalog/pattern_checks.hpp"

namespace webhookd {
namespace {

namespace json = boost::json;

enum TypeBit : std::uint8_t {
  kNull = 1,
  kBoolean = 2,
  kInteger = 4,
  kNumber = 8,
  kString = 16,
  kObject = 32,
  kArray = 64,
};
constexpr std::uint8_t kAnyType = 0x7f;

std::optional<std::uint8_t> TypeBitOf(std::string_view name) {
  constexpr std::array<std::pair<std::string_view, TypeBit>, 7> kNames = {{
      {"null", kNull},
      {"boolean", kBoolean},
      {"integer", kInteger},
      {"number", kNumber},
      {"string", kString},
      {"object", kObject},
      {"array", kArray},
  }};
  for (const auto& [type_name, bit] : kNames) {
    if (type_name == name) return bit;
  }
  return std::nullopt;
}

// The type bits a value satisfies under valijson's strict types with Boost.JSON: "integer" is
// an int64 only (not 1.0), "number" an int64 or a double (a uint64 never gets here).
std::uint8_t TypeBitsOf(const json::value& value) {
  switch (value.kind()) {
    case json::kind::null:
      return kNull;
    case json::kind::bool_:
      return kBoolean;
    case json::kind::int64:
      return kInteger | kNumber;
    case json::kind::uint64:
      return 0;
    case json::kind::double_:
      return kNumber;
    case json::kind::string:
      return kString;
    case json::kind::object:
      return kObject;
    case json::kind::array:
      return kArray;
  }
  return 0;
}

// valijson reads a string through c_str(), so it sees it up to its first NUL.
std::string_view AsValijsonSees(const json::string& text) {
  const std::string_view whole(text.data(), text.size());
  return whole.substr(0, whole.find('\0'));
}

// Characters as valijson's u8_strlen counts them in valid UTF-8 (all Boost.JSON yields): the
// bytes that do not continue a sequence.
std::uint64_t CodePoints(std::string_view text) {
  return static_cast<std::uint64_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// A "const" or "enum" value: only null, booleans and strings, whose equality under valijson's
// strict types is plain.
bool IsLiteral(const json::value& value) {
  return value.is_null() || value.is_bool() || value.is_string();
}

bool SameLiteral(const json::value& literal, const json::value& value) {
  if (literal.is_null()) return value.is_null();
  if (literal.is_bool()) return value.is_bool() && value.get_bool() == literal.get_bool();
  return value.is_string() &&
         AsValijsonSees(value.get_string()) == AsValijsonSees(literal.get_string());
}

// Keywords that do not constrain values (valijson ignores them, or uses them only for "$ref",
// which a decided schema does not have).
constexpr std::array<std::string_view, 12> kAnnotations = {
    "$schema", "$id",      "id",       "$comment",  "title",       "description",
    "default", "examples", "readOnly", "writeOnly", "definitions", "contentMediaType"};

bool IsAnnotation(std::string_view keyword) {
  return std::find(kAnnotations.begin(), kAnnotations.end(), keyword) != kAnnotations.end();
}

std::optional<std::uint64_t> Count(const json::value& value) {
  if (!value.is_int64() || value.get_int64() < 0) return std::nullopt;
  return static_cast<std::uint64_t>(value.get_int64());
}

std::optional<double> Limit(const json::value& value) {
  if (value.is_int64()) return static_cast<double>(value.get_int64());
  if (value.is_double()) return value.get_double();
  return std::nullopt;
}

}  // namespace

struct SchemaDecider::Node {
  enum class Additional { kAllowed, kForbidden, kChecked };

  std::uint8_t types = kAnyType;
  std::optional<json::value> constant;
  std::optional<std::vector<json::value>> allowed;  // "enum"
  std::optional<PatternMatcher> pattern;            // as CompiledSchema's FastPatternConstraint
  std::optional<std::uint64_t> min_length;
  std::optional<std::uint64_t> max_length;
  std::optional<double> minimum;
  std::optional<double> maximum;
  std::vector<std::string> required;
  std::vector<std::pair<std::string, std::size_t>> properties;  // name, node
  Additional additional = Additional::kAllowed;
  std::size_t additional_node = 0;  // when kChecked
  std::optional<std::uint64_t> min_items;
  std::optional<std::uint64_t> max_items;
  std::optional<std::size_t> items;  // the node every item must satisfy
};

namespace {

using Node = SchemaDecider::Node;

// Builds the nodes of one schema, depth first; nullopt as soon as something is not covered.
class Compiler {
 public:
  explicit Compiler(std::vector<Node>& nodes) : nodes_(nodes) {}

  std::optional<std::size_t> Add(const json::value& schema) {
    const json::object* object = schema.if_object();
    if (object == nullptr) return std::nullopt;
    const std::size_t index = nodes_.size();
    nodes_.emplace_back();
    Node node;
    for (const auto& member : *object) {
      if (!Read(member.key(), member.value(), node)) return std::nullopt;
    }
    nodes_[index] = std::move(node);
    return index;
  }

 private:
  bool Read(std::string_view keyword, const json::value& value, Node& node) {
    if (keyword == "type") return ReadType(value, node);
    if (keyword == "const") {
      if (!IsLiteral(value)) return false;
      node.constant = value;
      return true;
    }
    if (keyword == "enum") return ReadEnum(value, node);
    if (keyword == "pattern") return ReadPattern(value, node);
    if (keyword == "minLength") return (node.min_length = Count(value)).has_value();
    if (keyword == "maxLength") return (node.max_length = Count(value)).has_value();
    if (keyword == "minItems") return (node.min_items = Count(value)).has_value();
    if (keyword == "maxItems") return (node.max_items = Count(value)).has_value();
    if (keyword == "minimum") return (node.minimum = Limit(value)).has_value();
    if (keyword == "maximum") return (node.maximum = Limit(value)).has_value();
    if (keyword == "required") return ReadRequired(value, node);
    if (keyword == "properties") return ReadProperties(value, node);
    if (keyword == "additionalProperties") return ReadAdditional(value, node);
    if (keyword == "items") {
      if (!value.is_object()) return false;  // tuples and boolean schemas are not covered
      return (node.items = Add(value)).has_value();
    }
    return IsAnnotation(keyword);
  }

  static bool ReadType(const json::value& value, Node& node) {
    if (const json::string* name = value.if_string()) {
      const std::optional<std::uint8_t> bit = TypeBitOf(*name);
      if (!bit) return false;
      node.types = *bit;
      return true;
    }
    const json::array* names = value.if_array();
    if (names == nullptr || names->empty()) return false;
    node.types = 0;
    for (const json::value& each : *names) {
      const std::optional<std::uint8_t> bit =
          each.is_string() ? TypeBitOf(each.get_string()) : std::nullopt;
      if (!bit) return false;
      node.types |= *bit;
    }
    return true;
  }

  static bool ReadEnum(const json::value& value, Node& node) {
    const json::array* values = value.if_array();
    if (values == nullptr || values->empty()) return false;
    if (!std::all_of(values->begin(), values->end(), IsLiteral)) return false;
    node.allowed.emplace(values->begin(), values->end());
    return true;
  }

  static bool ReadPattern(const json::value& value, Node& node) {
    if (!value.is_string()) return false;
    try {
      node.pattern.emplace(std::string(value.get_string()));
    } catch (const std::regex_error&) {
      return false;
    }
    return true;
  }

  static bool ReadRequired(const json::value& value, Node& node) {
    const json::array* names = value.if_array();
    if (names == nullptr) return false;
    for (const json::value& name : *names) {
      if (!name.is_string()) return false;
      node.required.emplace_back(name.get_string());
    }
    return true;
  }

  bool ReadProperties(const json::value& value, Node& node) {
    const json::object* properties = value.if_object();
    if (properties == nullptr) return false;
    for (const auto& property : *properties) {
      const std::optional<std::size_t> child = Add(property.value());
      if (!child) return false;
      node.properties.emplace_back(std::string(property.key()), *child);
    }
    return true;
  }

  bool ReadAdditional(const json::value& value, Node& node) {
    if (value.is_bool()) {
      node.additional =
          value.get_bool() ? Node::Additional::kAllowed : Node::Additional::kForbidden;
      return true;
    }
    const std::optional<std::size_t> child = Add(value);
    if (!child) return false;
    node.additional = Node::Additional::kChecked;
    node.additional_node = *child;
    return true;
  }

  std::vector<Node>& nodes_;
};

class Walker {
 public:
  explicit Walker(const std::vector<Node>& nodes) : nodes_(nodes) {}

  bool Accepts(std::size_t index, const json::value& value) const {
    const Node& node = nodes_[index];
    if ((TypeBitsOf(value) & node.types) == 0) return false;
    if (node.constant && !SameLiteral(*node.constant, value)) return false;
    if (node.allowed &&
        std::none_of(node.allowed->begin(), node.allowed->end(),
                     [&](const json::value& each) { return SameLiteral(each, value); })) {
      return false;
    }
    switch (value.kind()) {
      case json::kind::string:
        return AcceptsString(node, AsValijsonSees(value.get_string()));
      case json::kind::int64:
        return AcceptsNumber(node, static_cast<double>(value.get_int64()));
      case json::kind::double_:
        return AcceptsNumber(node, value.get_double());
      case json::kind::uint64:
        // Beyond int64, valijson's strict types are neither integer nor quite number: let it
        // decide.
        return false;
      case json::kind::object:
        return AcceptsObject(node, value.get_object());
      case json::kind::array:
        return AcceptsArray(node, value.get_array());
      default:
        return true;
    }
  }

 private:
  static bool AcceptsString(const Node& node, std::string_view text) {
    if (node.min_length || node.max_length) {
      const std::uint64_t length = CodePoints(text);
      if (node.min_length && length < *node.min_length) return false;
      if (node.max_length && length > *node.max_length) return false;
    }
    return !node.pattern || node.pattern->Matches(text);
  }

  static bool AcceptsNumber(const Node& node, double number) {
    if (node.minimum && number < *node.minimum) return false;
    return !node.maximum || number <= *node.maximum;
  }

  bool AcceptsObject(const Node& node, const json::object& object) const {
    for (const std::string& name : node.required) {
      if (!object.contains(name)) return false;
    }
    std::size_t matched = 0;
    for (const auto& [name, child] : node.properties) {
      const json::value* member = object.if_contains(name);
      if (member == nullptr) continue;
      ++matched;
      if (!Accepts(child, *member)) return false;
    }
    if (matched == object.size() || node.additional == Node::Additional::kAllowed) return true;
    if (node.additional == Node::Additional::kForbidden) return false;
    for (const auto& member : object) {
      const bool named =
          std::any_of(node.properties.begin(), node.properties.end(),
                      [&](const auto& property) { return property.first == member.key(); });
      if (!named && !Accepts(node.additional_node, member.value())) return false;
    }
    return true;
  }

  bool AcceptsArray(const Node& node, const json::array& array) const {
    if (node.min_items && array.size() < *node.min_items) return false;
    if (node.max_items && array.size() > *node.max_items) return false;
    if (!node.items) return true;
    return std::all_of(array.begin(), array.end(),
                       [&](const json::value& item) { return Accepts(*node.items, item); });
  }

  const std::vector<Node>& nodes_;
};

}  // namespace

SchemaDecider::SchemaDecider() = default;
SchemaDecider::~SchemaDecider() = default;

std::unique_ptr<const SchemaDecider> SchemaDecider::Compile(const json::value& schema) {
  std::unique_ptr<SchemaDecider> decider(new SchemaDecider());
  if (!Compiler(decider->nodes_).Add(schema)) return nullptr;
  return decider;
}

bool SchemaDecider::Accepts(const json::value& document) const {
  return Walker(nodes_).Accepts(0, document);
}

}  // namespace webhookd
