// The kernel's links, addresses and main-table default routes as rtnetlink messages describe them — plus the
// changes the kernel makes without any message — and whether they make the machine online (spec.md decision 8).
#ifndef BROWSER_CONNECTIVITY_NETLINK_NETWORK_MODEL_H_
#define BROWSER_CONNECTIVITY_NETLINK_NETWORK_MODEL_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

namespace bgsync {

// "Online" means: some link that is not loopback is up with a lower layer (IFF_UP, and IFF_RUNNING or
// IFF_LOWER_UP), has a usable address — IPv4 outside 0.0.0.0/8, 127.0.0.0/8 and 169.254.0.0/16, IPv6 outside
// fe80::/10, :: and ::1, and not tentative or DAD-failed — and the main table has a unicast default route of
// the same family (0.0.0.0/0 or ::/0, no source prefix) with a live next hop on that link. Routes that name
// their next hop only through a nexthop object (RTA_NH_ID) are not modelled.
//
// What the kernel does without telling (measured on Linux 6.x, see README.md; the multipath rules follow the
// kernel's fib_sync_down_dev() and fib_sync_up() and were not measured):
// - Taking a link down flushes the IPv4 routes through it with no RTM_DELROUTE; a route with live next hops on
//   other links survives with that hop dead, and the hop lives again when the link comes back up. Bringing the
//   link up restores connected routes, never a default route.
// - Removing a link's last IPv4 address does the same flush (again with no RTM_DELROUTE).
// - Losing carrier (IFF_UP stays, IFF_RUNNING and IFF_LOWER_UP go) keeps every route; they work again when
//   carrier returns, also without a message.
// - Removing a device flushes every route with a next hop through it.
// The model applies these itself.
//
// Thread-safety: none; the owner serializes calls.
class NetlinkNetworkModel {
 public:
  // Forgets everything, before a fresh dump.
  void Clear();

  // Applies one rtnetlink message, from a dump or a notification: RTM_{NEW,DEL}LINK, RTM_{NEW,DEL}ADDR or
  // RTM_{NEW,DEL}ROUTE. `flags` is the header's nlmsg_flags, [payload, payload + size) what follows the header.
  // Other types, and parts of messages too short for what they claim, are ignored.
  void Apply(uint16_t type, uint16_t flags, const uint8_t* payload, size_t size);

  bool IsOnline() const;

 private:
  using IpBytes = std::array<uint8_t, 16>;  // an IPv4 address uses the first 4 bytes

  struct AddressKey {
    uint8_t family;
    uint8_t prefix_length;
    IpBytes bytes;
    bool operator<(const AddressKey& other) const {
      return std::tie(family, prefix_length, bytes) < std::tie(other.family, other.prefix_length, other.bytes);
    }
  };
  // What tells two default routes of the main table apart.
  struct RouteKey {
    uint8_t family;
    uint8_t tos;
    uint32_t priority;
    bool operator<(const RouteKey& other) const {
      return std::tie(family, tos, priority) < std::tie(other.family, other.tos, other.priority);
    }
  };
  struct Nexthop {
    int link;
    IpBytes gateway;  // all zero when the hop has none
    bool dead;        // RTNH_F_DEAD: its link went down but another hop keeps the route
  };

  void OnLink(uint16_t type, const uint8_t* payload, size_t size);
  void OnAddress(uint16_t type, const uint8_t* payload, size_t size);
  void OnRoute(uint16_t type, uint16_t flags, const uint8_t* payload, size_t size);
  // The kernel's fib_sync_down_dev(): hops through `link` die and routes left with no live hop are flushed.
  // `family` AF_UNSPEC means both families.
  void KillNexthops(int link, int family);
  // fib_sync_up(): dead hops through `link` live again in the routes that survived.
  void ReviveNexthops(int link, int family);
  // Device removal: every route with a hop through `link` goes.
  void ForgetLink(int link);
  bool LinkIsUp(int link) const;
  bool HasUsableAddress(int link, uint8_t family) const;
  bool HasDefaultRoute(int link, uint8_t family) const;
  static bool IsUsable(const AddressKey& address, uint32_t flags);

  std::map<int, uint32_t> link_flags_;                       // ifindex → IFF_* flags
  std::map<int, std::map<AddressKey, uint32_t>> addresses_;  // ifindex → address → IFA_F_* flags
  std::map<RouteKey, std::vector<Nexthop>> default_routes_;
};

}  // namespace bgsync

#endif  // BROWSER_CONNECTIVITY_NETLINK_NETWORK_MODEL_H_
