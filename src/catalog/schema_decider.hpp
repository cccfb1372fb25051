// A JSON Schema compiled to a tree of plain checks that answers one question: does valijson
// (draft-07, strict types, as CompiledSchema uses it) accept this document? It exists because
// nearly every event is valid, and valijson spends ~5 us on a 1 KB payload (adapters, context
// strings, allocations) where walking the document once costs well under one.
//
// It covers the keywords the catalog's schemas use: type, properties, required,
// additionalProperties, items (one schema), const and enum (of strings, booleans or null),
// pattern, minLength, maxLength, minimum, maximum, minItems, maxItems; annotations
// (title, description, $schema, definitions, ...) are ignored as valijson ignores them. A schema
// with any other keyword that constrains values ($ref, anyOf, format, ...) gets no decider and
// is decided by valijson.
//
// Accepts() may answer false where valijson would accept (an integer beyond int64 where a
// subschema applies to it: valijson's strict types judge it oddly): false only means "ask
// valijson", which then gives the verdict and the message. It never answers true where valijson
// would reject (tests/unit/catalog/ schema_decider_test.cpp and catalog_differential_test.cpp
// compare them).
#pragma once

#include <boost/json/fwd.hpp>
#include <memory>
#include <vector>

namespace webhookd {

class SchemaDecider {
 public:
  // nullptr when `schema` uses a keyword this decider does not cover, or a keyword's value is
  // not of the form it expects.
  static std::unique_ptr<const SchemaDecider> Compile(const boost::json::value& schema);

  // Thread-safe (only reads).
  bool Accepts(const boost::json::value& document) const;

  struct Node;  // schema_decider.cpp
  ~SchemaDecider();

 private:
  SchemaDecider();
  std::vector<Node> nodes_;  // nodes_[0] is the root; subschemas refer to others by index
};

}  // namespace webhookd
