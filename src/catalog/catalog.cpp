#include "catalog/catalog.hpp"

#include "catalog/pattern_checks.hpp"
#include "catalog/schema_decider.hpp"
#include "core/json_kind.hpp"
#include "core/json_pointer.hpp"

// valijson aborts the process on errors unless told to throw; this is the only translation unit
// that includes it, so the setting cannot disagree with another one.
#define VALIJSON_USE_EXCEPTIONS 1

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/constraint_builder.hpp>
#include <valijson/constraints/concrete_constraints.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>
#include <vector>

namespace webhookd {

// Generated from catalog/*.json by cmake/embed_files.cmake, in file-name order.
extern const std::span<const std::string_view> kCatalogFiles;

namespace {

using Path = std::vector<std::string>;  // object keys and array indexes, outermost first

std::string JsonPointer(const Path& path) {
  std::string out;
  for (const std::string& key : path) AppendPointerToken(out, key);
  return out;
}

// valijson's context is "<root>" followed by one "[key]" or "[index]" per level.
Path PathFromContext(const std::vector<std::string>& context) {
  Path path;
  for (std::size_t i = 1; i < context.size(); ++i) {
    const std::string& level = context[i];
    path.push_back(level.size() >= 2 ? level.substr(1, level.size() - 2) : level);
  }
  return path;
}

std::optional<std::size_t> ArrayIndex(std::string_view key) {
  std::size_t index = 0;
  const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), index);
  if (ec != std::errc() || end != key.data() + key.size() || key.empty()) return std::nullopt;
  return index;
}

const boost::json::value* ValueAt(const boost::json::value& document, const Path& path) {
  const boost::json::value* value = &document;
  for (const std::string& key : path) {
    if (const auto* object = value->if_object()) {
      value = object->if_contains(key);
    } else if (const auto* array = value->if_array()) {
      const std::optional<std::size_t> index = ArrayIndex(key);
      value = index && *index < array->size() ? &(*array)[*index] : nullptr;
    } else {
      value = nullptr;
    }
    if (value == nullptr) return nullptr;
  }
  return value;
}

// Follows local "$ref"s ("#/definitions/x"); remote references are not used by the catalog.
const boost::json::object* ResolveRefs(const boost::json::value& root,
                                       const boost::json::object* schema) {
  constexpr int kMaxHops = 8;
  for (int hop = 0; schema != nullptr && hop < kMaxHops; ++hop) {
    const boost::json::value* ref = schema->if_contains("$ref");
    if (ref == nullptr || !ref->is_string()) return schema;
    const std::string_view target = ref->as_string();
    if (target.empty() || target.front() != '#') return nullptr;
    boost::system::error_code ec;
    const boost::json::value* resolved = root.find_pointer(target.substr(1), ec);
    schema = resolved != nullptr ? resolved->if_object() : nullptr;
  }
  return nullptr;
}

const boost::json::object* ChildSchema(const boost::json::object& schema, const std::string& key) {
  if (const auto* properties = schema.if_contains("properties")) {
    if (const auto* named =
            properties->is_object() ? properties->as_object().if_contains(key) : nullptr) {
      return named->if_object();
    }
  }
  if (const auto* items = schema.if_contains("items")) {
    if (items->is_object()) return &items->as_object();
    const std::optional<std::size_t> index = ArrayIndex(key);
    if (items->is_array() && index && *index < items->as_array().size()) {
      return items->as_array()[*index].if_object();
    }
  }
  if (const auto* additional = schema.if_contains("additionalProperties")) {
    return additional->if_object();
  }
  return nullptr;
}

// The subschema that applies to the value at `path`, or nullptr where a simple walk through
// properties, items and additionalProperties cannot tell (e.g. inside anyOf).
const boost::json::object* SubschemaAt(const boost::json::value& root, const Path& path) {
  const boost::json::object* schema = ResolveRefs(root, root.if_object());
  for (const std::string& key : path) {
    if (schema == nullptr) return nullptr;
    schema = ResolveRefs(root, ChildSchema(*schema, key));
  }
  return schema;
}

