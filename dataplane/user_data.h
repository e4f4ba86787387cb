// The one encoding of io_uring user_data: which operation completed, for which connection slot,
// and the slot's generation, so a completion that arrives after its slot was reused is ignored.
#pragma once

#include <cstdint>

namespace cloudlink::dataplane {

enum class Op : uint8_t {
  kAccept = 1,    // slot = listener index
  kTick,          // the worker's periodic timer
  kHelloRecv,     // client -> hello buffer
  kAlertSend,     // TLS alert to a rejected client
  kConnect,       // connect to a target
  kPreambleSend,  // PROXY header + ClientHello to the target
  kCopyRecv,      // relay_copy: recv with a provided buffer; dir in `aux`
  kCopySend,      // relay_copy: send a filled buffer; dir in `aux`
  kSplicePoll,    // relay_splice: poll a socket; dir/which in `aux`
  kSockmapPoll,   // relay_sockmap: watch a socket for FIN/RST/errors; dir in `aux`
  kSockmapRetry,  // relay_sockmap: re-check the copy lane or a FIN waiting for bytes; dir in `aux`
  kSockmapLaneSend,  // relay_sockmap: send bytes the copy lane read; dir in `aux`
  kCancel,           // an async cancel request: its completion carries no state
};

struct UserData {
  Op op;
  uint8_t aux;          // op-specific (direction)
  uint16_t generation;  // slot generation when the op was submitted
  uint32_t slot;
};

inline uint64_t encode_user_data(Op op, uint8_t aux, uint16_t generation, uint32_t slot) {
  return (uint64_t{static_cast<uint8_t>(op)} << 56) | (uint64_t{aux} << 48) |
         (uint64_t{generation} << 32) | slot;
}

inline UserData decode_user_data(uint64_t v) {
  return UserData{static_cast<Op>(v >> 56), static_cast<uint8_t>(v >> 48),
                  static_cast<uint16_t>(v >> 32), static_cast<uint32_t>(v)};
}

}  // namespace cloudlink::dataplane
