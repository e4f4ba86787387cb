#include "bench/load/client_hello_builder.h"

#include <initializer_list>

namespace cloudlink::bench {
namespace {

// splitmix64: fills the fields a real client draws at random.
uint64_t next_random(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) {
    u8(static_cast<uint8_t>(v >> 8));
    u8(static_cast<uint8_t>(v));
  }
  void u16s(std::initializer_list<uint16_t> values) {
    for (uint16_t v : values) u16(v);
  }
  void bytes(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }
  void random(size_t count, uint64_t& state) {
    for (size_t i = 0; i < count; ++i) u8(static_cast<uint8_t>(next_random(state)));
  }
  // Reserves a big-endian length field of `width` bytes; close() fills in what followed it.
  size_t open(int width) {
    size_t at = out_.size();
    for (int i = 0; i < width; ++i) u8(0);
    return at;
  }
  void close(size_t at, int width) {
    size_t length = out_.size() - at - width;
    for (int i = 0; i < width; ++i) {
      out_[at + i] = static_cast<uint8_t>(length >> (8 * (width - 1 - i)));
    }
  }

 private:
  std::vector<uint8_t>& out_;
};

void write_extensions(Writer& w, std::string_view server_name, uint64_t& state) {
  w.u16(0x0000);  // server_name (RFC 6066 section 3)
  size_t ext = w.open(2);
  size_t list = w.open(2);
  w.u8(0);  // host_name
  size_t name = w.open(2);
  w.bytes(server_name);
  w.close(name, 2);
  w.close(list, 2);
  w.close(ext, 2);

  w.u16s({0x000b, 2});  // ec_point_formats: uncompressed
  w.u8(1);
  w.u8(0);
  w.u16s({0x000a, 8, 6, 0x001d, 0x0017, 0x0018});  // supported_groups: x25519, P-256, P-384
  w.u16s({0x000d, 14, 12, 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501});  // sig algs
  w.u16s({0x0010, 14, 12});                                                  // ALPN: h2, http/1.1
  w.u8(2);
  w.bytes("h2");
  w.u8(8);
  w.bytes("http/1.1");
  w.u16s({0x0017, 0});  // extended_master_secret
  w.u16s({0x002b, 5});  // supported_versions: TLS 1.3, TLS 1.2
  w.u8(4);
  w.u16s({0x0304, 0x0303});
  w.u16s({0x002d, 2});  // psk_key_exchange_modes: psk_dhe_ke
  w.u8(1);
  w.u8(1);
  w.u16s({0x0033, 38, 36, 0x001d, 32});  // key_share: one x25519 share
  w.random(32, state);
}

}  // namespace

std::vector<uint8_t> build_client_hello(std::string_view server_name, uint64_t seed) {
  std::vector<uint8_t> out;
  out.reserve(512);
  Writer w(out);
  uint64_t state = seed;
  w.u8(22);       // handshake record
  w.u16(0x0301);  // record version as clients send it for compatibility
  size_t record = w.open(2);
  w.u8(1);  // client_hello
  size_t hello = w.open(3);
  w.u16(0x0303);
  w.random(32, state);
  w.u8(32);  // legacy_session_id, as TLS 1.3 middlebox-compatibility mode sends it
  w.random(32, state);
  size_t suites = w.open(2);
  w.u16s({0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0x00ff});
  w.close(suites, 2);
  w.u8(1);  // compression methods: null only
  w.u8(0);
  size_t extensions = w.open(2);
  write_extensions(w, server_name, state);
  w.close(extensions, 2);
  w.close(hello, 3);
  w.close(record, 2);
  return out;
}

}  // namespace cloudlink::bench
