// How the server writes a Response on the wire (RFC 9112): the status line and header block
// as one string, sent with the body in one write. Beast's message and serializer did this
// before, at a cost per response (a heap node per header field, a copy of the body, a
// type-erased buffer sequence walked field by field) that showed as a seventh of each HTTP
// worker's CPU under load (docs/benchmarks.md, sixteenth session).
#pragma once

#include <string>
#include <string_view>

#include "api/http_message.hpp"

namespace webhookd::api {

// The status line and headers of `response`, ending with the blank line. `version` is the
// request's (10 or 11). Content-Length is the body's size also when the request was a HEAD. The
// header order is Beast's: Server, Content-Type, the handler's headers, Connection, Content-Length.
// A handler header that would break the framing or repeat one of the server's (Server,
// Content-Type, Content-Length, Connection, Transfer-Encoding), or whose name or value holds a CR,
// LF or NUL, is left out.
std::string ResponseHead(const Response& response, unsigned version, bool keep_alive);

// What follows the head: the body, or nothing for a HEAD request and for the statuses that
// have no body (1xx, 204, 304).
std::string_view ResponseBody(const Response& response, bool head_only);

}  // namespace webhookd::api