std::string AllowedTypes(const boost::json::value& type) {
  if (type.is_string()) return std::string(type.as_string());
  std::string out;
  if (const auto* types = type.if_array()) {
    for (const boost::json::value& one : *types) {
      if (!out.empty()) out += " or ";
      out += one.is_string() ? std::string(one.as_string()) : boost::json::serialize(one);
    }
  }
  return out;
}

std::string TypeMessage(const boost::json::object* schema, const boost::json::value* value) {
  const boost::json::value* type = schema != nullptr ? schema->if_contains("type") : nullptr;
  if (type == nullptr || value == nullptr) return "has a type the schema does not allow";
  return "expected type " + AllowedTypes(*type) + ", got " + std::string(JsonKindName(*value));
}

// How one of valijson's descriptions becomes our message: its start, the schema keyword whose
// value completes the message, and the words before that value.
struct RuleMessage {
  std::string_view valijson_prefix;
  std::string_view keyword;
  std::string_view message_prefix;
};

// Longer prefixes first where one starts another ("greater than or equal" / "greater than").
constexpr std::array<RuleMessage, 11> kRuleMessages = {{
    {"Failed to match against any enum values", "enum", "must be one of "},
    {"Failed to match expected value set by 'const'", "const", "must equal "},
    {"Failed to match regex specified by 'pattern'", "pattern", "must match pattern "},
    {"Expected number greater than or equal to", "minimum", "must be >= "},
    {"Expected number greater than", "exclusiveMinimum", "must be > "},
    {"Expected number less than or equal to", "maximum", "must be <= "},
    {"Expected number less than", "exclusiveMaximum", "must be < "},
    {"String should be no fewer than", "minLength", "must be at least "},
    {"String should be no more than", "maxLength", "must be at most "},
    {"Array should contain no fewer than", "minItems", "must have at least "},
    {"Array should contain no more than", "maxItems", "must have at most "},
}};

// Patterns read best bare; every other value as JSON ("SURVEY", ["application/pdf"], 0).
std::string KeywordValue(std::string_view keyword, const boost::json::value& value) {
  if (keyword == "pattern" && value.is_string()) return std::string(value.as_string());
  return boost::json::serialize(value);
}

// valijson's own wording, tidied, for the rules we have no message of our own for.
std::string CleanedDescription(std::string description) {
  while (!description.empty() && description.back() == '.') description.pop_back();
  if (!description.empty() && description.front() >= 'A' && description.front() <= 'Z') {
    description.front() = static_cast<char>(description.front() - 'A' + 'a');
  }
  return description;
}

// The property name valijson quotes after `marker` (up to the last quote, so that names holding
// quotes survive).
std::string NameAfter(const std::string& description, std::string_view marker) {
  const std::size_t start = description.find(marker);
  const std::size_t last = description.rfind('\'');
  if (start == std::string::npos || last < start + marker.size()) return {};
  return description.substr(start + marker.size(), last - start - marker.size());
}

std::string_view UnitAfter(std::string_view keyword) {
  if (keyword == "minLength" || keyword == "maxLength") return " characters long";
  if (keyword == "minItems" || keyword == "maxItems") return " items";
  return "";
}

// Enough to fix a payload in one round trip, few enough to keep the answer small.
constexpr std::size_t kMaxReportedErrors = 20;

// The summaries valijson adds at each level enclosing a failure ("Failed to validate against
// schema associated with property name ..."), after the failure itself, which is reported.
constexpr std::array<std::string_view, 5> kSummaryPrefixes = {
    "Failed to validate against schema associated with property name",
    "Failed to validate against schema associated with pattern",
    "Failed to validate item #",
    "Failed to validate against additional properties schema",
    "Failed to validate against child schema #",
};

