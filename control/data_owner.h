// Gives a data folder to the service users as README's production table says: the folder
// owner:group (the owner's primary group) mode 0750, state/ and routes/ group-writable (the
// dataplane writes its reader slot in routes/lock.mdb, sshd's key lookup its slot in
// state/lock.mdb, both through the group), acme/ and tls/ only owned (control keeps them 0700).
#pragma once

#include <sys/types.h>
#include <string>

#include "common/result.h"

namespace cloudlink::control {

struct DataOwner {
  std::string user;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string group;
};

// The system user and its primary group; an invalid error when there is no such user.
Result<DataOwner> lookup_data_owner(const std::string& user);

// Applies the ownership and modes above (needs root, or to be owner already). Returns what it
// changed in one line ("" when everything already was so).
Result<std::string> give_data_folder(const std::string& data_dir, const DataOwner& owner);

}  // namespace cloudlink::control
