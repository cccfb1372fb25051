#include "api/http_parsing.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/url/parse.hpp>
#include <string>
#include <vector>

#include "api/problem.hpp"
#include "core/text.hpp"

namespace webhookd::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

class FramingCategory : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "webhookd.framing"; }
  std::string message(int value) const override {
    switch (static_cast<FramingError>(value)) {
      case FramingError::kObsoleteLineFolding:
        return "a header line starts with a space or tab (obsolete line folding is not "
               "accepted)";
      case FramingError::kUnsupportedTransferCoding:
        return "the only transfer coding accepted is 'chunked', alone";
      case FramingError::kTransferEncodingWithContentLength:
        return "a request cannot have both Transfer-Encoding and Content-Length";
      case FramingError::kTransferEncodingInHttp10:
        return "HTTP/1.0 requests cannot use Transfer-Encoding";
    }
    return "malformed request framing";
  }
};

// The transfer codings of all Transfer-Encoding fields, in order, without empty list elements.
std::vector<std::string_view> TransferCodings(const BeastRequest& request) {
  std::vector<std::string_view> codings;
  auto [field, end] = request.equal_range(http::field::transfer_encoding);
  for (; field != end; ++field) {
    std::string_view list = field->value();
    while (!list.empty()) {
      const std::size_t comma = list.find(',');
      const std::string_view element = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      const std::size_t first = element.find_first_not_of(" \t");
      if (first == std::string_view::npos) continue;
      codings.push_back(element.substr(first, element.find_last_not_of(" \t") - first + 1));
    }
  }
  return codings;
}

}  // namespace

beast::error_code MakeError(FramingError error) {
  static const FramingCategory category;
  return {static_cast<int>(error), category};
}

std::string_view HeaderBytes(const beast::flat_buffer& buffer) {
  const std::string_view data(static_cast<const char*>(buffer.data().data()), buffer.size());
  const std::size_t end = data.find("\r\n\r\n");
  return end == std::string_view::npos ? data : data.substr(0, end + 4);
}

bool HasObsoleteLineFolding(std::string_view header) {
  return header.find("\r\n ") != std::string_view::npos ||
         header.find("\r\n\t") != std::string_view::npos;
}

// RFC 9112 §6.3: a request body is delimited by Content-Length or by a final 'chunked' coding;
// anything else would leave the body to be read as the next request (request smuggling). Beast
// reads an unknown coding as "no body", so the header is checked before the body is read.
// Other codings (gzip) are not decoded, so 'chunked' must be the only one.
beast::error_code CheckFraming(const BeastRequest& request) {
  if (request.count(http::field::transfer_encoding) == 0) return {};
  if (request.version() < 11) return MakeError(FramingError::kTransferEncodingInHttp10);
  if (request.count(http::field::content_length) > 0) {
    return MakeError(FramingError::kTransferEncodingWithContentLength);
  }
  const std::vector<std::string_view> codings = TransferCodings(request);
  if (codings.size() != 1 || !beast::iequals(codings.front(), "chunked")) {
    return MakeError(FramingError::kUnsupportedTransferCoding);
  }
  return {};
}

std::optional<Request> ToRequest(BeastRequest& in) {
  auto target = boost::urls::parse_origin_form(in.target());
  if (!target) return std::nullopt;
  Request out;
  out.method = std::string(in.method_string());
  out.path = std::string(target->path());
  for (auto param : target->params()) out.query[param.key] = param.value;
  for (const auto& field : in) {
    out.headers.emplace_back(Lowercase(field.name_string()), std::string(field.value()));
  }
  out.body = std::move(in.body());
  return out;
}

std::optional<Response> RefusalFor(const beast::error_code& ec, std::size_t max_body_bytes) {
  if (ec == http::error::body_limit) {
    return ProblemResponse(Error::TooLarge("the request body is larger than " +
                                           std::to_string(max_body_bytes) + " bytes"));
  }
  const bool framing = ec.category() == MakeError(FramingError::kObsoleteLineFolding).category();
  if (framing && ec != MakeError(FramingError::kObsoleteLineFolding)) {
    return ProblemResponse(Error::Invalid(ec.message(), "Transfer-Encoding"));
  }
  const auto& http_category = http::make_error_code(http::error::bad_target).category();
  if (framing || (ec.category() == http_category && ec != http::error::end_of_stream &&
                  ec != http::error::partial_message)) {
    return ProblemResponse(Error::Invalid("malformed HTTP request: " + ec.message()));
  }
  return std::nullopt;
}

}  // namespace webhookd::api
