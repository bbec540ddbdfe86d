// What the demos' service-worker programs share: their two flags, the loopback connection to the demo's server,
// and connecting to the browser on the session they were launched with.
#ifndef TOOLS_BGSYNC_DEMO_DEMO_WORKER_H_
#define TOOLS_BGSYNC_DEMO_DEMO_WORKER_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "renderer/service_worker_global_scope.h"

namespace bgsync::demo {

struct DemoWorkerFlags {
  std::string file;  // the worker's data file (the outbox, the feed)
  int port = 0;      // the demo server's port on 127.0.0.1
};

// Parses "<file_flag> FILE --server PORT". Prints `usage` to stderr and returns nullopt when one is missing.
std::optional<DemoWorkerFlags> ParseDemoWorkerFlags(int argc,
                                                    char** argv,
                                                    absl::string_view file_flag,
                                                    absl::string_view usage);

// A connected TCP socket to 127.0.0.1:`port` (the caller closes it), or -1.
int ConnectToLoopback(int port);

// Reads the session bootstrap the browser launched this process with, connects the global scope, lets
// `add_listeners` add the event listeners, and runs until the browser ends the stream. Returns the exit status:
// 0 when the browser ended the stream normally.
int RunDemoWorker(const std::function<void(ServiceWorkerGlobalScope&)>& add_listeners);

}  // namespace bgsync::demo

#endif  // TOOLS_BGSYNC_DEMO_DEMO_WORKER_H_
