// Runs a request through a Router on the calling thread (blocking routes included) and waits
// for the answer, which an asynchronous route may give from another thread.
#pragma once

#include <functional>
#include <future>

#include "api/router.hpp"

namespace webhookd::api {

inline Response DispatchAndWait(const Router& router, const Request& request) {
  std::promise<Response> answer;
  std::future<Response> response = answer.get_future();
  router.DispatchAsync(
      request, [](const std::function<void()>& work) { work(); },
      [&answer](Response r) { answer.set_value(std::move(r)); });
  return response.get();
}

}  // namespace webhookd::api