bool IsSummary(const std::string& description) {
  for (std::string_view prefix : kSummaryPrefixes) {
    if (description.starts_with(prefix)) return true;
  }
  return false;
}

// One of valijson's errors as Error::Invalid: the JSON pointer of the failing value and the rule.
Error DescribeError(const valijson::ValidationResults::Error& error,
                    const boost::json::value& schema, const boost::json::value& document) {
  Path path = PathFromContext(error.context);
  const std::string& description = error.description;

  if (description.starts_with("Missing required property")) {
    return Error::Invalid(
        "missing required property '" + NameAfter(description, "property '") + "'",
        JsonPointer(path));
  }
  if (description.starts_with("Object contains a property that could not be validated")) {
    path.push_back(NameAfter(description, "constraints: '"));
    return Error::Invalid("unknown property '" + path.back() + "'", JsonPointer(path));
  }
  const boost::json::object* subschema = SubschemaAt(schema, path);
  if (description.starts_with("Value type not permitted")) {
    return Error::Invalid(TypeMessage(subschema, ValueAt(document, path)), JsonPointer(path));
  }
  for (const RuleMessage& rule : kRuleMessages) {
    if (!description.starts_with(rule.valijson_prefix)) continue;
    const boost::json::value* limit =
        subschema != nullptr ? subschema->if_contains(rule.keyword) : nullptr;
    if (limit == nullptr) break;
    return Error::Invalid(std::string(rule.message_prefix) + KeywordValue(rule.keyword, *limit) +
                              std::string(UnitAfter(rule.keyword)),
                          JsonPointer(path));
  }
  return Error::Invalid(CleanedDescription(description), JsonPointer(path));
}

// Every failure valijson reported (at most kMaxReportedErrors, without its summaries and
// repeats) as one Error::Invalid: the first failure in `field` and `message`, all in `errors`.
Error DescribeErrors(const valijson::ValidationResults& results, const boost::json::value& schema,
                     const boost::json::value& document) {
  std::vector<FieldError> all;
  for (const valijson::ValidationResults::Error& error : results) {
    if (IsSummary(error.description)) continue;
    Error described = DescribeError(error, schema, document);
    const bool repeated = std::any_of(all.begin(), all.end(), [&](const FieldError& seen) {
      return seen.field == described.field && seen.message == described.message;
    });
    if (!repeated) all.push_back({std::move(described.field), std::move(described.message)});
    if (all.size() == kMaxReportedErrors) break;
  }
  if (all.empty() && results.begin() != results.end()) {
    Error only = DescribeError(*results.begin(), schema, document);
    all.push_back({std::move(only.field), std::move(only.message)});
  }
  if (all.empty()) return Error::Invalid("does not match the schema", "");
  Error out = Error::Invalid(all.front().message, all.front().field);
  out.errors = std::move(all);
  return out;
}

// Every "pattern" in the schema must be a valid ECMAScript regex: valijson compiles patterns
// only when it first meets a value to check, which would turn a catalog mistake into a
// request-time failure.
std::optional<std::string> FirstBadPattern(const boost::json::value& schema) {
  if (const auto* array = schema.if_array()) {
    for (const boost::json::value& item : *array) {
      if (auto bad = FirstBadPattern(item)) return bad;
    }
  }
  if (const auto* object = schema.if_object()) {
    for (const auto& member : *object) {
      if (member.key() == "pattern" && member.value().is_string()) {
        try {
          std::regex compiled(std::string(member.value().as_string()));
        } catch (const std::regex_error&) {
          return std::string(member.value().as_string());
        }
      } else if (auto bad = FirstBadPattern(member.value())) {
        return bad;
      }
    }
  }
  return std::nullopt;
}

// The keyword that a "pattern" becomes in the schema that decides acceptance (see
// CompiledSchema): valijson hands it to FastPatternBuilder instead of its std::regex check.
constexpr std::string_view kFastPatternKeyword = "$webhookd:pattern";

