#include "control/sessions/proc_parse.h"

#include <charconv>

namespace cloudlink::sessions {
namespace {

// The next space-separated field of line from pos (leading spaces skipped); empty at the end.
std::string_view next_field(std::string_view line, size_t& pos) {
  while (pos < line.size() && line[pos] == ' ') ++pos;
  size_t start = pos;
  while (pos < line.size() && line[pos] != ' ') ++pos;
  return line.substr(start, pos - start);
}

template <typename T>
std::optional<T> number(std::string_view text, int base) {
  if (text.empty()) return std::nullopt;
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "ADDR:PORT" with ADDR 8 (IPv4) or 32 (IPv6) hex digits, as the kernel prints it: each 32-bit
// word in host byte order (little-endian here, like every machine cloudlink targets).
bool parse_local(std::string_view field, TcpSocket& out) {
  size_t colon = field.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view addr = field.substr(0, colon);
  auto port = number<uint32_t>(field.substr(colon + 1), 16);
  if (!port || *port > 0xffff || field.substr(colon + 1).size() != 4) return false;
  if (addr.size() != 8 && addr.size() != 32) return false;
  uint32_t words[4] = {};
  for (size_t w = 0; w < addr.size() / 8; ++w) {
    auto word = number<uint32_t>(addr.substr(w * 8, 8), 16);
    if (!word) return false;
    words[w] = *word;
  }
  out.local_port = static_cast<uint16_t>(*port);
  if (addr.size() == 8) {
    out.loopback = (words[0] & 0xff) == 127;  // first octet is the low byte
    out.any = words[0] == 0;
  } else {
    bool zero64 = words[0] == 0 && words[1] == 0;
    out.any = zero64 && words[2] == 0 && words[3] == 0;
    bool v6_loopback = zero64 && words[2] == 0 && words[3] == 0x01000000;
    bool mapped_loopback = zero64 && words[2] == 0xffff0000 && (words[3] & 0xff) == 127;
    out.loopback = v6_loopback || mapped_loopback;
  }
  return true;
}

// "  sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid  timeout
// inode ..." (net/ipv4/tcp_ipv4.c get_tcp4_sock).
std::optional<TcpSocket> parse_tcp_line(std::string_view line) {
  size_t pos = 0;
  std::string_view slot = next_field(line, pos);
  if (slot.empty() || slot.back() != ':' || !number<uint32_t>(slot.substr(0, slot.size() - 1), 10))
    return std::nullopt;
  TcpSocket socket;
  if (!parse_local(next_field(line, pos), socket)) return std::nullopt;
  next_field(line, pos);  // rem_address
  auto state = number<unsigned>(next_field(line, pos), 16);
  if (!state || *state > 0xff) return std::nullopt;
  socket.state = *state;
  next_field(line, pos);  // tx_queue:rx_queue
  next_field(line, pos);  // tr:tm->when
  next_field(line, pos);  // retrnsmt
  auto uid = number<uint32_t>(next_field(line, pos), 10);
  next_field(line, pos);  // timeout
  auto inode = number<uint64_t>(next_field(line, pos), 10);
  if (!uid || !inode) return std::nullopt;
  socket.uid = *uid;
  socket.inode = *inode;
  return socket;
}

}  // namespace

std::vector<TcpSocket> parse_proc_net_tcp(std::string_view text) {
  std::vector<TcpSocket> out;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (auto socket = parse_tcp_line(line)) out.push_back(*socket);
  }
  return out;
}

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  size_t open = text.find(" (");
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open + 2)
    return std::nullopt;
  ProcStat stat;
  auto pid = number<int64_t>(text.substr(0, open), 10);
  if (!pid || *pid <= 0) return std::nullopt;
  stat.pid = *pid;
  stat.comm = text.substr(open + 2, close - open - 2);
  std::string_view rest = text.substr(close + 1);
  size_t pos = 0;
  std::string_view state = next_field(rest, pos);  // field 3
  if (state.size() != 1) return std::nullopt;
  stat.state = state[0];
  auto ppid = number<int64_t>(next_field(rest, pos), 10);  // field 4
  if (!ppid || *ppid < 0) return std::nullopt;
  stat.ppid = *ppid;
  std::string_view field;
  for (int n = 5; n <= 22; ++n) field = next_field(rest, pos);  // fields 5..22
  auto start = number<uint64_t>(field, 10);
  if (!start) return std::nullopt;
  stat.starttime = *start;
  return stat;
}

std::optional<uint64_t> parse_socket_link(std::string_view target) {
  constexpr std::string_view kPrefix = "socket:[";
  if (target.size() <= kPrefix.size() + 1 || target.substr(0, kPrefix.size()) != kPrefix ||
      target.back() != ']')
    return std::nullopt;
  return number<uint64_t>(target.substr(kPrefix.size(), target.size() - kPrefix.size() - 1), 10);
}

}  // namespace cloudlink::sessions
