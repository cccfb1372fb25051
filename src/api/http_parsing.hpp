// How the server reads an HTTP/1.1 request beyond what Beast's parser does: the framing rules
// it adds (RFC 9112), the conversion to the plain Request handlers see, and the answer owed to
// a request that cannot be read. Apart from server.cpp so that the HTTP fuzz target
// (fuzz/http_request_fuzz.cpp) runs these same functions on raw bytes, without sockets.
#pragma once

#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <optional>
#include <string_view>

#include "api/http_message.hpp"

namespace webhookd::api {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;

// The largest request header the server reads.
inline constexpr std::size_t kMaxHeaderBytes = 16 * 1024;

// Requests refused for how they are framed, beyond what Beast itself refuses (RFC 9112).
enum class FramingError {
  kObsoleteLineFolding = 1,
  kUnsupportedTransferCoding,
  kTransferEncodingWithContentLength,
  kTransferEncodingInHttp10,
};
boost::beast::error_code MakeError(FramingError error);

// The raw header bytes in `buffer`: up to and including the blank line that ends the header,
// or everything when it has not arrived yet.
std::string_view HeaderBytes(const boost::beast::flat_buffer& buffer);

// Beast joins a folded header line to the line before it; RFC 9112 §5.2 lets a server refuse
// it instead, which removes one way for two parsers to disagree about a header.
bool HasObsoleteLineFolding(std::string_view header);

// Checks a parsed header's Transfer-Encoding and Content-Length before the body is read; a
// FramingError when they could let a body be read as the next request.
boost::beast::error_code CheckFraming(const BeastRequest& request);

// Converts Beast's request into the plain Request handlers see, moving its body there (a
// copy per request otherwise). nullopt: unusable target.
std::optional<Request> ToRequest(BeastRequest& in);

// The answer owed to a client whose request could not be read, or nullopt when there is no one
// to answer (the connection closed, timed out or was cancelled).
std::optional<Response> RefusalFor(const boost::beast::error_code& ec, std::size_t max_body_bytes);

}  // namespace webhookd::api
