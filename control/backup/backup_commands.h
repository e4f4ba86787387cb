// cloudlink-control backup / restore: a consistent hot copy of control's state while serve
// runs, and that copy brought back onto an empty data folder.
//
// backup: DATA/state copied in one LMDB read transaction (mdb_env_copyfd2, MDB_CP_COMPACT), so
// it holds exactly the changes committed before the copy began and none half; plus control's
// ACME account key (DATA/acme/account.pem) and its own certificate (TLS_DIR/fullchain.pem,
// key.pem) when present. Written as FILE.partial.PID (mode 0600, whatever the umask), synced,
// then renamed to FILE, so FILE is a whole backup or the previous file.
//
// restore: only onto a data folder that holds no files (empty folders are fine). The archive
// is read into DATA/.restore.PID (control/backup/backup_archive.h checks it), the state is
// opened and the routes rebuilt from it in a child process (LMDB trusts its file, so a
// damaged one cannot crash this program's report), then moved into place.
#pragma once

#include <string>

#include "control/route_commands.h"

namespace cloudlink::control::backup {

struct BackupOptions {
  std::string file;
  std::string data_dir = "/var/lib/cloudlink";  // state::kDefaultDataDir
  std::string tls_dir;                          // control's own certificate; empty: DATA/tls
};

CommandOutcome backup_create(const BackupOptions& options);
CommandOutcome backup_restore(const BackupOptions& options);

}  // namespace cloudlink::control::backup
