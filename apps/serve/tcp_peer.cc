#include "apps/serve/tcp_peer.h"

#include <arpa/inet.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>

#include <fmt/format.h>

namespace glmv::app {

namespace {

struct TableKey {
  std::string file;  // "tcp" or "tcp6"
  std::string local, remote;  // "ADDR:PORT" as the table prints them (hex, upper case)
};

// The table prints each 32-bit word of the address as it lies in memory, read as a host integer, in %08X;
// the port in host order, %04X.
std::optional<std::string> TableAddress(const std::string& addr, int port, bool* v6) {
  if (port < 0 || port > 65535) return std::nullopt;
  in6_addr a6{};
  in_addr a4{};
  std::string out;
  if (inet_pton(AF_INET, addr.c_str(), &a4) == 1) {
    *v6 = false;
    out = fmt::format("{:08X}", a4.s_addr);
  } else if (inet_pton(AF_INET6, addr.c_str(), &a6) == 1) {
    *v6 = true;
    for (int w = 0; w < 4; ++w) {
      uint32_t word;
      std::memcpy(&word, a6.s6_addr + 4 * w, 4);
      out += fmt::format("{:08X}", word);
    }
  } else {
    return std::nullopt;
  }
  return out + fmt::format(":{:04X}", port);
}

std::optional<TableKey> KeyOf(const TcpConnection& c) {
  bool local_v6 = false, remote_v6 = false;
  auto local = TableAddress(c.local_addr, c.local_port, &local_v6);
  auto remote = TableAddress(c.remote_addr, c.remote_port, &remote_v6);
  if (!local || !remote || local_v6 != remote_v6) return std::nullopt;
  return TableKey{local_v6 ? "tcp6" : "tcp", *local, *remote};
}

constexpr unsigned kEstablished = 0x01;

}  // namespace

TcpPeer ReadTcpPeer(const TcpConnection& c, const std::string& proc_net_dir) {
  const auto key = KeyOf(c);
  if (!key) return TcpPeer::kUnlisted;
  std::ifstream table(proc_net_dir + "/" + key->file);
  std::string line;
  std::getline(table, line);  // the header
  char local[64], remote[64];
  unsigned state = 0;
  bool listed = false;
  while (std::getline(table, line)) {
    // "  sl  local_address rem_address   st ...": "0: 0100007F:1F90 0100007F:A1B2 01 ..."
    if (std::sscanf(line.c_str(), " %*d: %63s %63s %x", local, remote, &state) != 3) continue;
    if (key->local != local || key->remote != remote) continue;
    // An earlier connection of the same four numbers may linger (TIME_WAIT) beside the live one.
    if (state == kEstablished) return TcpPeer::kOpen;
    listed = true;
  }
  return listed ? TcpPeer::kClosed : TcpPeer::kUnlisted;
}

bool TcpPeerWatch::hung_up() {
  switch (ReadTcpPeer(connection_, proc_net_dir_)) {
    case TcpPeer::kOpen:
      seen_ = true;
      return false;
    case TcpPeer::kClosed:
      return true;
    case TcpPeer::kUnlisted:
      return seen_;
  }
  return false;
}

}  // namespace glmv::app
