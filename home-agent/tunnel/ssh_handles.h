// Move-only owners of libssh objects: each is freed exactly once, channels before the session
// that carries them (declare the session first so it is destroyed last).
#pragma once

#include <libssh/libssh.h>

#include <memory>

namespace cloudlink::home {

struct SessionDeleter {
  void operator()(ssh_session session) const {
    ssh_disconnect(session);
    ssh_free(session);
  }
};
struct ChannelDeleter {
  void operator()(ssh_channel channel) const { ssh_channel_free(channel); }
};
struct KeyDeleter {
  void operator()(ssh_key key) const { ssh_key_free(key); }
};
struct SshStringDeleter {
  void operator()(char* text) const { ssh_string_free_char(text); }
};

using SshSession = std::unique_ptr<ssh_session_struct, SessionDeleter>;
using SshChannel = std::unique_ptr<ssh_channel_struct, ChannelDeleter>;
using SshKey = std::unique_ptr<ssh_key_struct, KeyDeleter>;
using SshText = std::unique_ptr<char, SshStringDeleter>;

}  // namespace cloudlink::home
