// Catalog::Validate decides with compiled pattern checks (catalog.cpp, CompiledSchema) and
// ValidateAgainstSchema with valijson's std::regex: on the samples and on many mutations of
// them they must agree, message for message.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"

namespace webhookd {
namespace {

namespace json = boost::json;

// Replacement values for a leaf: near misses of the catalog's patterns, other types, limits.
std::vector<json::value> LeafReplacements(const json::value& leaf) {
  std::vector<json::value> out = {nullptr,
                                  -1,
                                  1.5,
                                  true,
                                  "",
                                  "x",
                                  json::array{},
                                  json::object{},
                                  "2024-02-30",
                                  "2024-13-01",
                                  "24:00",
                                  "12:60",
                                  "12:30:61",
                                  "2024-05-01T10:00:00",
                                  "2024-05-01T10:00:00.Z",
                                  "a@b",
                                  "a b@c.de",
                                  "a@b.c",
                                  "é",
                                  "😀",
                                  1.0,
                                  std::uint64_t{18'446'744'073'709'551'615U},
                                  std::int64_t{-9'223'372'036'854'775'807}};
  if (const auto* text = leaf.if_string()) {
    const std::string value(*text);
    out.emplace_back(value + "x");
    out.emplace_back(" " + value);
    if (!value.empty()) out.emplace_back(value.substr(0, value.size() - 1));
    // valijson reads strings up to their first NUL.
    out.emplace_back(value + std::string(1, '\0') + "x");
    out.emplace_back(std::string(1, '\0') + value);
  }
  return out;
}

// Calls `visit` with a copy of `document` changed in one place, for every place.
template <class Visit>
void ForEachMutation(const json::value& document, json::value& root, json::value& node,
                     Visit&& visit) {
  if (auto* object = node.if_object()) {
    const std::vector<std::string> keys = [&] {
      std::vector<std::string> names;
      for (const auto& member : *object) names.emplace_back(member.key());
      return names;
    }();
    for (const std::string& key : keys) {
      json::value removed = (*object)[key];
      object->erase(key);
      visit(root);
      (*object)[key] = removed;
      ForEachMutation(document, root, (*object)[key], visit);
    }
    (*object)["unexpectedProperty"] = 1;
    visit(root);
    object->erase("unexpectedProperty");
  } else if (auto* array = node.if_array()) {
    const json::array original = *array;
    array->clear();
    visit(root);
    *array = original;
    if (!array->empty()) {
      array->push_back(array->front());
      visit(root);
      *array = original;
    }
    for (json::value& item : *array) ForEachMutation(document, root, item, visit);
  } else {
    const json::value original = node;
    for (json::value& replacement : LeafReplacements(original)) {
      node = replacement;
      visit(root);
    }
    node = original;
  }
}

TEST(CatalogDifferentialTest, CompiledChecksAndStdRegexAgreeMessageForMessage) {
  int compared = 0;
  int rejected = 0;
  for (const EventType& type : Catalog::Builtin().types()) {
    const json::value schema = json::parse(type.schema_json);
    const json::value sample = json::parse(type.sample_json);
    json::value mutated = sample;
    ForEachMutation(sample, mutated, mutated, [&](const json::value& document) {
      const Status fast = Catalog::Builtin().Validate(type, document);
      const Status reference = ValidateAgainstSchema(schema, document);
      ++compared;
      ASSERT_EQ(fast.ok(), reference.ok()) << type.name << ": " << json::serialize(document);
      if (fast.ok()) return;
      ++rejected;
      EXPECT_EQ(fast.error().kind, reference.error().kind);
      EXPECT_EQ(fast.error().field, reference.error().field) << json::serialize(document);
      EXPECT_EQ(fast.error().message, reference.error().message) << json::serialize(document);
    });
    EXPECT_TRUE(Catalog::Builtin().Validate(type, sample).ok()) << type.name;
  }
  EXPECT_GT(compared, 2'000);
  EXPECT_GT(rejected, 1'000);
}

}  // namespace
}  // namespace webhookd
