#include "services/background_sync/fuzzers/request_fuzzer_support.h"

namespace bgsync {
namespace fuzzing {

namespace {

void RegisterTag(BrowserServices& browser, Client& client, int64_t sw, SyncType type, const char* tag) {
  mojom::RegisterRequest request;
  request.set_service_worker_registration_id(sw);
  request.mutable_options()->set_tag(tag);
  if (type == SyncType::kPeriodic)
    request.mutable_options()->set_min_interval_ms(12 * 3600 * 1000);
  browser.Register(client, type, request);
}

}  // namespace

RequestFuzzerWorld::RequestFuzzerWorld() {
  world_.network.SetOnline(false);
  browser_ = std::make_unique<BrowserServices>(&world_, false, 0);
  BrowserServices& browser = *browser_;
  Client* window = browser.NewClient(world_.origin(0), ClientType::kWindow, 100);
  Client* iframe = browser.NewClient(world_.origin(0), ClientType::kIframe, 0);
  Client* other = browser.NewClient(world_.origin(1), ClientType::kWindow, 101);
  Client* third = browser.NewClient(world_.origin(2), ClientType::kWindow, 102);
  Client* gone = browser.NewClient(world_.origin(0), ClientType::kWindow, 103);
  RegisterTag(browser, *window, 1, SyncType::kOneShot, "a");
  RegisterTag(browser, *iframe, 1, SyncType::kOneShot, "a-done");
  RegisterTag(browser, *window, 1, SyncType::kPeriodic, "p");
  RegisterTag(browser, *other, 3, SyncType::kOneShot, "b");
  RegisterTag(browser, *other, 3, SyncType::kPeriodic, "p");
  mojom::DidResolveRegistrationRequest resolve;
  resolve.set_service_worker_registration_id(3);
  resolve.set_tag("b");
  browser.DidResolveRegistration(*other, resolve);
  browser.Disconnect(*gone);
  browser.Settle();
  callers_ = {window, iframe, other, third, gone};
}

RequestFuzzerWorld::~RequestFuzzerWorld() {
  browser_.reset();
}

Client& RequestFuzzerWorld::Caller(uint8_t selector) {
  return *callers_[selector % callers_.size()];
}

}  // namespace fuzzing
}  // namespace bgsync
