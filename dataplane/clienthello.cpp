// Two layers, both strict:
//  1. the record layer: handshake records (type 22), each at most 2^14 bytes, whose fragments
//     are joined into one handshake stream (in scratch only when there is more than one record);
//  2. the ClientHello body, read with a cursor that knows two ends: the end the lengths declare
//     and the end of the bytes received. Passing the declared end is malformed; passing the
//     received end only means "read more". So a prefix gets kNeedMore only while every length
//     seen so far is consistent, and a lie is caught as soon as its bytes are in.
#include "dataplane/clienthello.h"

#include <algorithm>
#include <cstring>

namespace cloudlink::tls {
namespace {

constexpr uint8_t kHandshakeRecord = 22;
constexpr uint8_t kClientHelloType = 1;
constexpr size_t kRecordHeaderSize = 5;
constexpr size_t kHandshakeHeaderSize = 4;
constexpr size_t kMaxRecordFragment = size_t{1} << 14;  // RFC 8446 5.1
constexpr uint16_t kServerNameExtension = 0;
constexpr uint8_t kHostNameType = 0;
constexpr size_t kMaxSessionId = 32;

HelloResult status_only(HelloStatus status, const char* reason) {
  HelloResult r;
  r.status = status;
  r.reason = reason;
  return r;
}

enum class Step : uint8_t { kOk, kNeedMore, kMalformed };

// A window over the handshake stream: [pos, end) is what the enclosing length declares;
// bytes at or past `received` have not arrived yet.
class Cursor {
 public:
  Cursor(const uint8_t* base, size_t pos, size_t end, size_t received)
      : base_(base), pos_(pos), end_(end), received_(received) {}

  size_t remaining_declared() const { return end_ - pos_; }
  bool at_end() const { return pos_ == end_; }

  // Claims n bytes; Step::kOk only when they are inside the declared end and received.
  Step take(size_t n, const uint8_t** out) {
    if (n > end_ - pos_) return Step::kMalformed;
    if (pos_ + n > received_) return Step::kNeedMore;
    *out = base_ + pos_;
    pos_ += n;
    return Step::kOk;
  }

  Step skip(size_t n) {
    if (n > end_ - pos_) return Step::kMalformed;
    pos_ += n;  // skipped bytes need not have arrived; a later take() checks `received`
    return Step::kOk;
  }

  Step u8(size_t* value) {
    const uint8_t* p = nullptr;
    const Step s = take(1, &p);
    if (s == Step::kOk) *value = p[0];
    return s;
  }

  Step u16(size_t* value) {
    const uint8_t* p = nullptr;
    const Step s = take(2, &p);
    if (s == Step::kOk) *value = (size_t{p[0]} << 8) | p[1];
    return s;
  }

  // A sub-window of n bytes that must fit in this one's declared end; this cursor moves past it.
  Step sub(size_t n, Cursor* out) {
    if (n > end_ - pos_) return Step::kMalformed;
    *out = Cursor(base_, pos_, pos_ + n, received_);
    pos_ += n;
    return Step::kOk;
  }

