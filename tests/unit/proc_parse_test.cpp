// The /proc readers behind the port quarantine and the session reaper: /proc/net/tcp{,6}
// lines (captured from a real kernel), /proc/PID/stat with hostile comms, fd link targets,
// and the scans over a fake /proc tree.
#include "control/sessions/proc_parse.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "control/sessions/proc_scan.h"
#include "control/sessions/session_spool.h"
#include "temp_dir.h"

namespace cloudlink::sessions {
namespace {

constexpr const char* kTcp4 =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
    "timeout inode                                                     \n"
    "   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "577 1 000000003c66734b 100 0 0 10 0                       \n"
    "   1: 0100007F:4E20 00000000:0000 0A 00000000:00000000 00:00000000 00000000   998        0 "
    "91234 1 0000000000000000 100 0 0 10 0\n"
    "   2: 020200C0:EAA6 507100CB:0050 06 00000000:00000000 03:000007B4 00000000     0        0 "
    "0 3 0000000005521ec3                                      \n"
    "   3: 0100007F:4E21\n"                              // cut short
    "   4: 0100007F:4E2 00000000:0000 0A 0 0 0 0 0 5\n"  // port with three digits
    "garbage\n";

constexpr const char* kTcp6 =
    "  sl  local_address                         remote_address                        st "
    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000001000000:4E22 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000   998        0 4242 1 0000000000000000 100 0 0 10 0\n"
    "   1: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 100 0 0 10 0\n"
    "   2: 0000000000000000FFFF00000100007F:4E23 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0\n"
    "   3: 20010DB8000000000000000000000001:4E24 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000     0        0 4545 1 0000000000000000 100 0 0 10 0\n";

TEST(ProcNetTcp, ParsesIpv4Lines) {
  auto sockets = parse_proc_net_tcp(kTcp4);
  ASSERT_EQ(sockets.size(), 3u);
  EXPECT_EQ(sockets[0].local_port, 2024);
  EXPECT_TRUE(sockets[0].any);
  EXPECT_EQ(sockets[0].state, kTcpListen);
  EXPECT_EQ(sockets[0].inode, 577u);
  EXPECT_EQ(sockets[1].local_port, 20000);
  EXPECT_TRUE(sockets[1].loopback);
  EXPECT_FALSE(sockets[1].any);
  EXPECT_EQ(sockets[1].uid, 998u);
  EXPECT_EQ(sockets[1].inode, 91234u);
  EXPECT_EQ(sockets[2].state, 0x06u);  // TIME_WAIT, no inode
  EXPECT_FALSE(sockets[2].loopback);
}

TEST(ProcNetTcp, ParsesIpv6Lines) {
  auto sockets = parse_proc_net_tcp(kTcp6);
  ASSERT_EQ(sockets.size(), 4u);
  EXPECT_EQ(sockets[0].local_port, 20002);
  EXPECT_TRUE(sockets[0].loopback);  // ::1
  EXPECT_TRUE(sockets[1].any);       // ::
  EXPECT_TRUE(sockets[2].loopback);  // ::ffff:127.0.0.1
  EXPECT_FALSE(sockets[3].loopback);
  EXPECT_FALSE(sockets[3].any);
}

TEST(ProcNetTcp, RefusesMalformedLines) {
  for (const char* line : {"", "\n", "0: 0100007F:4E20", "x: 0100007F:4E20 0 0A 0 0 0 0 0 1",
                           "0: 0100007F:4E20 0 GG 0 0 0 0 0 1", "0: 0100007F:4E20 0 0A 0 0 0 x 0 1",
                           "0: 0100007F:14E20 0 0A 0 0 0 0 0 1", "0: 100007F:4E20 0 0A 0 0 0 0 0 1",
                           "0: 0100007F:4E20 0 0A 0 0 0 0 0 99999999999999999999999"}) {
    EXPECT_TRUE(parse_proc_net_tcp(line).empty()) << line;
  }
  EXPECT_EQ(parse_proc_net_tcp("0: 0100007F:4E20 0 0A 0 0 0 0 0 1").size(), 1u);
}

TEST(ProcStat, ParsesFieldsAroundAHostileComm) {
  auto stat = parse_proc_stat(
      "11574 (cat) R 11555 11555 6054 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 55200 3133440 390");
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->pid, 11574);
  EXPECT_EQ(stat->comm, "cat");
  EXPECT_EQ(stat->state, 'R');
  EXPECT_EQ(stat->ppid, 11555);
  EXPECT_EQ(stat->starttime, 55200u);
  // A process may name itself ") R 1 (": the comm ends at the last ')'.
  stat = parse_proc_stat("7 (a) R 1 (b) S 42 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 999 0 0");
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->comm, "a) R 1 (b");
  EXPECT_EQ(stat->ppid, 42);
  EXPECT_EQ(stat->starttime, 999u);
  for (const char* bad : {"", "7", "7 (x", "x (a) R 1", "7 (a) R", "7 (a) RR 1 0",
                          "7 (a) R 1 0 0 0", "-7 (a) R 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1",
                          "7 (a) R -1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1"}) {
    EXPECT_FALSE(parse_proc_stat(bad)) << bad;
  }
}