// "pattern" checked by a PatternMatcher (pattern_checks.hpp). It answers as valijson's
// PatternConstraint does with strict types (our validators' mode): values that are not strings
// pass.
class FastPatternConstraint final : public valijson::constraints::PolyConstraint {
 public:
  explicit FastPatternConstraint(const std::string& pattern) : matcher_(pattern) {}

  bool validate(const valijson::adapters::Adapter& target, const std::vector<std::string>& context,
                valijson::ValidationResults* results) const override {
    if (!target.isString()) return true;
    const std::string text = target.asString();
    const bool matches = matcher_.Matches(text);
    if (!matches && results != nullptr) {
      results->pushError(context, "Failed to match regex specified by 'pattern' constraint.");
    }
    return matches;
  }

 private:
  Constraint* cloneInto(void* memory) const override {
    return new (memory) FastPatternConstraint(*this);
  }
  std::size_t sizeOf() const override { return sizeof(FastPatternConstraint); }

  PatternMatcher matcher_;
};

class FastPatternBuilder final : public valijson::ConstraintBuilder {
 public:
  valijson::constraints::Constraint* make(const valijson::adapters::Adapter& value) const override {
    return new FastPatternConstraint(value.asString());
  }
};

void RenamePatternsIn(boost::json::value& schema);

// Every subschema of a schema object, by draft-07's keywords; values of other keywords
// ("enum", "const", "default", ...) are data and are left alone.
void RenamePatternsInSubschemas(boost::json::object& schema) {
  constexpr std::array<std::string_view, 9> kSchemaValued = {"additionalItems",
                                                             "additionalProperties",
                                                             "contains",
                                                             "items",
                                                             "not",
                                                             "propertyNames",
                                                             "if",
                                                             "then",
                                                             "else"};
  constexpr std::array<std::string_view, 3> kSchemaArrays = {"allOf", "anyOf", "oneOf"};
  constexpr std::array<std::string_view, 4> kSchemaMaps = {"properties", "patternProperties",
                                                           "definitions", "dependencies"};
  for (auto& member : schema) {
    const std::string_view key = member.key();
    boost::json::value& value = member.value();
    const auto is = [&](const auto& keywords) {
      return std::find(keywords.begin(), keywords.end(), key) != keywords.end();
    };
    if (is(kSchemaValued) && value.is_object()) {
      RenamePatternsIn(value);
    } else if ((is(kSchemaArrays) || key == "items") && value.is_array()) {
      for (boost::json::value& item : value.as_array()) RenamePatternsIn(item);
    } else if (is(kSchemaMaps) && value.is_object()) {
      for (auto& entry : value.as_object()) RenamePatternsIn(entry.value());
    }
  }
}

// Renames each string "pattern" keyword of `schema` and its subschemas to kFastPatternKeyword.
void RenamePatternsIn(boost::json::value& schema) {
  boost::json::object* object = schema.if_object();
  if (object == nullptr) return;
  RenamePatternsInSubschemas(*object);
  const boost::json::value* pattern = object->if_contains("pattern");
  if (pattern != nullptr && pattern->is_string() && !object->contains(kFastPatternKeyword)) {
    boost::json::value moved = *pattern;
    object->erase("pattern");
    object->emplace(kFastPatternKeyword, std::move(moved));
  }
}

[[noreturn]] void CatalogIsBroken(std::size_t index, std::string_view why) {
  std::fprintf(stderr, "webhookd: the embedded event catalog is invalid: file #%zu: %.*s\n",
               index + 1, static_cast<int>(why.size()), why.data());
  std::abort();
}

