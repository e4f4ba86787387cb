#include "home-agent/config/field_checks.h"

#include <arpa/inet.h>

#include <array>
#include <cctype>
#include <cstdio>

namespace cloudlink::home {

namespace {

constexpr std::array<std::string_view, 6> kKeyTypes = {
    "ssh-ed25519",         "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "rsa-sha2-512",        "ssh-rsa",
};

bool is_base64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return false;
  size_t padding = 0;
  for (char c : text) {
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) return false;
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') return false;
  }
  return padding <= 2;
}

bool is_ip(std::string_view text, int family) {
  if (text.size() > 45) return false;
  std::string copy(text);
  unsigned char buffer[16];
  return ::inet_pton(family, copy.c_str(), buffer) == 1;
}

bool is_hostname(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (label == 0 || text[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    if (c == '-' && label == 0) return false;
    if (++label > 63) return false;
  }
  return label > 0 && text.back() != '-';
}

}  // namespace

std::string quote(std::string_view text) {
  std::string out = "\"";
  size_t shown = 0;
  for (unsigned char c : text) {
    if (++shown > 64) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    }
  }
  return out + "\"";
}

size_t find_invalid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t min = 0;
    uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      length = 2, min = 0x80, code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      length = 3, min = 0x800, code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      length = 4, min = 0x10000, code = c & 0x07;
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    for (size_t k = 1; k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return i;
      code = (code << 6) | (next & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return i;
    i += length;
  }
  return std::string_view::npos;
}

std::optional<uint64_t> parse_decimal(std::string_view text, uint64_t min, uint64_t max) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value < min || value > max) return std::nullopt;
  return value;
}

std::optional<HostPort> parse_host_port(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  auto port = parse_decimal(text.substr(colon + 1), 1, 65535);
  if (!port) return std::nullopt;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (!is_ip(host, AF_INET6)) return std::nullopt;
  } else if (!is_hostname(host) && !is_ip(host, AF_INET)) {
    return std::nullopt;
  }
  return HostPort{std::string(host), static_cast<uint16_t>(*port)};
}

bool is_host(std::string_view text) {
  return is_hostname(text) || is_ip(text, AF_INET) || is_ip(text, AF_INET6);
}

std::string check_public_key_line(std::string_view text) {
  size_t space = text.find(' ');
  if (space == std::string_view::npos) return "expected \"KEYTYPE BASE64\", got " + quote(text);
  std::string_view type = text.substr(0, space);
  bool known = false;
  for (auto k : kKeyTypes) known = known || k == type;
  if (!known) return "unknown key type " + quote(type);
  std::string_view blob = text.substr(space + 1);
  if (blob.size() > 8192 || !is_base64(blob)) return "key is not base64";
  return {};
}

std::string check_url(std::string_view text) {
  std::string_view rest;
  if (text.starts_with("https://")) {
    rest = text.substr(8);
  } else if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else {
    return "expected an http:// or https:// URL, got " + quote(text);
  }
  if (text.size() > 2048) return "longer than 2048 bytes";
  if (rest.empty() || rest[0] == '/') return "no host in " + quote(text);
  for (unsigned char c : text) {
    if (c <= 0x20 || c >= 0x7f) return "unexpected character in " + quote(text);
  }
  return {};
}

std::string check_token(std::string_view text, size_t max_length) {
  if (text.size() > max_length) return "longer than " + std::to_string(max_length) + " bytes";
  for (unsigned char c : text) {
    if (c <= 0x20 || c >= 0x7f) return "unexpected character in " + quote(text);
  }
  return {};
}

std::string check_path(std::string_view text) {
  if (text.empty()) return "empty path";
  if (text.size() > 4096) return "longer than 4096 bytes";
  for (char c : text) {
    if (c == '\0' || c == '\n' || c == '\r') return "unexpected character in " + quote(text);
  }
  return {};
}

std::string check_user(std::string_view text) {
  if (text.empty() || text.size() > 32) return "expected 1 to 32 characters";
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool letter = (c >= 'a' && c <= 'z') || c == '_';
    bool other = (c >= '0' && c <= '9') || c == '-';
    if (!letter && !(i > 0 && other)) return "not a user name: " + quote(text);
  }
  return {};
}

}  // namespace cloudlink::home
