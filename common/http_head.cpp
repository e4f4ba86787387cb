#include "common/http_head.h"

#include <algorithm>

namespace cloudlink::http {
namespace {

// RFC 9110 5.6.2 tchar.
bool is_tchar(uint8_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_vchar(uint8_t c) { return c > 0x20 && c < 0x7f; }
// A field value's bytes: VCHAR, SP, HTAB and obs-text; never another control character.
bool is_field_char(uint8_t c) { return c == '\t' || c == ' ' || (c > 0x20 && c != 0x7f); }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char ch) { return ch >= 'A' && ch <= 'Z' ? char(ch - 'A' + 'a') : ch; };
           return lower(x) == lower(y);
         });
}

HeadResult malformed(const char* reason) {
  HeadResult r;
  r.status = HeadStatus::kMalformed;
  r.reason = reason;
  return r;
}

// One line of the head: [begin, end) without its terminator; next is where the following line
// starts. found is false when data holds no terminator yet.
struct Line {
  std::string_view text;
  size_t next = 0;
  bool found = false;
  bool bare_cr = false;  // a CR not followed by LF
};

// Lines end in CRLF or a bare LF (RFC 9112 2.2 lets a recipient accept LF alone); a CR
// anywhere else is a framing error.
Line next_line(std::string_view data, size_t from) {
  Line line;
  for (size_t i = from; i < data.size(); ++i) {
    if (data[i] == '\n') {
      line.found = true;
      line.text = data.substr(from, i - from);
      line.next = i + 1;
      if (!line.text.empty() && line.text.back() == '\r') line.text.remove_suffix(1);
      break;
    }
    if (data[i] == '\r' && i + 1 < data.size() && data[i + 1] != '\n') {
      line.bare_cr = true;
      return line;
    }
  }
  if (!line.found) return line;
  line.bare_cr = line.text.find('\r') != std::string_view::npos;
  return line;
}

// host [":" port] → host; nothing when the port is not 0-5 digits or the host is empty.
bool strip_port(std::string_view authority, std::string_view& host) {
  size_t colon = std::string_view::npos;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return false;
      colon = close + 1;
    }
  } else {
    colon = authority.rfind(':');
  }
  host = authority.substr(0, colon);
  if (colon != std::string_view::npos) {
    std::string_view port = authority.substr(colon + 1);
    if (port.size() > 5) return false;
    for (char c : port) {
      if (c < '0' || c > '9') return false;
    }
  }
  if (host.empty()) return false;
  for (char c : host) {
    auto u = static_cast<uint8_t>(c);
    if (!is_vchar(u) || c == '@' || c == '/' || c == '?' || c == '#') return false;
  }
  return true;
}

// The request line: method SP request-target SP HTTP/1.x.
bool read_request_line(std::string_view line, HeadResult& r, std::string_view& authority,
                       const char*& reason) {
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) {
    reason = "request line has no method";
    return false;
  }
  r.method = line.substr(0, sp1);
  for (char c : r.method) {
    if (!is_tchar(static_cast<uint8_t>(c))) {
      reason = "method is not a token";
      return false;
    }
  }
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) {
    reason = "request line has no target or no version";
    return false;
  }
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  for (char c : target) {
    if (!is_vchar(static_cast<uint8_t>(c))) {
      reason = "request target holds a byte that is not visible ASCII";
      return false;
    }
  }
  std::string_view version = line.substr(sp2 + 1);
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." ||
      (version[7] != '0' && version[7] != '1')) {
    reason = "version is not HTTP/1.0 or HTTP/1.1";
    return false;
  }
  r.version_minor = static_cast<uint8_t>(version[7] - '0');

  if (target.front() == '/') {
    r.target = target;
    return true;
  }
  if (target == "*" && r.method == "OPTIONS") {
    r.target = target;
    return true;
  }
  // absolute-form: http(s)://authority[/path]
  size_t scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos || !(iequals(target.substr(0, scheme_end), "http") ||
                                                iequals(target.substr(0, scheme_end), "https"))) {
    reason = "request target is not origin-form or an http(s) absolute-form";
    return false;
  }
  std::string_view rest = target.substr(scheme_end + 3);
  size_t path = rest.find_first_of("/?#");
  authority = rest.substr(0, path);
  if (authority.find('@') != std::string_view::npos) {
    reason = "request target has userinfo";
    return false;
  }
  r.target = path == std::string_view::npos ? std::string_view("/") : rest.substr(path);
  if (r.target.front() != '/') r.target = "/";  // "?q" alone: the path is empty
  return true;
}

}  // namespace

