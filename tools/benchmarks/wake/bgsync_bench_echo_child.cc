// bgsync_bench_echo_child: the trivial process of bgsync_bench_wake's spawn floor. It writes one byte to the
// socketpair it inherited on descriptor 4 and exits: the parent times posix_spawn to that byte.
#include <unistd.h>

int main() {
  constexpr int kChannelFd = 4;
  const char byte = '!';
  return write(kChannelFd, &byte, 1) == 1 ? 0 : 1;
}
