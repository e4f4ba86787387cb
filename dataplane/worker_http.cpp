// An HTTP listener's connection until it is routed: read the request head, route by its
// Host, and either connect to the route's HTTP target (then the shared connect/preamble path
// sends the bytes read so far, the head included, unchanged), redirect to HTTPS when the route
// has no HTTP target, or answer 400/404/431 and close. The first request's Host decides the
// whole connection: later requests on it go to the same target whatever their Host says.
#include <cstring>

#include "common/hostname.h"
#include "common/http_head.h"
#include "common/log.h"
#include "dataplane/clienthello.h"
#include "dataplane/http_answers.h"
#include "dataplane/worker.h"

namespace cloudlink::dataplane {

void Worker::on_http_head(uint32_t slot) {
  Connection& c = conn(slot);
  const std::span<const uint8_t> data(c.hello.get() + kHelloHeadroom, c.hello_length);
  const http::HeadResult head = http::parse_request_head(data);
  switch (head.status) {
    case http::HeadStatus::kNeedMore:
      if (c.hello_length < http::kMaxRequestHeadBytes) {
        submit_hello_recv(slot);
        return;
      }
      [[fallthrough]];  // cannot happen (the reader says kTooLarge at the cap); stay safe
    case http::HeadStatus::kTooLarge:
      answer_http(slot, CloseResult::kBadRequest, http_answer(HttpAnswer::kHeadTooLarge));
      return;
    case http::HeadStatus::kMalformed:
      answer_http(slot, CloseResult::kBadRequest, http_answer(HttpAnswer::kBadRequest));
      return;
    case http::HeadStatus::kComplete:
      break;
  }
  metrics_.hello_wait().Observe(static_cast<double>(now_ns_ - c.accepted_ns) / 1e9);
  hello_deadlines_.remove(slot);
  c.sni_length = static_cast<uint8_t>(normalize_hostname(head.host, c.sni));
  if (c.sni_length == 0) {
    // No Host (HTTP/1.0), an IP literal, or a name that breaks the hostname rules.
    answer_http(slot, CloseResult::kBadRequest, http_answer(HttpAnswer::kBadRequest));
    return;
  }
  route_http_request(slot, head.target);
}

void Worker::route_http_request(uint32_t slot, std::string_view target) {
  Connection& c = conn(slot);
  switch (reader_->lookup(c.sni_view(), c.route)) {
    case LookupStatus::kFound:
      break;
    case LookupStatus::kNotFound:
      answer_http(slot, CloseResult::kUnknownHost, http_answer(HttpAnswer::kNotFound));
      return;
    case LookupStatus::kError:
      log_error("route lookup for %.*s: %s", static_cast<int>(c.sni_length), c.sni,
                reader_->last_error());
      answer_http(slot, CloseResult::kRouteError, http_answer(HttpAnswer::kUnavailable));
      return;
  }
  if (c.route.http_target.empty()) {
    // The redirect is written after the request head in the same buffer (the head uses at
    // most half of it), so it lives until the send completes.
    const size_t used = kHelloHeadroom + c.hello_length;
    std::span<char> room(reinterpret_cast<char*>(c.hello.get()) + used,
                         kHelloHeadroom + tls::kMaxClientHelloBytes - used);
    const size_t length = write_https_redirect(c.sni_view(), target, room);
    if (length == 0) {
      answer_http(slot, CloseResult::kBadRequest, http_answer(HttpAnswer::kUriTooLong));
      return;
    }
    answer_http(slot, CloseResult::kRedirected, {room.data(), length});
    return;
  }
  start_route(slot);
}

void Worker::answer_http(uint32_t slot, CloseResult result, std::string_view response) {
  reject(slot, result, reinterpret_cast<const uint8_t*>(response.data()),
         static_cast<uint32_t>(response.size()));
}

}  // namespace cloudlink::dataplane
