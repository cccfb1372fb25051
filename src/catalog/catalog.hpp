// The catalog of event types: name, description, JSON Schema (draft-07) of the payload, a
// sample payload and the sample headers a receiver sees. The 12 Azodha types are built in
// (catalog/*.json, compiled into the binary); more types, and new versions of any type, are
// data that the API stores and installs here (docs/event-types.md). Every (type, version) has
// its schema compiled once, when it is installed; validation never compiles.
#pragma once

#include <boost/json/fwd.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace webhookd {

class CompiledSchema;  // catalog.cpp

// One version of one event type. Immutable once installed in a Catalog.
struct EventType {
  int id = 0;  // webhookEventId: 1..12 for the built-in types, in the seed document's order
  std::string name;
  std::string description;
  // The receiver's response body is the result (observations, key findings, care tasks).
  bool is_inference = false;
  std::string schema_json;          // serialized JSON Schema
  std::string sample_json;          // serialized sample payload
  std::string sample_headers_json;  // serialized object of string -> string
  int version = 1;                  // 1 for a built-in type as compiled in
  bool builtin = false;
  // No new configurations or events; deliveries already accepted still go out.
  bool archived = false;
  // Set by Catalog::Prepare; shared by the copies of this version.
  std::shared_ptr<const CompiledSchema> compiled;
};

// The highest webhookEventId a type may have.
inline constexpr int kMaxEventTypeId = 1000;

// The catalog. Thread-safe: any number of threads may read while one installs. Pointers it
// returns stay valid for its lifetime (every installed version is kept, so that an event
// validated against a version can still be described after a newer one arrives).
class Catalog {
 public:
  // A catalog of the built-in types, to which stored types and versions may be installed.
  Catalog();
  // The built-in types only, never changed. Parsed on first use.
  static const Catalog& Builtin();

  // The current version of every type, archived ones included, ordered by id.
  std::vector<EventType> types() const;
  // The current version; archived types are found too. nullptr if unknown.
  const EventType* Find(int id) const;
  const EventType* Find(std::string_view name) const;  // exact, case-sensitive
  // Every installed version of the type, oldest first; empty if unknown.
  std::vector<EventType> Versions(int id) const;
  const EventType* FindVersion(int id, int version) const;  // nullptr if unknown

  // Compiles `type`'s schema and checks its sample against it: the type with `compiled` set,
  // or Error::Invalid whose field points into the definition ("/schema", "/sample/count").
  static Result<EventType> Prepare(EventType type);
  // Makes a prepared type (or version) known; one already installed is left as it is. A version
  // newer than the type's current one becomes current, keeping the type's archived flag.
  void Install(const EventType& prepared);
  // Archives (or restores) the type's current version; unknown ids are ignored.
  void SetArchived(int id, bool archived);
  // Whether (id, version) is installed, so that a caller can skip preparing it again.
  bool Has(int id, int version) const;

  // Checks `payload` against the type's schema. On failure, Error::Invalid whose field is the
  // JSON pointer of the first failing location and whose message names the rule that failed;
  // its `errors` list every failing location so (the first one first, at most 20).
  Status Validate(const EventType& type, const boost::json::value& payload) const;

  ~Catalog();
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Checks `document` against the draft-07 JSON Schema `schema`, compiled for this call only
// (Catalog::Validate reuses its compiled schemas), with Catalog::Validate's error conventions:
//   field   the JSON pointer (RFC 6901) of the first failing value: the object itself for a
//           missing required property ("" at the root), else the offending value ("/count").
//   errors  every failure as {field, message}, the first being field and message; at most 20.
//   message names the rule: "missing required property 'fileId'",
//           "expected type integer, got string", "must be one of [\"application/pdf\"]",
//           "must equal \"HealthRecordCounter\"", "must match pattern ^...$",
//           "must be >= 0", "must be at least 1 characters long", ...
// A schema that cannot be compiled is Error::Invalid with field "" and a message saying why.
Status ValidateAgainstSchema(const boost::json::value& schema, const boost::json::value& document);

}  // namespace webhookd
