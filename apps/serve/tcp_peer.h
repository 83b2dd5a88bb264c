// Whether the client of a TCP connection has hung up, read from the kernel's connection table
// (/proc/net/tcp, /proc/net/tcp6). cpp-httplib 0.11.4 tells a handler nothing about its connection until it
// writes, so a non-streaming request whose client gave up (a timeout, a cancelled job) would otherwise hold
// its slot to the end, while the client's retry waits in the queue behind it.
#pragma once

#include <string>

namespace glmv::app {

// A connection by its four numbers, as cpp-httplib's Request gives them (numeric addresses, IPv4 or IPv6).
struct TcpConnection {
  std::string local_addr;
  int local_port = -1;
  std::string remote_addr;
  int remote_port = -1;
};

enum class TcpPeer {
  kOpen,     // listed as established
  kClosed,   // listed in another state: the peer sent its FIN (CLOSE_WAIT) or a reset
  kUnlisted  // not in the table (gone, or an address this reader does not match)
};

// `proc_net_dir`: where tcp and tcp6 are (a test may point it elsewhere).
TcpPeer ReadTcpPeer(const TcpConnection& c, const std::string& proc_net_dir = "/proc/net");

// Watches one connection: hung_up() is true once the peer closed it, or once it left the table after having
// been seen in it. A connection never seen (an unreadable table, an address form not matched) is taken as
// open: a request is never cancelled on a guess.
class TcpPeerWatch {
 public:
  explicit TcpPeerWatch(TcpConnection c, std::string proc_net_dir = "/proc/net")
      : connection_(std::move(c)), proc_net_dir_(std::move(proc_net_dir)) {}
  bool hung_up();

 private:
  TcpConnection connection_;
  std::string proc_net_dir_;
  bool seen_ = false;
};

}  // namespace glmv::app
