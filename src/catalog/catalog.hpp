// The catalog of the 12 Azodha event types: name, description, JSON Schema (draft-07) of the
// payload, a sample payload and the sample headers a receiver sees. The data lives in
// catalog/*.json and is compiled into the binary; it is parsed and its schemas compiled once.
#pragma once

#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace webhookd {

struct EventType {
  int id = 0;  // 1..12, in the seed document's order
  std::string name;
  std::string description;
  // The receiver's response body is the result (observations, key findings, care tasks).
  bool is_inference = false;
  std::string schema_json;          // serialized JSON Schema
  std::string sample_json;          // serialized sample payload
  std::string sample_headers_json;  // serialized object of string -> string
};

class Catalog {
 public:
  // The built-in catalog. Parsed on first use; thread-safe.
  static const Catalog& Builtin();

  const std::vector<EventType>& types() const;
  const EventType* Find(int id) const;                 // nullptr if unknown
  const EventType* Find(std::string_view name) const;  // exact, case-sensitive

  // Checks `payload` against the type's schema. On failure, Error::Invalid whose field is the
  // JSON pointer of the first failing location and whose message names the rule that failed;
  // its `errors` list every failing location so (the first one first, at most 20).
  Status Validate(const EventType& type, const boost::json::value& payload) const;

  ~Catalog();
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

 private:
  struct Impl;
  Catalog();
  Impl* impl_;
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
