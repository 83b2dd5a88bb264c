// apps/serve/tcp_peer: a loopback connection made here is listed as open while both ends hold it, as closed
// once the client closes its end, and the watch then reports the hang-up; connections it cannot match are
// never taken for hung up. Also the table's address form, from a made-up table.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "apps/serve/tcp_peer.h"

namespace glmv::app {
namespace {

struct LoopbackPair {
  int listener = -1, client = -1, server = -1;
  int listen_port = 0, client_port = 0;

  LoopbackPair() {
    listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(listen(listener, 1) == 0);
    socklen_t n = sizeof a;
    getsockname(listener, reinterpret_cast<sockaddr*>(&a), &n);
    listen_port = ntohs(a.sin_port);
    client = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    server = accept(listener, nullptr, nullptr);
    REQUIRE(server >= 0);
    sockaddr_in c{};
    n = sizeof c;
    getsockname(client, reinterpret_cast<sockaddr*>(&c), &n);
    client_port = ntohs(c.sin_port);
  }
  ~LoopbackPair() {
    for (int fd : {listener, client, server}) {
      if (fd >= 0) close(fd);
    }
  }
  // The server's view, as cpp-httplib gives it to a handler.
  TcpConnection ServerSide() const { return {"127.0.0.1", listen_port, "127.0.0.1", client_port}; }
};

TEST_CASE("a live loopback connection is open; once the client closes its end, it is closed") {
  LoopbackPair p;
  CHECK(ReadTcpPeer(p.ServerSide()) == TcpPeer::kOpen);
  TcpPeerWatch watch(p.ServerSide());
  CHECK_FALSE(watch.hung_up());
  close(p.client);
  p.client = -1;
  CHECK(ReadTcpPeer(p.ServerSide()) == TcpPeer::kClosed);  // CLOSE_WAIT: the FIN came, the server has not closed
  CHECK(watch.hung_up());
}

TEST_CASE("a connection not in the table is hung up only if the watch saw it before") {
  LoopbackPair p;
  TcpConnection other = p.ServerSide();
  other.remote_port = p.client_port == 1 ? 2 : 1;  // nobody's
  CHECK(ReadTcpPeer(other) == TcpPeer::kUnlisted);
  TcpPeerWatch never_seen(other);
  CHECK_FALSE(never_seen.hung_up());
  for (const TcpConnection& odd : {TcpConnection{"localhost", 80, "127.0.0.1", 1}, TcpConnection{"127.0.0.1", 80, "::1", 1},
                                   TcpConnection{"127.0.0.1", -1, "127.0.0.1", 1}}) {
    CHECK(ReadTcpPeer(odd) == TcpPeer::kUnlisted);
    CHECK_FALSE(TcpPeerWatch(odd).hung_up());
  }
}

TEST_CASE("the table's address form: IPv4 and IPv6 (v4-mapped included) words as in memory, ports in hex") {
  const auto dir = std::filesystem::temp_directory_path() / ("glmv-tcp-peer-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tcp") << "  sl  local_address rem_address   st tx_queue rx_queue\n"
                             << "   0: 0100007F:1F90 0100007F:A1B2 08 00000000:00000000\n"
                             << "   1: 0100007F:1F90 0100007F:A1B3 06 00000000:00000000\n"
                             << "   2: 0100007F:1F90 0100007F:A1B3 01 00000000:00000000\n";
  std::ofstream(dir / "tcp6") << "  sl  local_address                         remote_address                        st\n"
                              << "   0: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:C000 01 0\n"
                              << "   1: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:C001 08 0\n";
  const std::string d = dir.string();
  CHECK(ReadTcpPeer({"127.0.0.1", 8080, "127.0.0.1", 0xA1B2}, d) == TcpPeer::kClosed);
  CHECK(ReadTcpPeer({"127.0.0.1", 8080, "127.0.0.1", 0xA1B3}, d) == TcpPeer::kOpen);  // a TIME_WAIT twin beside it
  CHECK(ReadTcpPeer({"::ffff:127.0.0.1", 8080, "::ffff:127.0.0.1", 0xC000}, d) == TcpPeer::kOpen);
  CHECK(ReadTcpPeer({"::1", 8080, "::1", 0xC001}, d) == TcpPeer::kClosed);
  CHECK(ReadTcpPeer({"::1", 8080, "::1", 0xC002}, d) == TcpPeer::kUnlisted);
  CHECK(ReadTcpPeer({"127.0.0.1", 8080, "127.0.0.1", 0xA1B2}, d + "/missing") == TcpPeer::kUnlisted);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace glmv::app