 private:
  const uint8_t* base_;
  size_t pos_;
  size_t end_;
  size_t received_;
};

struct BodyResult {
  Step step = Step::kOk;
  const char* reason = "";
  std::string_view server_name;
};

BodyResult fail(Step step, const char* reason) {
  BodyResult r;
  r.step = step;
  r.reason = step == Step::kMalformed ? reason : "";
  return r;
}

#define CLOUDLINK_TRY(expr, why)                       \
  do {                                                 \
    const Step step_ = (expr);                         \
    if (step_ != Step::kOk) return fail(step_, (why)); \
  } while (0)

// server_name extension body (RFC 6066 3): ServerNameList <1..2^16-1> of
// {NameType name_type; opaque HostName<1..2^16-1>}. Only host_name (0) is defined; every
// defined variant has that shape, so other types are skipped the same way.
BodyResult parse_server_name(Cursor ext) {
  size_t list_length = 0;
  CLOUDLINK_TRY(ext.u16(&list_length), "server_name list length");
  if (list_length == 0) return fail(Step::kMalformed, "empty server_name list");
  if (list_length != ext.remaining_declared()) {
    return fail(Step::kMalformed, "server_name list length disagrees with extension length");
  }
  BodyResult found;
  bool have_host_name = false;
  while (!ext.at_end()) {
    size_t name_type = 0;
    size_t name_length = 0;
    CLOUDLINK_TRY(ext.u8(&name_type), "server_name entry truncated");
    CLOUDLINK_TRY(ext.u16(&name_length), "server_name entry truncated");
    if (name_length == 0) return fail(Step::kMalformed, "zero-length server name");
    const uint8_t* name = nullptr;
    CLOUDLINK_TRY(ext.take(name_length, &name), "server name overruns its list");
    if (name_type != kHostNameType) continue;
    // RFC 6066: the list MUST NOT contain more than one name of the same name_type.
    if (have_host_name) return fail(Step::kMalformed, "two host_name entries");
    have_host_name = true;
    found.server_name = std::string_view(reinterpret_cast<const char*>(name), name_length);
  }
  return found;
}

// ClientHello body (RFC 8446 4.1.2), from legacy_version to the end of extensions.
BodyResult parse_body(Cursor body) {
  const uint8_t* version = nullptr;
  CLOUDLINK_TRY(body.take(2, &version), "ClientHello shorter than its version");
  if (version[0] != 3) return fail(Step::kMalformed, "ClientHello version is not 3.x");
  CLOUDLINK_TRY(body.skip(32), "ClientHello shorter than its random");

  size_t session_id_length = 0;
  CLOUDLINK_TRY(body.u8(&session_id_length), "ClientHello truncated at session id");
  if (session_id_length > kMaxSessionId) return fail(Step::kMalformed, "session id over 32 bytes");
  CLOUDLINK_TRY(body.skip(session_id_length), "session id overruns the ClientHello");

  size_t cipher_suites_length = 0;
  CLOUDLINK_TRY(body.u16(&cipher_suites_length), "ClientHello truncated at cipher suites");
  if (cipher_suites_length < 2 || cipher_suites_length % 2 != 0) {
    return fail(Step::kMalformed, "cipher suites length is not a positive even number");
  }
  CLOUDLINK_TRY(body.skip(cipher_suites_length), "cipher suites overrun the ClientHello");

  size_t compression_length = 0;
  CLOUDLINK_TRY(body.u8(&compression_length), "ClientHello truncated at compression methods");
  if (compression_length < 1) return fail(Step::kMalformed, "no compression methods");
  CLOUDLINK_TRY(body.skip(compression_length), "compression methods overrun the ClientHello");

  // Extensions are optional before TLS 1.3: a body that ends here has no SNI.
  if (body.at_end()) return BodyResult{};

  size_t extensions_length = 0;
  CLOUDLINK_TRY(body.u16(&extensions_length), "ClientHello truncated at extensions");
  if (extensions_length != body.remaining_declared()) {
    return fail(Step::kMalformed, "extensions length disagrees with ClientHello length");
  }
  BodyResult found;
  bool have_server_name = false;
  while (!body.at_end()) {
    size_t type = 0;
    size_t length = 0;
    CLOUDLINK_TRY(body.u16(&type), "extension header truncated");
    CLOUDLINK_TRY(body.u16(&length), "extension header truncated");
    Cursor ext(nullptr, 0, 0, 0);
    CLOUDLINK_TRY(body.sub(length, &ext), "extension overruns the extensions block");
    if (type != kServerNameExtension) continue;
    if (have_server_name) return fail(Step::kMalformed, "two server_name extensions");
    have_server_name = true;
    found = parse_server_name(ext);
    if (found.step != Step::kOk) return found;
  }
  return found;
}

#undef CLOUDLINK_TRY

}  // namespace

HelloResult parse_client_hello(std::span<const uint8_t> data, std::span<uint8_t> scratch) {
  // The handshake stream: fragment of the first record in place, or joined in scratch once a
  // second record is seen.
  const uint8_t* stream = nullptr;
  size_t stream_length = 0;
  bool joined = false;
  size_t message_length = 0;  // handshake header + body; 0 until the header is in
  bool message_complete = false;

  size_t pos = 0;
  for (size_t record = 0; pos < data.size() && !message_complete; ++record) {
    const size_t header_have = std::min(data.size() - pos, kRecordHeaderSize);
    const uint8_t* header = data.data() + pos;
    if (header[0] != kHandshakeRecord) {
      return record == 0
                 ? status_only(HelloStatus::kNotTls, "first record is not a TLS handshake")
                 : status_only(HelloStatus::kMalformed, "non-handshake record inside ClientHello");
    }
    if (header_have >= 2 && header[1] != 3) {
      return record == 0 ? status_only(HelloStatus::kNotTls, "record version is not 3.x")
                         : status_only(HelloStatus::kMalformed, "record version is not 3.x");
    }
    // Not `return kNeedMore`: the handshake bytes already joined must still be checked.
    if (header_have < kRecordHeaderSize) break;
    const size_t fragment_length = (size_t{header[3]} << 8) | header[4];
    if (fragment_length == 0) {
      return status_only(HelloStatus::kMalformed, "zero-length handshake record");
    }
    if (fragment_length > kMaxRecordFragment) {
      return status_only(HelloStatus::kMalformed, "record longer than 2^14 bytes");
    }
    // The cap counts record headers too: many small records cannot stretch it.
    if (pos + kRecordHeaderSize + fragment_length > kMaxClientHelloBytes) {
      return status_only(HelloStatus::kTooLarge, "ClientHello records over 16 KiB");
    }
    const size_t fragment_have = std::min(fragment_length, data.size() - pos - kRecordHeaderSize);
    const uint8_t* fragment = header + kRecordHeaderSize;

    if (record == 0) {
      stream = fragment;
      stream_length = fragment_have;
    } else {
      if (!joined) {
        if (stream_length > scratch.size()) {
          return status_only(HelloStatus::kTooLarge, "ClientHello over 16 KiB");
        }
        std::memcpy(scratch.data(), stream, stream_length);
        stream = scratch.data();
        joined = true;
      }
      if (fragment_have > scratch.size() - stream_length) {
        return status_only(HelloStatus::kTooLarge, "ClientHello over 16 KiB");
      }
      std::memcpy(scratch.data() + stream_length, fragment, fragment_have);
      stream_length += fragment_have;
    }
    pos += kRecordHeaderSize + fragment_have;

    if (stream_length >= 1 && stream[0] != kClientHelloType) {
      return status_only(HelloStatus::kMalformed, "first handshake message is not ClientHello");
    }
    if (message_length == 0 && stream_length >= kHandshakeHeaderSize) {
      const size_t body_length =
          (size_t{stream[1]} << 16) | (size_t{stream[2]} << 8) | size_t{stream[3]};
      message_length = kHandshakeHeaderSize + body_length;
      // At least one record header precedes the message within the byte cap.
      if (message_length > kMaxClientHelloBytes - kRecordHeaderSize) {
        return status_only(HelloStatus::kTooLarge, "ClientHello over 16 KiB");
      }
    }
    if (message_length != 0 && stream_length >= message_length) {
      // The ClientHello ends inside this record; it must also end the record, since no other
      // handshake message may follow it in the client's first flight.
      if (fragment_have < fragment_length || stream_length > message_length) {
        return status_only(HelloStatus::kMalformed, "handshake record continues past ClientHello");
      }
      message_complete = true;
    }
  }

  if (message_length == 0) return status_only(HelloStatus::kNeedMore, "");

  const size_t received = std::min(stream_length, message_length);
  const BodyResult body =
      parse_body(Cursor(stream, kHandshakeHeaderSize, message_length, received));
  switch (body.step) {
    case Step::kMalformed:
      return status_only(HelloStatus::kMalformed, body.reason);
    case Step::kNeedMore:
      return status_only(HelloStatus::kNeedMore, "");
    case Step::kOk:
      break;
  }
  if (!message_complete) {
    // Every length checked out but trailing bytes (skipped ones) have not all arrived.
    return status_only(HelloStatus::kNeedMore, "");
  }
  HelloResult result;
  result.status = HelloStatus::kComplete;
  result.server_name = body.server_name;
  return result;
}

}  // namespace cloudlink::tls
