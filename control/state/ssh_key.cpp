#include "control/state/ssh_key.h"

#include <sodium.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "control/state/errors.h"

namespace cloudlink::state {
namespace {

constexpr size_t kMaxBlobBytes = 16 * 1024;  // an RSA-16384 key is ~2 KiB; more is not a key

Error bad_key(const std::string& why) { return invalid_field("public_key", why); }

// Reads the SSH wire format (RFC 4251 section 5): uint32 length + bytes.
class WireReader {
 public:
  explicit WireReader(const std::vector<uint8_t>& bytes) : bytes_(bytes) {}
  std::optional<std::string_view> string() {
    if (bytes_.size() - pos_ < 4) return std::nullopt;
    uint32_t n = (uint32_t{bytes_[pos_]} << 24) | (uint32_t{bytes_[pos_ + 1]} << 16) |
                 (uint32_t{bytes_[pos_ + 2]} << 8) | uint32_t{bytes_[pos_ + 3]};
    pos_ += 4;
    if (bytes_.size() - pos_ < n) return std::nullopt;
    std::string_view out(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return out;
  }
  bool at_end() const { return pos_ == bytes_.size(); }

 private:
  const std::vector<uint8_t>& bytes_;
  size_t pos_ = 0;
};

// Bits of an unsigned big-endian mpint (a leading zero byte only keeps it positive).
unsigned mpint_bits(std::string_view mpint) {
  size_t i = 0;
  while (i < mpint.size() && mpint[i] == 0) ++i;
  if (i == mpint.size()) return 0;
  unsigned top = static_cast<uint8_t>(mpint[i]);
  unsigned bits = static_cast<unsigned>(mpint.size() - i - 1) * 8;
  while (top != 0) {
    ++bits;
    top >>= 1;
  }
  return bits;
}

Result<unsigned> check_ed25519(WireReader& in) {
  auto pk = in.string();
  if (!pk || pk->size() != 32) return bad_key("ssh-ed25519 key is not 32 bytes");
  return 256u;
}

Result<unsigned> check_ecdsa(WireReader& in, std::string_view type) {
  std::string_view curve = type.substr(std::string_view("ecdsa-sha2-").size());
  size_t point_size = curve == "nistp256" ? 65 : curve == "nistp384" ? 97 : 133;
  unsigned bits = curve == "nistp256" ? 256 : curve == "nistp384" ? 384 : 521;
  auto name = in.string();
  if (!name || *name != curve) return bad_key("ECDSA curve does not match the key type");
  auto point = in.string();
  if (!point || point->size() != point_size || (*point)[0] != 0x04) {
    return bad_key("ECDSA point is not an uncompressed " + std::string(curve) + " point");
  }
  return bits;
}

Result<unsigned> check_rsa(WireReader& in) {
  auto e = in.string();
  auto n = in.string();
  if (!e || !n) return bad_key("ssh-rsa key is truncated");
  if (e->empty() || (static_cast<uint8_t>(e->back()) & 1) == 0 || mpint_bits(*e) < 2) {
    return bad_key("ssh-rsa public exponent is not an odd number >= 3");
  }
  if (!n->empty() && (static_cast<uint8_t>((*n)[0]) & 0x80) != 0) {
    return bad_key("ssh-rsa modulus is negative");
  }
  unsigned bits = mpint_bits(*n);
  if (bits < kMinRsaBits) {
    return bad_key("RSA key has " + std::to_string(bits) + " bits; at least " +
                   std::to_string(kMinRsaBits) + " are required");
  }
  return bits;
}

bool is_ecdsa(std::string_view type) {
  return type == "ecdsa-sha2-nistp256" || type == "ecdsa-sha2-nistp384" ||
         type == "ecdsa-sha2-nistp521";
}

}  // namespace

Result<SshPublicKey> parse_public_key(std::string_view type, std::string_view base64) {
  if (type != "ssh-ed25519" && type != "ssh-rsa" && !is_ecdsa(type)) {
    return bad_key("key type '" + std::string(type.substr(0, 64)) +
                   "' is not accepted (ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa)");
  }
  if (base64.empty() || base64.size() > kMaxBlobBytes * 4 / 3 + 4) {
    return bad_key("key data is empty or too long");
  }
  std::vector<uint8_t> blob(base64.size());
  size_t length = 0;
  const char* end = nullptr;
  if (sodium_base642bin(blob.data(), blob.size(), base64.data(), base64.size(), nullptr, &length,
                        &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != base64.data() + base64.size()) {
    return bad_key("key data is not valid base64");
  }
  blob.resize(length);
  WireReader in(blob);
  auto named = in.string();
  if (!named || *named != type)
    return bad_key("key data does not hold a " + std::string(type) + " key");
  Result<unsigned> bits = type == "ssh-ed25519" ? check_ed25519(in)
                          : type == "ssh-rsa"   ? check_rsa(in)
                                                : check_ecdsa(in, type);
  if (!bits) return bits.error();
  if (!in.at_end()) return bad_key("key data has trailing bytes");
  // Re-encode so the stored text is canonical (sshd's %k is canonical too).
  std::string canonical(sodium_base64_ENCODED_LEN(blob.size(), sodium_base64_VARIANT_ORIGINAL),
                        '\0');
  sodium_bin2base64(canonical.data(), canonical.size(), blob.data(), blob.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  canonical.resize(canonical.find('\0'));
  return SshPublicKey{std::string(type), canonical, bits.value()};
}

Result<SshPublicKey> parse_public_key_line(std::string_view line) {
  auto skip_space = [&] {
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  };
  auto word = [&] {
    skip_space();
    size_t end = line.find_first_of(" \t");
    std::string_view w = line.substr(0, end);
    line.remove_prefix(w.size());
    return w;
  };
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.find_first_of("\r\n") != std::string_view::npos) {
    return bad_key("must be a single line");
  }
  std::string_view type = word();
  std::string_view data = word();
  if (type.empty() || data.empty()) return bad_key("expected 'TYPE BASE64 [COMMENT]'");
  return parse_public_key(type, data);
}

}  // namespace cloudlink::state