const boost::json::value& Member(const boost::json::object& object, std::string_view key,
                                 boost::json::kind kind, std::size_t index) {
  const boost::json::value* value = object.if_contains(key);
  if (value == nullptr) CatalogIsBroken(index, "missing \"" + std::string(key) + "\"");
  if (value->kind() != kind)
    CatalogIsBroken(index, "\"" + std::string(key) + "\" has the wrong type");
  return *value;
}

void CheckHeaders(const boost::json::object& headers, std::size_t index) {
  for (const auto& header : headers) {
    if (!header.value().is_string()) {
      CatalogIsBroken(index, "sampleHeaders." + std::string(header.key()) + " is not a string");
    }
  }
}

}  // namespace

// A draft-07 schema compiled once; Validate may be called from any number of threads.
//
// It is compiled up to three times. The accepting path, which nearly every event takes, asks
// only whether the document is valid: of `fast_` (SchemaDecider, plain checks) when the schema
// uses only the keywords it covers, else of `decider_`: valijson with the patterns checked by
// FastPatternConstraint. Only a document they do not accept is validated again, against
// `reporter_`, valijson's own compilation of the schema, which gives the verdict and whose first
// error becomes the message. Neither accepts a document valijson rejects
// (catalog_differential_test.cpp, schema_decider_test.cpp), so verdicts and messages are
// valijson's.
class CompiledSchema {
 public:
  enum class Patterns { kStdRegex, kCompiled };

  static Result<std::unique_ptr<CompiledSchema>> Compile(boost::json::value source,
                                                         Patterns patterns) {
    if (!source.is_object() && !source.is_bool()) {
      return Error::Invalid("a JSON Schema must be an object or a boolean", "");
    }
    if (auto bad = FirstBadPattern(source)) {
      return Error::Invalid("invalid regular expression in pattern: " + *bad, "");
    }
    auto compiled = std::unique_ptr<CompiledSchema>(new CompiledSchema(std::move(source)));
    try {
      valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
      parser.populateSchema(valijson::adapters::BoostJsonAdapter(compiled->source_),
                            compiled->reporter_);
      if (patterns == Patterns::kCompiled) compiled->CompileDecider();
    } catch (const std::exception& e) {
      return Error::Invalid(std::string("invalid JSON Schema: ") + e.what(), "");
    }
    return compiled;
  }

  // The compiled schemas are only read, so any number of threads may call this at once, each
  // with its own `validator` (which caches the compiled regexes of "pattern").
  Status Validate(const boost::json::value& document, valijson::Validator& validator) const {
    const valijson::adapters::BoostJsonAdapter target(document);
    try {
      // Stops at the first failure, so valid documents (the common case) are checked cheaply;
      // only a failure pays for the full report.
      if (fast_ != nullptr) {
        if (fast_->Accepts(document)) return Status::Ok();
      } else if (validator.validate(decider_ ? *decider_ : reporter_, target, nullptr)) {
        return Status::Ok();
      }
      valijson::ValidationResults results;
      if (validator.validate(reporter_, target, &results)) return Status::Ok();
      return DescribeErrors(results, source_, document);
    } catch (const std::exception& e) {
      return Error::Invalid(std::string("cannot be validated: ") + e.what(), "");
    }
  }

 private:
  explicit CompiledSchema(boost::json::value source) : source_(std::move(source)) {}

  // The accepting path's decider: plain checks when the schema allows, else valijson with
  // compiled patterns. Throws what valijson's parser throws.
  void CompileDecider() {
    fast_ = SchemaDecider::Compile(source_);
    if (fast_ != nullptr) return;
    boost::json::value renamed = source_;
    RenamePatternsIn(renamed);
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    parser.addConstraintBuilder(std::string(kFastPatternKeyword), new FastPatternBuilder);
    decider_.emplace();
    parser.populateSchema(valijson::adapters::BoostJsonAdapter(renamed), *decider_);
  }

  boost::json::value source_;  // kept for error messages that quote the schema
  valijson::Schema reporter_;
  std::unique_ptr<const SchemaDecider> fast_;  // nullptr: a keyword it does not cover
  std::optional<valijson::Schema> decider_;    // when there is no fast_; nullopt: reporter_
};

