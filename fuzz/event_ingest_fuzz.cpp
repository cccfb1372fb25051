// Event ingestion: a JSON body checked against the schema of its event type (catalog/*.json),
// as POST /events does before anything is stored.
// Input: an ingest body, {"eventName": ..., "payload": ...}. Its payload is validated against
// the named type; any other document is validated, whole, against all 12 types. A refusal must
// be Error::Invalid whose field is a JSON pointer to a value of the document, as the API's
// problem+json promises. The payload's text as POST /events stores it (RawMemberText) must
// parse to the payload.
#include <boost/json.hpp>

#include "catalog/catalog.hpp"
#include "core/json_parse.hpp"
#include "fuzz_input.hpp"

namespace {

using webhookd::fuzz::Broken;

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
  if (const auto raw = webhookd::RawMemberText(text, "payload")) {
    const boost::json::value reparsed = boost::json::parse(*raw, ec);
    if (ec || payload == nullptr || reparsed != *payload) Broken("the payload's text is not it");
  }
  if (type != nullptr && payload != nullptr) {
    ValidateAs(catalog, *type, *payload);
    return 0;
  }
  for (const webhookd::EventType& each : catalog.types()) ValidateAs(catalog, each, document);
  return 0;
}
