#include "common/hostname.h"

#include <string>

namespace cloudlink {
namespace {

enum class HostProblem {
  kNone,
  kEmpty,
  kTooLong,
  kTrailingDot,
  kEmptyLabel,
  kLabelTooLong,
  kBadCharacter,
  kUpperCase,
  kLeadingHyphen,
  kTrailingHyphen,
  kMisplacedWildcard,
  kWildcardTooBroad,
};

// Where a check failed: 1-based label number and 0-based byte offset into the name.
struct HostCheck {
  HostProblem problem = HostProblem::kNone;
  size_t label = 0;
  size_t position = 0;
  char character = 0;
};

bool is_lower_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

// Checks labels of name (already stripped of any "*." prefix), numbering labels from
// first_label and offsets from base so messages point into the caller's whole string.
// Returns the label count through labels_out.
HostCheck check_labels(std::string_view name, size_t first_label, size_t base, size_t& labels_out) {
  size_t label = first_label;
  size_t start = 0;
  labels_out = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i < name.size() && name[i] != '.') {
      char c = name[i];
      if (c >= 'A' && c <= 'Z') return {HostProblem::kUpperCase, label, base + i, c};
      if (c == '*') return {HostProblem::kMisplacedWildcard, label, base + i, c};
      if (!is_lower_label_char(c)) return {HostProblem::kBadCharacter, label, base + i, c};
      continue;
    }
    size_t length = i - start;
    if (length == 0) return {HostProblem::kEmptyLabel, label, base + i, 0};
    if (length > kMaxLabelLength) return {HostProblem::kLabelTooLong, label, base + start, 0};
    if (name[start] == '-') return {HostProblem::kLeadingHyphen, label, base + start, '-'};
    if (name[i - 1] == '-') return {HostProblem::kTrailingHyphen, label, base + i - 1, '-'};
    ++labels_out;
    ++label;
    start = i + 1;
  }
  return {};
}

HostCheck check_route_host(std::string_view host) {
  if (host.empty()) return {HostProblem::kEmpty, 0, 0, 0};
  if (host.size() > kMaxHostnameLength) return {HostProblem::kTooLong, 0, host.size(), 0};
  if (host.back() == '.') return {HostProblem::kTrailingDot, 0, host.size() - 1, '.'};
  size_t labels = 0;
  if (host.size() >= 2 && host[0] == '*' && host[1] == '.') {
    // A wildcard over a single label ("*.com") would capture a whole TLD.
    HostCheck check = check_labels(host.substr(2), 2, 2, labels);
    if (check.problem == HostProblem::kNone && labels < 2) {
      return {HostProblem::kWildcardTooBroad, 1, 0, '*'};
    }
    return check;
  }
  return check_labels(host, 1, 0, labels);
}

std::string describe(const HostCheck& check, std::string_view host) {
  std::string where = "label " + std::to_string(check.label);
  std::string at = " at position " + std::to_string(check.position);
  switch (check.problem) {
    case HostProblem::kNone:
      return {};
    case HostProblem::kEmpty:
      return "hostname is empty";
    case HostProblem::kTooLong:
      return "hostname is " + std::to_string(host.size()) + " characters, longer than " +
             std::to_string(kMaxHostnameLength);
    case HostProblem::kTrailingDot:
      return "hostname ends with '.' (write it without the trailing dot)";
    case HostProblem::kEmptyLabel:
      return where + " is empty" + at + " (two dots in a row, or a leading dot)";
    case HostProblem::kLabelTooLong:
      return where + " is longer than " + std::to_string(kMaxLabelLength) + " characters";
    case HostProblem::kBadCharacter:
      return where + " has a character outside [a-z0-9-]" + at;
    case HostProblem::kUpperCase: {
      std::string lower(host);
      for (char& c : lower) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      return where + " has an upper-case letter '" + std::string(1, check.character) + "'" + at +
             "; route hostnames are lower-case: use '" + lower + "'";
    }
    case HostProblem::kLeadingHyphen:
      return where + " starts with '-'";
    case HostProblem::kTrailingHyphen:
      return where + " ends with '-'";
    case HostProblem::kMisplacedWildcard:
      return "'*'" + at + " is only allowed as the whole first label, as in '*.example.com'";
    case HostProblem::kWildcardTooBroad:
      return "a wildcard needs at least two labels after '*.', as in '*.example.com'";
  }
  return "invalid hostname";
}

}  // namespace

Result<void> validate_route_hostname(std::string_view host) {
  HostCheck check = check_route_host(host);
  if (check.problem == HostProblem::kNone) return ok();
  return invalid("invalid hostname: " + describe(check, host));
}

size_t normalize_hostname(std::string_view in, char* out) {
  if (!in.empty() && in.back() == '.') in.remove_suffix(1);
  if (in.empty() || in.size() > kMaxHostnameLength) return 0;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    out[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  size_t labels = 0;
  HostCheck check = check_labels(std::string_view(out, in.size()), 1, 0, labels);
  return check.problem == HostProblem::kNone ? in.size() : 0;
}

}  // namespace cloudlink
