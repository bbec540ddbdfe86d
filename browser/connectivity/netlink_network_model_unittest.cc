// NetlinkNetworkModel fed with hand-built rtnetlink messages: the definition of "online", and the route flushes
// the kernel performs without a message. Needs no privileges (netlink_network_monitor_unittest.cc checks the
// same behaviour against a real kernel).
#include "browser/connectivity/netlink_network_model.h"

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace bgsync {
namespace {

constexpr unsigned kOnlineFlags = IFF_UP | IFF_RUNNING | IFF_LOWER_UP;
constexpr int kLink = 2;
constexpr int kOtherLink = 3;

// One rtnetlink message body: a fixed header, then attributes, each padded to 4 bytes.
class Body {
 public:
  template <typename T>
  explicit Body(const T& fixed) {
    Append(&fixed, sizeof(fixed));
  }
  Body& Attribute(uint16_t type, const void* data, size_t size) {
    rtattr header{static_cast<unsigned short>(sizeof(rtattr) + size), type};
    Append(&header, sizeof(header));
    Append(data, size);
    return *this;
  }
  Body& U32(uint16_t type, uint32_t value) { return Attribute(type, &value, sizeof(value)); }
  Body& Address(uint16_t type, int family, const std::string& text) {
    uint8_t bytes[16];
    EXPECT_EQ(inet_pton(family, text.c_str(), bytes), 1) << text;
    return Attribute(type, bytes, family == AF_INET ? 4 : 16);
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  void Append(const void* data, size_t size) {
    const auto* begin = static_cast<const uint8_t*>(data);
    bytes_.insert(bytes_.end(), begin, begin + size);
    bytes_.resize((bytes_.size() + 3) & ~size_t{3});
  }
  std::vector<uint8_t> bytes_;
};

class NetlinkNetworkModelTest : public ::testing::Test {
 protected:
  void Apply(uint16_t type, const Body& body, uint16_t flags = 0) {
    model_.Apply(type, flags, body.bytes().data(), body.bytes().size());
  }

  void Link(int index, unsigned flags, uint16_t type = RTM_NEWLINK, uint8_t family = AF_UNSPEC) {
    ifinfomsg info{};
    info.ifi_family = family;
    info.ifi_index = index;
    info.ifi_flags = flags;
    Apply(type, Body(info));
  }

  // `text` is "address/prefix".
  void Address(int index, const std::string& text, uint16_t type = RTM_NEWADDR, uint32_t flags = 0) {
    const size_t slash = text.find('/');
    const std::string address = text.substr(0, slash);
    const int family = address.find(':') == std::string::npos ? AF_INET : AF_INET6;
    ifaddrmsg message{};
    message.ifa_family = static_cast<uint8_t>(family);
    message.ifa_prefixlen = static_cast<uint8_t>(std::stoi(text.substr(slash + 1)));
    message.ifa_index = static_cast<uint32_t>(index);
    Body body(message);
    body.Address(IFA_ADDRESS, family, address);
    if (family == AF_INET)
      body.Address(IFA_LOCAL, family, address);
    body.U32(IFA_FLAGS, flags);
    Apply(type, body);
  }

  // A default route, adjusted by the chained setters.
  struct Route {
    int family = AF_INET;
    int link = kLink;
    std::string gateway;  // empty: none
    uint32_t priority = 0;
    uint32_t table = RT_TABLE_MAIN;
    uint8_t dst_len = 0;
    uint8_t type = RTN_UNICAST;
    unsigned flags = 0;

    Route& Priority(uint32_t value) {
      priority = value;
      return *this;
    }
    Route& Table(uint32_t value) {
      table = value;
      return *this;
    }
    Route& DstLen(uint8_t value) {
      dst_len = value;
      return *this;
    }
    Route& Type(uint8_t value) {
      type = value;
      return *this;
    }
    Route& Flags(unsigned value) {
      flags = value;
      return *this;
    }
  };
  static Route Via(const std::string& gateway, int link = kLink) {
    Route route;
    route.family = gateway.find(':') == std::string::npos ? AF_INET : AF_INET6;
    route.gateway = gateway;
    route.link = link;
    return route;
  }
  void AddRoute(const Route& route, uint16_t message_flags = 0) { SendRoute(RTM_NEWROUTE, route, message_flags); }
  void DeleteRoute(const Route& route) { SendRoute(RTM_DELROUTE, route, 0); }
  void SendRoute(uint16_t type, const Route& route, uint16_t message_flags) {
    rtmsg message{};
    message.rtm_family = static_cast<uint8_t>(route.family);
    message.rtm_dst_len = route.dst_len;
    message.rtm_table = static_cast<uint8_t>(route.table < 256 ? route.table : RT_TABLE_UNSPEC);
    message.rtm_type = route.type;
    message.rtm_flags = route.flags;
    Body body(message);
    body.U32(RTA_TABLE, route.table).U32(RTA_PRIORITY, route.priority).U32(RTA_OIF, route.link);
    if (!route.gateway.empty())
      body.Address(RTA_GATEWAY, route.family, route.gateway);
    Apply(type, body, message_flags);
  }

  // A multipath IPv4 default route with one gateway per link.
  void AddMultipathRoute(const std::vector<std::pair<int, std::string>>& hops) {
    rtmsg message{};
    message.rtm_family = AF_INET;
    message.rtm_table = RT_TABLE_MAIN;
    message.rtm_type = RTN_UNICAST;
    std::vector<uint8_t> nested;
    for (const auto& [link, gateway] : hops) {
      rtnexthop hop{};
      hop.rtnh_ifindex = link;
      Body attributes(hop);
      attributes.Address(RTA_GATEWAY, AF_INET, gateway);
      std::vector<uint8_t> bytes = attributes.bytes();
      const uint16_t length = static_cast<uint16_t>(bytes.size());
      std::memcpy(bytes.data(), &length, sizeof(length));  // rtnh_len covers the hop's attributes
      nested.insert(nested.end(), bytes.begin(), bytes.end());
    }
    Body body(message);
    body.U32(RTA_TABLE, RT_TABLE_MAIN).Attribute(RTA_MULTIPATH, nested.data(), nested.size());
    Apply(RTM_NEWROUTE, body);
  }

  // Link kLink up with 192.0.2.2/24 and a default route through 192.0.2.1.
  void ConnectIpv4(int link = kLink) {
    Link(link, kOnlineFlags);
    Address(link, "192.0.2.2/24");
    AddRoute(Via("192.0.2.1", link));
  }

  NetlinkNetworkModel model_;
};

TEST_F(NetlinkNetworkModelTest, EmptyIsOffline) {
  EXPECT_FALSE(model_.IsOnline());
}

TEST_F(NetlinkNetworkModelTest, NeedsAnUpLinkAUsableAddressAndADefaultRoute) {
  Link(kLink, IFF_UP);
  Address(kLink, "192.0.2.2/24");
  AddRoute(Via("192.0.2.1"));
  EXPECT_FALSE(model_.IsOnline()) << "no carrier";

  Link(kLink, IFF_UP | IFF_RUNNING);
  EXPECT_TRUE(model_.IsOnline());
  Link(kLink, IFF_UP | IFF_LOWER_UP);
  EXPECT_TRUE(model_.IsOnline()) << "IFF_LOWER_UP is enough";

  DeleteRoute(Via("192.0.2.1"));
  EXPECT_FALSE(model_.IsOnline());
  AddRoute(Via("192.0.2.1"));
  Address(kLink, "192.0.2.2/24", RTM_DELADDR);
  EXPECT_FALSE(model_.IsOnline());
}

TEST_F(NetlinkNetworkModelTest, LoopbackNeverCounts) {
  Link(1, kOnlineFlags | IFF_LOOPBACK);
  Address(1, "192.0.2.2/24");
  AddRoute(Via("192.0.2.1", 1));
  EXPECT_FALSE(model_.IsOnline());
}

TEST_F(NetlinkNetworkModelTest, DefaultRouteMustBeOnTheSameLink) {
  Link(kLink, kOnlineFlags);
  Link(kOtherLink, kOnlineFlags);
  Address(kLink, "192.0.2.2/24");
  AddRoute(Via("198.51.100.1", kOtherLink));
  EXPECT_FALSE(model_.IsOnline());
}

TEST_F(NetlinkNetworkModelTest, AddressAndDefaultRouteMustShareAFamily) {
  Link(kLink, kOnlineFlags);
  Address(kLink, "192.0.2.2/24");
  AddRoute(Via("fe80::1"));
  EXPECT_FALSE(model_.IsOnline());
  Address(kLink, "2001:db8::2/64");
  EXPECT_TRUE(model_.IsOnline());
}

TEST_F(NetlinkNetworkModelTest, UnusableAddresses) {
  Link(kLink, kOnlineFlags);
  AddRoute(Via("169.254.0.1"));
  AddRoute(Via("fe80::1"));
  for (const char* address : {"169.254.7.2/16", "127.0.0.2/8", "0.0.0.1/8", "fe80::2/64", "febf::2/64", "::1/128"}) {
    Address(kLink, address);
    EXPECT_FALSE(model_.IsOnline()) << address;
  }
  Address(kLink, "2001:db8::2/64", RTM_NEWADDR, IFA_F_TENTATIVE);
  EXPECT_FALSE(model_.IsOnline()) << "tentative";
  Address(kLink, "2001:db8::2/64", RTM_NEWADDR, IFA_F_DADFAILED);
  EXPECT_FALSE(model_.IsOnline()) << "DAD failed";
  Address(kLink, "2001:db8::2/64", RTM_NEWADDR, IFA_F_PERMANENT);  // DAD done: the kernel re-announces
  EXPECT_TRUE(model_.IsOnline());
  Address(kLink, "2001:db8::2/64", RTM_DELADDR);
  Address(kLink, "169.254.200.1/16", RTM_DELADDR);  // not there: ignored
  Address(kLink, "169.255.0.2/16");
  EXPECT_TRUE(model_.IsOnline()) << "169.255/16 is not link-local";
}

TEST_F(NetlinkNetworkModelTest, OnlyUnicastDefaultRoutesOfTheMainTable) {
  Link(kLink, kOnlineFlags);
  Address(kLink, "192.0.2.2/24");
  AddRoute(Via("192.0.2.1").Table(100));
  AddRoute(Via("192.0.2.1").Table(1000));
  AddRoute(Via("192.0.2.1").DstLen(1));
  AddRoute(Route().Type(RTN_BLACKHOLE));
  AddRoute(Via("192.0.2.1").Flags(RTM_F_CLONED));
  EXPECT_FALSE(model_.IsOnline());
  AddRoute(Via("192.0.2.1"));
  EXPECT_TRUE(model_.IsOnline());
}

TEST_F(NetlinkNetworkModelTest, LinkDownFlushesItsRoutesWhichComingUpDoesNotRestore) {
  ConnectIpv4();
  ASSERT_TRUE(model_.IsOnline());
  Link(kLink, 0);
  EXPECT_FALSE(model_.IsOnline());
  Link(kLink, kOnlineFlags);
  EXPECT_FALSE(model_.IsOnline()) << "the kernel flushed the default route without RTM_DELROUTE";
  AddRoute(Via("192.0.2.1"));
  EXPECT_TRUE(model_.IsOnline());
}

TEST_F(NetlinkNetworkModelTest, CarrierLossKeepsRoutes) {
  ConnectIpv4();
  Link(kLink, IFF_UP);
  EXPECT_FALSE(model_.IsOnline());
  Link(kLink, kOnlineFlags);
  EXPECT_TRUE(model_.IsOnline()) << "the kernel keeps routes through a link without carrier";
}

TEST_F(NetlinkNetworkModelTest, RemovingTheLastIpv4AddressFlushesIpv4Routes) {
  ConnectIpv4();
  AddRoute(Via("fe80::1"));
  Address(kLink, "203.0.113.2/24");
  Address(kLink, "203.0.113.2/24", RTM_DELADDR);
  EXPECT_TRUE(model_.IsOnline()) << "another IPv4 address remains";

  Address(kLink, "192.0.2.2/24", RTM_DELADDR);
  Address(kLink, "192.0.2.2/24");
  EXPECT_FALSE(model_.IsOnline()) << "the IPv4 default route went with the last IPv4 address";

  Address(kLink, "2001:db8::2/64");
  EXPECT_TRUE(model_.IsOnline()) << "the IPv6 default route stayed";
}

TEST_F(NetlinkNetworkModelTest, MultipathRouteSurvivesWhileOneHopLives) {
  Link(kLink, kOnlineFlags);
  Link(kOtherLink, kOnlineFlags);
  Address(kLink, "192.0.2.2/24");
  Address(kOtherLink, "198.51.100.2/24");
  AddMultipathRoute({{kLink, "192.0.2.1"}, {kOtherLink, "198.51.100.1"}});
  ASSERT_TRUE(model_.IsOnline());

  Link(kOtherLink, 0);
  EXPECT_TRUE(model_.IsOnline());
  Link(kOtherLink, kOnlineFlags);  // its hop lives again
  Link(kLink, 0);
  EXPECT_TRUE(model_.IsOnline());

  Link(kOtherLink, 0);  // no live hop left: flushed
  Link(kLink, kOnlineFlags);
  Link(kOtherLink, kOnlineFlags);
  EXPECT_FALSE(model_.IsOnline());
}

TEST_F(NetlinkNetworkModelTest, ReplaceDropsTheReplacedRoute) {
  ConnectIpv4();
  Link(kOtherLink, kOnlineFlags);  // no address
  AddRoute(Via("198.51.100.1", kOtherLink), NLM_F_REPLACE);
  EXPECT_FALSE(model_.IsOnline());
}

TEST_F(NetlinkNetworkModelTest, DeletingOneOfTwoDefaultRoutesKeepsTheOther) {
  ConnectIpv4();
  AddRoute(Via("192.0.2.254"));              // appended, same key
  AddRoute(Via("192.0.2.253").Priority(5));  // another metric
  DeleteRoute(Via("192.0.2.1"));
  DeleteRoute(Via("192.0.2.254"));
  EXPECT_TRUE(model_.IsOnline());
  DeleteRoute(Via("192.0.2.253").Priority(5));
  EXPECT_FALSE(model_.IsOnline());
}

TEST_F(NetlinkNetworkModelTest, RemovedLinkTakesItsAddressesAndRoutes) {
  ConnectIpv4();
  Link(kLink, kOnlineFlags, RTM_DELLINK);
  Link(kLink, kOnlineFlags);  // the index comes back for a new device
  EXPECT_FALSE(model_.IsOnline());
  Address(kLink, "192.0.2.2/24");
  EXPECT_FALSE(model_.IsOnline());
}

TEST_F(NetlinkNetworkModelTest, BridgePortMessagesAreNotAboutTheDevice) {
  ConnectIpv4();
  Link(kLink, 0, RTM_DELLINK, AF_BRIDGE);  // the port left its bridge
  Link(kLink, 0, RTM_NEWLINK, AF_INET6);
  EXPECT_TRUE(model_.IsOnline());
}

TEST_F(NetlinkNetworkModelTest, ClearForgetsEverything) {
  ConnectIpv4();
  model_.Clear();
  EXPECT_FALSE(model_.IsOnline());
  Link(kLink, kOnlineFlags);
  Address(kLink, "192.0.2.2/24");
  EXPECT_FALSE(model_.IsOnline());
}

TEST_F(NetlinkNetworkModelTest, MalformedMessagesAreIgnored) {
  ConnectIpv4();
  const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  for (uint16_t type : {RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_DELADDR, RTM_NEWROUTE, RTM_DELROUTE}) {
    for (size_t size = 0; size <= sizeof(garbage); ++size)
      model_.Apply(type, 0, garbage, size);
  }
  // A route whose attribute claims more bytes than there are.
  rtmsg message{};
  message.rtm_family = AF_INET;
  message.rtm_table = RT_TABLE_MAIN;
  message.rtm_type = RTN_UNICAST;
  Body body(message);
  body.U32(RTA_OIF, kLink);
  std::vector<uint8_t> bytes = body.bytes();
  const uint16_t too_long = 200;
  std::memcpy(bytes.data() + sizeof(rtmsg), &too_long, sizeof(too_long));
  model_.Apply(RTM_DELROUTE, 0, bytes.data(), bytes.size());
  EXPECT_TRUE(model_.IsOnline());
}

}  // namespace
}  // namespace bgsync
