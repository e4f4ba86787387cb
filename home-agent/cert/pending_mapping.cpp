#include "home-agent/cert/pending_mapping.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/log.h"
#include "home-agent/config/atomic_file.h"

namespace cloudlink::home {
namespace {

constexpr const char* kRecordSuffix = ".json";
constexpr size_t kMaxRecordBytes = 4096;

std::string record_path(const std::string& dir, const std::string& hostname) {
  return dir + "/" + hostname + kRecordSuffix;
}

// The lock of hostname in dir, taken without waiting; an empty fd when another holds it.
Result<UniqueFd> try_lock(const std::string& dir, const std::string& hostname) {
  const std::string path = dir + "/" + hostname + ".lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return errno_error(path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return UniqueFd();
    return errno_error(path);
  }
  return fd;
}

std::string to_json(const PendingMapping& m) {
  nlohmann::json j = {{"home_id", m.home_id},
                      {"hostname", m.hostname},
                      {"http_port", m.http_port},
                      {"created", m.created}};
  if (m.previous_http_port) j["previous_http_port"] = *m.previous_http_port;
  return j.dump() + "\n";
}

Result<PendingMapping> from_json(const std::string& text, const std::string& path) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  try {
    PendingMapping m;
    m.home_id = j.at("home_id").get<std::string>();
    m.hostname = j.at("hostname").get<std::string>();
    m.http_port = j.at("http_port").get<uint16_t>();
    m.created = j.at("created").get<bool>();
    if (j.contains("previous_http_port")) {
      m.previous_http_port = j["previous_http_port"].get<uint16_t>();
    }
    return m;
  } catch (const nlohmann::json::exception&) {
    return Error(std::error_code(), path + ": not a record of a temporary mapping");
  }
}

std::vector<std::string> recorded_hostnames(const std::string& dir) {
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> listing(::opendir(dir.c_str()), ::closedir);
  if (!listing) return names;
  const std::string suffix = kRecordSuffix;
  while (const dirent* entry = ::readdir(listing.get())) {
    const std::string name = entry->d_name;
    if (name.size() > suffix.size() && name.ends_with(suffix)) {
      names.push_back(name.substr(0, name.size() - suffix.size()));
    }
  }
  return names;
}

}  // namespace

Result<PendingSlot> PendingSlot::acquire(const std::string& dir, const std::string& hostname) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return errno_error(dir);
  auto lock = try_lock(dir, hostname);
  if (!lock) return lock.error();
  if (!*lock) {
    return Error(EBUSY, "another cloudlink-home process is ordering a certificate for " + hostname +
                            " right now");
  }
  return PendingSlot(record_path(dir, hostname), std::move(*lock));
}

Result<void> PendingSlot::record(const PendingMapping& mapping) const {
  return write_file_atomically(record_path_, to_json(mapping), 0600);
}

Result<void> PendingSlot::forget() const {
  if (::unlink(record_path_.c_str()) != 0 && errno != ENOENT) return errno_error(record_path_);
  return ok();
}

Result<void> undo_mapping(ControlClient& client, const PendingMapping& m) {
  auto current = client.get_mapping(m.home_id, m.hostname);
  if (!current && http_status(current.error()) == 404) return ok();  // gone already
  if (!current) return current.error();
  if (current->http_port != m.http_port) return ok();  // changed since: not ours any more
  if (m.created) {
    if (current->tls_ports != std::vector<uint16_t>{m.http_port}) return ok();
    auto deleted = client.delete_mapping(m.home_id, m.hostname);
    if (!deleted && http_status(deleted.error()) != 404) return deleted.error();
    return ok();
  }
  auto patched = client.set_http_port(m.home_id, m.hostname, m.previous_http_port);
  if (!patched && http_status(patched.error()) != 404) return patched.error();
  return ok();
}

std::vector<uint16_t> recorded_ports(const std::string& dir) {
  std::vector<uint16_t> ports;
  for (const std::string& hostname : recorded_hostnames(dir)) {
    auto text = read_bounded_file(record_path(dir, hostname), kMaxRecordBytes);
    if (!text) continue;
    if (auto mapping = from_json(*text, hostname); mapping) ports.push_back(mapping->http_port);
  }
  return ports;
}

Result<void> clean_up_leftovers(ControlClient& client, const std::string& dir) {
  Result<void> outcome = ok();
  for (const std::string& hostname : recorded_hostnames(dir)) {
    auto lock = try_lock(dir, hostname);
    if (!lock || !*lock) continue;           // an order of a live process
    const UniqueFd held = std::move(*lock);  // until the record is gone
    auto text = read_bounded_file(record_path(dir, hostname), kMaxRecordBytes);
    if (!text) continue;  // removed meanwhile
    auto mapping = from_json(*text, record_path(dir, hostname));
    if (!mapping) {
      log_warn("cert: %s", mapping.error().message().c_str());
      continue;
    }
    if (auto undone = undo_mapping(client, *mapping); !undone) {
      log_warn("cert: the temporary mapping of %s left by an interrupted order is still there: %s",
               hostname.c_str(), undone.error().message().c_str());
      outcome = undone.error();
      continue;
    }
    ::unlink(record_path(dir, hostname).c_str());
    log_line("cert: removed the temporary mapping of %s left by an interrupted order",
             hostname.c_str());
  }
  return outcome;
}

}  // namespace cloudlink::home
