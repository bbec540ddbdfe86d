#include "browser/connectivity/netlink_network_model.h"

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <optional>
#include <utility>

namespace bgsync {
namespace {

using IpBytes = std::array<uint8_t, 16>;

constexpr size_t Align(size_t length) {
  return (length + NLMSG_ALIGNTO - 1) & ~static_cast<size_t>(NLMSG_ALIGNTO - 1);
}

// Calls fn(type, data, size) for each well-formed attribute in [data, data + size), up to the first that is not.
template <typename Fn>
void ForEachAttribute(const uint8_t* data, size_t size, Fn&& fn) {
  constexpr size_t kHeaderBytes = Align(sizeof(rtattr));
  while (size >= kHeaderBytes) {
    rtattr attribute;
    std::memcpy(&attribute, data, sizeof(attribute));
    if (attribute.rta_len < kHeaderBytes || attribute.rta_len > size)
      return;
    fn(static_cast<uint16_t>(attribute.rta_type & NLA_TYPE_MASK), data + kHeaderBytes,
       attribute.rta_len - kHeaderBytes);
    const size_t step = Align(attribute.rta_len);
    if (step >= size)
      return;
    data += step;
    size -= step;
  }
}

// The attributes that follow a fixed header of `header_bytes` in [data, data + size).
template <typename Fn>
void ForEachAttributeAfter(size_t header_bytes, const uint8_t* data, size_t size, Fn&& fn) {
  const size_t skip = Align(header_bytes);
  if (size > skip)
    ForEachAttribute(data + skip, size - skip, std::forward<Fn>(fn));
}

std::optional<uint32_t> ReadU32(const uint8_t* data, size_t size) {
  if (size < sizeof(uint32_t))
    return std::nullopt;
  uint32_t value;
  std::memcpy(&value, data, sizeof(value));
  return value;
}

std::optional<IpBytes> ReadAddress(int family, const uint8_t* data, size_t size) {
  const size_t expected = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
  if (expected == 0 || size != expected)
    return std::nullopt;
  IpBytes bytes{};
  std::memcpy(bytes.data(), data, size);
  return bytes;
}

// RTA_VIA: a next hop of the other family (an IPv4 route through an IPv6 gateway).
std::optional<IpBytes> ReadVia(const uint8_t* data, size_t size) {
  uint16_t family;  // rtvia.rtvia_family
  if (size < sizeof(family))
    return std::nullopt;
  std::memcpy(&family, data, sizeof(family));
  return ReadAddress(family, data + sizeof(family), size - sizeof(family));
}

}  // namespace

void NetlinkNetworkModel::Clear() {
  link_flags_.clear();
  addresses_.clear();
  default_routes_.clear();
}

void NetlinkNetworkModel::Apply(uint16_t type, uint16_t flags, const uint8_t* payload, size_t size) {
  switch (type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
      OnLink(type, payload, size);
      break;
    case RTM_NEWADDR:
    case RTM_DELADDR:
      OnAddress(type, payload, size);
      break;
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
      OnRoute(type, flags, payload, size);
      break;
    default:
      break;
  }
}

bool NetlinkNetworkModel::IsOnline() const {
  for (const auto& [link, flags] : link_flags_) {
    if ((flags & IFF_LOOPBACK) || !(flags & IFF_UP) || !(flags & (IFF_RUNNING | IFF_LOWER_UP)))
      continue;
    for (uint8_t family : {AF_INET, AF_INET6}) {
      if (HasUsableAddress(link, family) && HasDefaultRoute(link, family))
        return true;
    }
  }
  return false;
}

void NetlinkNetworkModel::OnLink(uint16_t type, const uint8_t* payload, size_t size) {
  ifinfomsg info;
  if (size < sizeof(info))
    return;
  std::memcpy(&info, payload, sizeof(info));
  // AF_BRIDGE and AF_INET6 link messages describe bridge ports and IPv6 settings, not the device: an AF_BRIDGE
  // RTM_DELLINK means the port left its bridge.
  if (info.ifi_family != AF_UNSPEC)
    return;
  const int link = info.ifi_index;
  if (type == RTM_DELLINK) {
    ForgetLink(link);
    return;
  }
  auto [it, inserted] = link_flags_.try_emplace(link, info.ifi_flags);
  const bool was_up = !inserted && (it->second & IFF_UP);
  it->second = info.ifi_flags;
  // IPv6 announces its own flush on link down; applying it again is harmless. Loss of carrier alone (IFF_UP
  // kept) flushes nothing.
  if (!(info.ifi_flags & IFF_UP)) {
    KillNexthops(link, AF_UNSPEC);
  } else if (!was_up) {
    ReviveNexthops(link, AF_UNSPEC);
  }
}

void NetlinkNetworkModel::OnAddress(uint16_t type, const uint8_t* payload, size_t size) {
  ifaddrmsg message;
  if (size < sizeof(message))
    return;
  std::memcpy(&message, payload, sizeof(message));
  if (message.ifa_family != AF_INET && message.ifa_family != AF_INET6)
    return;
  std::optional<IpBytes> address;
  std::optional<IpBytes> local;
  uint32_t flags = message.ifa_flags;
  ForEachAttributeAfter(sizeof(message), payload, size, [&](uint16_t attribute, const uint8_t* data, size_t length) {
    if (attribute == IFA_ADDRESS) {
      address = ReadAddress(message.ifa_family, data, length);
    } else if (attribute == IFA_LOCAL) {
      local = ReadAddress(message.ifa_family, data, length);
    } else if (attribute == IFA_FLAGS) {
      flags = ReadU32(data, length).value_or(flags);  // all 32 bits; ifa_flags holds only the low 8
    }
  });
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on a point-to-point link.
  const std::optional<IpBytes>& own = local ? local : address;
  if (!own)
    return;
  const AddressKey key{message.ifa_family, message.ifa_prefixlen, *own};
  const int link = static_cast<int>(message.ifa_index);
  if (type == RTM_NEWADDR) {
    addresses_[link][key] = flags;
    if (message.ifa_family == AF_INET && LinkIsUp(link))
      ReviveNexthops(link, AF_INET);
    return;
  }
  auto it = addresses_.find(link);
  if (it == addresses_.end())
    return;
  it->second.erase(key);
  const bool has_ipv4 = std::any_of(it->second.begin(), it->second.end(),
                                    [](const auto& entry) { return entry.first.family == AF_INET; });
  if (it->second.empty())
    addresses_.erase(it);
  if (message.ifa_family == AF_INET && !has_ipv4)
    KillNexthops(link, AF_INET);
}

void NetlinkNetworkModel::OnRoute(uint16_t type, uint16_t flags, const uint8_t* payload, size_t size) {
  rtmsg route;
  if (size < sizeof(route))
    return;
  std::memcpy(&route, payload, sizeof(route));
  if (route.rtm_family != AF_INET && route.rtm_family != AF_INET6)
    return;
  if (route.rtm_dst_len != 0 || route.rtm_src_len != 0 || route.rtm_type != RTN_UNICAST ||
      (route.rtm_flags & RTM_F_CLONED)) {
    return;
  }
  uint32_t table = route.rtm_table;  // RTA_TABLE, when present, holds ids above 255 too
  uint32_t priority = 0;
  uint32_t output_link = 0;
  std::optional<IpBytes> gateway;
  const uint8_t* multipath = nullptr;
  size_t multipath_size = 0;
  ForEachAttributeAfter(sizeof(route), payload, size, [&](uint16_t attribute, const uint8_t* data, size_t length) {
    switch (attribute) {
      case RTA_TABLE:
        table = ReadU32(data, length).value_or(table);
        break;
      case RTA_PRIORITY:
        priority = ReadU32(data, length).value_or(priority);
        break;
      case RTA_OIF:
        output_link = ReadU32(data, length).value_or(0);
        break;
      case RTA_GATEWAY:
        gateway = ReadAddress(route.rtm_family, data, length);
        break;
      case RTA_VIA:
        gateway = ReadVia(data, length);
        break;
      case RTA_MULTIPATH:
        multipath = data;
        multipath_size = length;
        break;
      default:
        break;
    }
  });
  if (table != RT_TABLE_MAIN)
    return;

  std::vector<Nexthop> hops;
  if (multipath != nullptr) {
    while (multipath_size >= sizeof(rtnexthop)) {
      rtnexthop hop;
      std::memcpy(&hop, multipath, sizeof(hop));
      if (hop.rtnh_len < sizeof(hop) || hop.rtnh_len > multipath_size)
        break;
      std::optional<IpBytes> hop_gateway;
      ForEachAttributeAfter(sizeof(hop), multipath, hop.rtnh_len,
                            [&](uint16_t attribute, const uint8_t* data, size_t length) {
                              if (attribute == RTA_GATEWAY) {
                                hop_gateway = ReadAddress(route.rtm_family, data, length);
                              } else if (attribute == RTA_VIA) {
                                hop_gateway = ReadVia(data, length);
                              }
                            });
      if (hop.rtnh_ifindex > 0) {
        hops.push_back({hop.rtnh_ifindex, hop_gateway.value_or(IpBytes{}), (hop.rtnh_flags & RTNH_F_DEAD) != 0});
      }
      const size_t step = Align(hop.rtnh_len);
      if (step >= multipath_size)
        break;
      multipath += step;
      multipath_size -= step;
    }
  } else if (output_link != 0) {
    hops.push_back({static_cast<int>(output_link), gateway.value_or(IpBytes{}), (route.rtm_flags & RTNH_F_DEAD) != 0});
  }
  if (hops.empty())
    return;

  const RouteKey key{route.rtm_family, route.rtm_tos, priority};
  auto same_hop = [](const Nexthop& a, const Nexthop& b) { return a.link == b.link && a.gateway == b.gateway; };
  if (type == RTM_DELROUTE) {
    auto it = default_routes_.find(key);
    if (it == default_routes_.end())
      return;
    std::vector<Nexthop>& existing = it->second;
    for (const Nexthop& hop : hops) {
      existing.erase(
          std::remove_if(existing.begin(), existing.end(), [&](const Nexthop& other) { return same_hop(hop, other); }),
          existing.end());
    }
    if (existing.empty())
      default_routes_.erase(it);
    return;
  }
  std::vector<Nexthop>& existing = default_routes_[key];
  // NLM_F_REPLACE: the route replaced one with the same key, and the kernel sends no RTM_DELROUTE for it.
  if (flags & NLM_F_REPLACE)
    existing.clear();
  for (const Nexthop& hop : hops) {
    auto found =
        std::find_if(existing.begin(), existing.end(), [&](const Nexthop& other) { return same_hop(hop, other); });
    if (found == existing.end()) {
      existing.push_back(hop);
    } else {
      found->dead = hop.dead;
    }
  }
}

void NetlinkNetworkModel::KillNexthops(int link, int family) {
  for (auto it = default_routes_.begin(); it != default_routes_.end();) {
    bool all_dead = true;
    if (family == AF_UNSPEC || it->first.family == family) {
      for (Nexthop& hop : it->second) {
        if (hop.link == link)
          hop.dead = true;
        all_dead = all_dead && hop.dead;
      }
    } else {
      all_dead = false;
    }
    it = all_dead ? default_routes_.erase(it) : std::next(it);
  }
}

void NetlinkNetworkModel::ReviveNexthops(int link, int family) {
  for (auto& [key, hops] : default_routes_) {
    if (family != AF_UNSPEC && key.family != family)
      continue;
    for (Nexthop& hop : hops) {
      if (hop.link == link)
        hop.dead = false;
    }
  }
}

void NetlinkNetworkModel::ForgetLink(int link) {
  link_flags_.erase(link);
  addresses_.erase(link);
  for (auto it = default_routes_.begin(); it != default_routes_.end();) {
    const bool uses_link =
        std::any_of(it->second.begin(), it->second.end(), [link](const Nexthop& hop) { return hop.link == link; });
    it = uses_link ? default_routes_.erase(it) : std::next(it);
  }
}

bool NetlinkNetworkModel::LinkIsUp(int link) const {
  auto it = link_flags_.find(link);
  return it != link_flags_.end() && (it->second & IFF_UP);
}

bool NetlinkNetworkModel::IsUsable(const AddressKey& address, uint32_t flags) {
  if (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED))
    return false;
  const IpBytes& b = address.bytes;
  if (address.family == AF_INET)
    return b[0] != 0 && b[0] != 127 && !(b[0] == 169 && b[1] == 254);
  static constexpr IpBytes kUnspecified{};
  static constexpr IpBytes kLoopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const bool link_local = b[0] == 0xfe && (b[1] & 0xc0) == 0x80;  // fe80::/10
  return b != kUnspecified && b != kLoopback && !link_local;
}

bool NetlinkNetworkModel::HasUsableAddress(int link, uint8_t family) const {
  auto it = addresses_.find(link);
  if (it == addresses_.end())
    return false;
  return std::any_of(it->second.begin(), it->second.end(), [family](const auto& entry) {
    return entry.first.family == family && IsUsable(entry.first, entry.second);
  });
}

bool NetlinkNetworkModel::HasDefaultRoute(int link, uint8_t family) const {
  for (const auto& [key, hops] : default_routes_) {
    if (key.family != family)
      continue;
    for (const Nexthop& hop : hops) {
      if (hop.link == link && !hop.dead)
        return true;
    }
  }
  return false;
}

}  // namespace bgsync
