// Event ingestion: a JSON body checked against the schema of its event type (catalog/*.json),
// as POST /events does before anything is stored.
// Input: an ingest body, {"eventName": ..., "payload": ...}. Its payload is validated against
// the named type; any other document is validated, whole, against all 12 types. A refusal must
// be Error::Invalid whose field is a JSON pointer to a value of the document, as the API's
// problem+json promises. The payload's text as POST /events stores it (RawMemberText) must
// parse to the payload, for every body the API's parser accepts (api::ParseJsonObject).
#include <boost/json.hpp>
#include <cmath>
#include <limits>

#include "api/json_io.hpp"
#include "catalog/catalog.hpp"
#include "core/json_parse.hpp"
#include "fuzz_input.hpp"

namespace {

using webhookd::fuzz::Broken;

// Boost.JSON 1.81, which has no precise mode, parses a number of more than 17 significant
// digits to a neighbouring double depending on where it ends in the buffer
// (-93.2781128566754798484034742e122 alone and inside {"payload": ...} give two). The stored
// text is the producer's, every digit; only the value the schema checked may differ in its last
// bits.
bool CloseDoubles(double a, double b) {
  constexpr double kUlps = 4 * std::numeric_limits<double>::epsilon();
  return a == b || std::fabs(a - b) <= kUlps * std::fmax(std::fabs(a), std::fabs(b));
}

// Equal, doubles up to CloseDoubles.
bool SameUpToRounding(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_double() && b.is_double()) return CloseDoubles(a.get_double(), b.get_double());
  if (a.kind() != b.kind()) return false;
  if (const boost::json::array* items = a.if_array()) {
    const boost::json::array& others = b.get_array();
    if (items->size() != others.size()) return false;
    for (std::size_t i = 0; i < items->size(); ++i) {
      if (!SameUpToRounding((*items)[i], others[i])) return false;
    }
    return true;
  }
  if (const boost::json::object* members = a.if_object()) {
    const boost::json::object& others = b.get_object();
    if (members->size() != others.size()) return false;
    for (const auto& member : *members) {
      const boost::json::value* other = others.if_contains(member.key());
      if (other == nullptr || !SameUpToRounding(member.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

void ValidateAs(const webhookd::Catalog& catalog, const webhookd::EventType& type,
                const boost::json::value& payload) {
  const webhookd::Status status = catalog.Validate(type, payload);
  if (status.ok()) return;
  if (status.error().kind != webhookd::ErrorKind::kInvalid) Broken("a refusal is not Invalid");
  boost::system::error_code ec;
  if (payload.find_pointer(status.error().field, ec) == nullptr) {
    Broken("a refusal's field does not point into the payload");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  boost::system::error_code ec;
  const std::string_view text = webhookd::fuzz::AsText(data, size);
  const boost::json::value document = boost::json::parse(text, ec);
  if (ec) return 0;
  const webhookd::Catalog& catalog = webhookd::Catalog::Builtin();
  const boost::json::object* body = document.if_object();
  const boost::json::value* name = body != nullptr ? body->if_contains("eventName") : nullptr;
  const boost::json::value* payload = body != nullptr ? body->if_contains("payload") : nullptr;
  const webhookd::EventType* type = name != nullptr && name->is_string()
                                        ? catalog.Find(std::string_view(name->get_string()))
                                        : nullptr;
  // A body the API refuses (e.g. 0e400, which 1.81 reads as NaN: no number that is not finite
  // gets past ParseJsonObject) is never stored.
  const auto raw = webhookd::api::ParseJsonObject(text).ok()
                       ? webhookd::RawMemberText(text, "payload")
                       : std::nullopt;
  if (raw) {
    const boost::json::value reparsed = boost::json::parse(*raw, ec);
    if (ec || payload == nullptr || !SameUpToRounding(reparsed, *payload))
      Broken("the payload's text is not it");
  }
  if (type != nullptr && payload != nullptr) {
    ValidateAs(catalog, *type, *payload);
    return 0;
  }
  for (const webhookd::EventType& each : catalog.types()) ValidateAs(catalog, each, document);
  return 0;
}