HeadResult parse_request_head(std::span<const uint8_t> bytes, size_t max_head_bytes) {
  const std::string_view all(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const std::string_view data = all.substr(0, std::min(all.size(), max_head_bytes));
  const bool capped = all.size() >= max_head_bytes;

  HeadResult r;
  size_t at = 0;
  // RFC 9112 2.2: empty lines before the request line are ignored.
  while (at < data.size() && (data[at] == '\n' || data[at] == '\r')) {
    if (data[at] == '\r' && at + 1 < data.size() && data[at + 1] != '\n') {
      return malformed("bare CR before the request line");
    }
    ++at;
  }
  Line line = next_line(data, at);
  if (line.bare_cr) return malformed("bare CR in the request line");
  if (!line.found) {
    // Fail fast on what cannot become a request line (TLS on :80, binary junk).
    std::string_view partial = data.substr(at);
    size_t method_end = std::min(partial.find(' '), partial.size());
    for (size_t i = 0; i < method_end; ++i) {
      if (!is_tchar(static_cast<uint8_t>(partial[i])) && partial[i] != '\r') {
        return malformed("method is not a token");
      }
    }
    if (capped) {
      r.status = HeadStatus::kTooLarge;
      r.reason = "request line is larger than the cap";
      r.line_too_long = true;
      return r;
    }
    return r;
  }
  std::string_view authority;
  const char* reason = "";
  if (!read_request_line(line.text, r, authority, reason)) return malformed(reason);

  std::string_view host_header;
  bool have_host = false;
  at = line.next;
  const size_t fields_begin = at;
  for (;;) {
    line = next_line(data, at);
    if (line.bare_cr) return malformed("bare CR in a header line");
    if (!line.found) {
      for (char c : data.substr(at)) {
        if (!is_field_char(static_cast<uint8_t>(c)) && c != '\r') {
          return malformed("control character in a header line");
        }
      }
      if (capped) {
        HeadResult too_large;
        too_large.status = HeadStatus::kTooLarge;
        too_large.reason = "request head is larger than the cap";
        return too_large;
      }
      return HeadResult{};
    }
    at = line.next;
    if (line.text.empty()) break;  // the end of the head
    const std::string_view text = line.text;
    if (text.front() == ' ' || text.front() == '\t') return malformed("obsolete line folding");
    size_t colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0) return malformed("header line without name");
    std::string_view name = text.substr(0, colon);
    for (char c : name) {
      if (!is_tchar(static_cast<uint8_t>(c))) {
        return malformed("header name is not a token (whitespace before the colon?)");
      }
    }
    std::string_view value = text.substr(colon + 1);
    for (char c : value) {
      if (!is_field_char(static_cast<uint8_t>(c))) {
        return malformed("control character in a header value");
      }
    }
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (iequals(name, "host")) {
      if (have_host) return malformed("more than one Host header");
      have_host = true;
      host_header = value;
    }
  }

  if (!have_host && r.version_minor == 1) return malformed("HTTP/1.1 request without Host");
  std::string_view host;
  if (!authority.empty()) {
    if (!strip_port(authority, host)) return malformed("bad authority in the request target");
  } else if (have_host && !strip_port(host_header, host)) {
    return malformed("bad Host header");
  }
  r.host = host;
  r.head_length = at;
  // The fields end where the empty line starts: one LF, or CR LF, before `at`.
  size_t fields_end = at - 1;
  if (fields_end > fields_begin && data[fields_end - 1] == '\r') --fields_end;
  r.fields = data.substr(fields_begin, fields_end - fields_begin);
  r.status = HeadStatus::kComplete;
  return r;
}

FieldValue find_field(const HeadResult& head, std::string_view name) {
  FieldValue found;
  std::string_view rest = head.fields;
  while (!rest.empty()) {
    const size_t end = std::min(rest.find('\n'), rest.size());
    std::string_view text = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    // The parser checked every line: a token, a colon, a value of field characters.
    const size_t colon = text.find(':');
    if (colon == std::string_view::npos || !iequals(text.substr(0, colon), name)) continue;
    if (found.count++ > 0) continue;
    std::string_view value = text.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    found.value = value;
  }
  return found;
}

}  // namespace cloudlink::http