struct Catalog::Impl {
  struct Entry {
    std::vector<const EventType*> versions;  // oldest first
    const EventType* current = nullptr;
  };
  mutable std::shared_mutex mu;
  // Every version ever installed, and each archived flip as a copy: never erased, so the
  // pointers that Find returned stay valid while newer versions arrive.
  std::deque<EventType> all;                           // guarded by mu
  std::map<int, Entry> by_id;                          // guarded by mu
  std::map<std::string, int, std::less<>> id_by_name;  // guarded by mu

  const EventType* Keep(EventType type) {
    all.push_back(std::move(type));
    return &all.back();
  }
};

namespace {

EventType BuiltinType(const boost::json::object& file, std::size_t index) {
  EventType type;
  type.id = static_cast<int>(Member(file, "id", boost::json::kind::int64, index).as_int64());
  if (type.id != static_cast<int>(index) + 1) {
    CatalogIsBroken(index, "\"id\" must equal the file's position (its two-digit prefix)");
  }
  type.name = Member(file, "name", boost::json::kind::string, index).as_string();
  type.description = Member(file, "description", boost::json::kind::string, index).as_string();
  type.is_inference = Member(file, "isInference", boost::json::kind::bool_, index).as_bool();
  const boost::json::value& schema = Member(file, "schema", boost::json::kind::object, index);
  const boost::json::value& sample = Member(file, "sample", boost::json::kind::object, index);
  const boost::json::value& headers =
      Member(file, "sampleHeaders", boost::json::kind::object, index);
  CheckHeaders(headers.as_object(), index);
  type.schema_json = boost::json::serialize(schema);
  type.sample_json = boost::json::serialize(sample);
  type.sample_headers_json = boost::json::serialize(headers);
  type.builtin = true;
  return type;
}

// `error`, found in the part of a definition at `field`, as the definition's error.
Error Within(std::string_view field, std::string_view what, Error error) {
  Error out = Error::Invalid(std::string(what) + error.message, std::string(field) + error.field);
  out.errors = std::move(error.errors);
  for (FieldError& each : out.errors) each.field = std::string(field) + each.field;
  return out;
}

}  // namespace

Catalog::Catalog() : impl_(std::make_unique<Impl>()) {
  for (std::size_t index = 0; index < kCatalogFiles.size(); ++index) {
    boost::system::error_code ec;
    const boost::json::value parsed = boost::json::parse(kCatalogFiles[index], ec);
    if (ec) CatalogIsBroken(index, "not JSON: " + ec.message());
    if (!parsed.is_object()) CatalogIsBroken(index, "not a JSON object");
    EventType type = BuiltinType(parsed.as_object(), index);
    if (Find(std::string_view(type.name)) != nullptr) {
      CatalogIsBroken(index, "duplicate name " + type.name);
    }
    Result<EventType> prepared = Prepare(std::move(type));
    if (!prepared.ok()) CatalogIsBroken(index, prepared.error().message);
    Install(*prepared);
  }
}

Catalog::~Catalog() = default;

const Catalog& Catalog::Builtin() {
  static const Catalog catalog;
  return catalog;
}

std::vector<EventType> Catalog::types() const {
  std::shared_lock lock(impl_->mu);
  std::vector<EventType> out;
  out.reserve(impl_->by_id.size());
  for (const auto& [id, entry] : impl_->by_id) out.push_back(*entry.current);
  return out;
}

const EventType* Catalog::Find(int id) const {
  std::shared_lock lock(impl_->mu);
  const auto it = impl_->by_id.find(id);
  return it == impl_->by_id.end() ? nullptr : it->second.current;
}

const EventType* Catalog::Find(std::string_view name) const {
  std::shared_lock lock(impl_->mu);
  const auto named = impl_->id_by_name.find(name);
  if (named == impl_->id_by_name.end()) return nullptr;
  return impl_->by_id.at(named->second).current;
}