TEST(SocketLink, ReadsTheInode) {
  EXPECT_EQ(parse_socket_link("socket:[91234]"), 91234u);
  for (const char* bad : {"", "socket:[]", "socket:[12", "pipe:[12]", "socket:[-1]", "socket:[1x]",
                          "/dev/null", "socket:[99999999999999999999999]"}) {
    EXPECT_FALSE(parse_socket_link(bad)) << bad;
  }
}

// A fake /proc: net/tcp{,6}, and processes with stat, status and fd links.
class FakeProc {
 public:
  FakeProc() {
    std::filesystem::create_directories(root() + "/net");
    write("net/tcp", kTcp4);
    write("net/tcp6", kTcp6);
  }
  const std::string& root() const { return dir_.path(); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(root() + "/" + name) << text;
  }
  void process(int pid, int ppid, const std::string& comm, unsigned uid,
               std::vector<std::string> links) {
    std::string dir = std::to_string(pid);
    std::filesystem::create_directories(root() + "/" + dir + "/fd");
    write(dir + "/stat", dir + " (" + comm + ") S " + std::to_string(ppid) +
                             " 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " + std::to_string(pid * 10) +
                             " 0 0");
    write(dir + "/status", "Name:\t" + comm + "\nUid:\t" + std::to_string(uid) + "\t" +
                               std::to_string(uid) + "\t0\t0\n");
    int fd = 0;
    for (const std::string& target : links) {
      std::filesystem::create_symlink(target, root() + "/" + dir + "/fd/" + std::to_string(fd++));
    }
  }

 private:
  testing::TempDir dir_;
};

TEST(ProcScan, ListeningPortsAreLoopbackOrWildcardListeners) {
  FakeProc proc;
  auto ports = listening_ports(proc.root());
  ASSERT_TRUE(ports);
  EXPECT_EQ(*ports, (std::set<uint16_t>{2024, 20000, 20002, 443, 20003}));
  EXPECT_FALSE(listening_ports(proc.root() + "/none"));
}

TEST(ProcScan, FindsTheSshUsersProcessesHoldingListeners) {
  FakeProc proc;
  proc.process(100, 1, "sshd", 0, {"socket:[577]"});  // the daemon, root
  proc.process(200, 100, "sshd", 0, {"socket:[1]"});  // [priv] monitor
  proc.process(201, 200, "sshd", 998,
               {"/dev/null", "socket:[91234]", "socket:[4242]", "socket:[5]"});  // the session
  proc.process(300, 1, "sshd", 998, {"socket:[4343]"});                          // another sshd's
  proc.process(400, 100, "nc", 998, {"socket:[4444]"});                          // not sshd
  proc.process(500, 100, "sshd-session", 998, {"pipe:[7]"});                     // no listener
  ProcessFilter filter;
  filter.uid = 998;
  auto all = listening_processes(filter, proc.root());
  ASSERT_EQ(all.size(), 2u);
  filter.ancestor = 100;
  auto mine = listening_processes(filter, proc.root());
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].pid, 201);
  EXPECT_EQ(mine[0].starttime, 2010u);
  EXPECT_EQ(mine[0].ports, (std::set<uint16_t>{20000, 20002}));
}

TEST(SessionSpool, RecordsAreParsedStrictly) {
  auto record = parse_session_record("4242", "55200 AAAAC3NzaC1lZDI1NTE5AAAAI+/=\n");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->pid, 4242);
  EXPECT_EQ(record->starttime, 55200u);
  EXPECT_EQ(record->key, "AAAAC3NzaC1lZDI1NTE5AAAAI+/=");
  const std::pair<const char*, const char*> bad[] = {
      {"4242", "55200 AAAA"},     {"4242", "55200AAAA\n"}, {"4242", "x AAAA\n"},
      {"4242", "55200 AA AA\n"},  {"4242", "55200 \n"},    {"4242", "55200 AA$A\n"},
      {"1", "55200 AAAA\n"},      {"0", "55200 AAAA\n"},   {"-5", "55200 AAAA\n"},
      {".4242.tmp", "1 AAAA\n"},  {"4242x", "1 AAAA\n"},   {"", "1 AAAA\n"},
      {"99999999999", "1 AAAA\n"}};
  for (const auto& [name, text] : bad) {
    EXPECT_FALSE(parse_session_record(name, text)) << name << " " << text;
  }
  EXPECT_FALSE(parse_session_record("7", "1 " + std::string(9000, 'A') + "\n"));
}

TEST(SessionSpool, RecordReadForget) {
  FakeProc proc;
  proc.process(321, 1, "sshd", 0, {});
  testing::TempDir dir;
  ASSERT_TRUE(record_session(dir.path(), 321, "AAAAkey=", proc.root()));
  EXPECT_FALSE(record_session(dir.path(), 322, "AAAAkey=", proc.root()));  // no such process
  EXPECT_FALSE(record_session(dir.path(), 321, "not a key", proc.root()));
  std::ofstream(dir.path() + "/999") << "garbage";
  auto records = read_session_records(dir.path());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].pid, 321);
  EXPECT_EQ(records[0].starttime, 3210u);
  EXPECT_EQ(records[0].key, "AAAAkey=");
  forget_session(dir.path(), 321);
  EXPECT_TRUE(read_session_records(dir.path()).empty());
}

}  // namespace
}  // namespace cloudlink::sessions