std::vector<EventType> Catalog::Versions(int id) const {
  std::shared_lock lock(impl_->mu);
  std::vector<EventType> out;
  const auto it = impl_->by_id.find(id);
  if (it == impl_->by_id.end()) return out;
  for (const EventType* version : it->second.versions) out.push_back(*version);
  return out;
}

const EventType* Catalog::FindVersion(int id, int version) const {
  std::shared_lock lock(impl_->mu);
  const auto it = impl_->by_id.find(id);
  if (it == impl_->by_id.end()) return nullptr;
  for (const EventType* each : it->second.versions) {
    if (each->version == version) return each;
  }
  return nullptr;
}

bool Catalog::Has(int id, int version) const { return FindVersion(id, version) != nullptr; }

Result<EventType> Catalog::Prepare(EventType type) {
  boost::system::error_code ec;
  boost::json::value schema = boost::json::parse(type.schema_json, ec);
  if (ec) return Error::Invalid("schema is not JSON", "/schema");
  const boost::json::value sample = boost::json::parse(type.sample_json, ec);
  if (ec) return Error::Invalid("sample is not JSON", "/sample");
  Result<std::unique_ptr<CompiledSchema>> compiled =
      CompiledSchema::Compile(std::move(schema), CompiledSchema::Patterns::kCompiled);
  if (!compiled.ok()) return Within("/schema", "", compiled.error());
  thread_local valijson::Validator validator;
  if (Status s = (*compiled)->Validate(sample, validator); !s.ok()) {
    return Within("/sample", "sample does not match the schema: ", s.error());
  }
  type.compiled = std::shared_ptr<const CompiledSchema>(std::move(compiled).value());
  return type;
}

void Catalog::Install(const EventType& prepared) {
  std::unique_lock lock(impl_->mu);
  Impl::Entry& entry = impl_->by_id[prepared.id];
  for (const EventType* each : entry.versions) {
    if (each->version == prepared.version) return;
  }
  EventType copy = prepared;
  if (entry.current != nullptr) copy.archived = entry.current->archived;
  const EventType* kept = impl_->Keep(std::move(copy));
  const auto later =
      std::find_if(entry.versions.begin(), entry.versions.end(),
                   [&](const EventType* each) { return each->version > kept->version; });
  entry.versions.insert(later, kept);
  if (entry.current == nullptr || kept->version > entry.current->version) entry.current = kept;
  impl_->id_by_name[kept->name] = kept->id;
}

void Catalog::SetArchived(int id, bool archived) {
  std::unique_lock lock(impl_->mu);
  const auto it = impl_->by_id.find(id);
  if (it == impl_->by_id.end() || it->second.current->archived == archived) return;
  EventType flipped = *it->second.current;
  flipped.archived = archived;
  it->second.current = impl_->Keep(std::move(flipped));
}

Status Catalog::Validate(const EventType& type, const boost::json::value& payload) const {
  if (type.compiled == nullptr) {
    return Error::Internal("event type '" + type.name + "' was not prepared by the catalog");
  }
  // One Validator per thread, reused: compiling a pattern's std::regex costs ~100 us, far more
  // than a whole validation, and the cache holds only the catalog's patterns.
  thread_local valijson::Validator validator;
  return type.compiled->Validate(payload, validator);
}

Status ValidateAgainstSchema(const boost::json::value& schema, const boost::json::value& document) {
  Result<std::unique_ptr<CompiledSchema>> compiled =
      CompiledSchema::Compile(schema, CompiledSchema::Patterns::kStdRegex);
  if (!compiled.ok()) return compiled.error();
  valijson::Validator validator;  // not shared: arbitrary schemas would grow a shared cache
  return compiled.value()->Validate(document, validator);
}

}  // namespace webhookd
