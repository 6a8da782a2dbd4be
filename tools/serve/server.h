// serve's HTTP server (cpp-httplib): the page at /, GET /api/model, POST /api/predict, with the
// limits that keep one process answering whatever clients send: a body size cap, the decoder's
// pixel limit, read/write timeouts, inference one request at a time, JSON errors with a 4xx.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "engine/device.h"
#include "tools/predict/classifier.h"
#include "tools/predict/decision.h"

namespace busi::tools {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0: any free port (the URL printed says which)
  int64_t max_body_bytes = 20 << 20;  // larger requests get 413 before being read
  int timeout_seconds = 10;           // reading a request / writing a reply, and keep-alive
  int threads = 8;                    // connections served at once (inference is serialised)
};

// What the routes answer, apart from HTTP: a status and a JSON body.
struct Reply {
  int status = 200;
  std::string body;
};

// The classifier loaded once, and the one lock its inference runs under.
class PredictService {
 public:
  PredictService(Classifier classifier, DecisionRule rule, Device device);

  // GET /api/model.
  const std::string& model() const { return model_json_; }
  // POST /api/predict with the encoded image; with_gradcam adds the overlay as a data: URI.
  Reply predict(const std::string& image_bytes, bool with_gradcam);

 private:
  Classifier classifier_;
  DecisionRule rule_;
  Device device_;
  std::string model_json_;
  // The engine's forward and backward passes (Grad-CAM) share state that is not safe to use from
  // two threads at once - the autograd mode, the modules' cached activations, the OpenMP pool that
  // already uses every core for one image - so requests decode in parallel but run the model one
  // at a time: no throughput is lost on a CPU, and no request can see another's tensors.
  std::mutex inference_;
};

// Binds, calls on_listening with the URL to open, and serves until the process ends. Throws
// busi::Error when the address cannot be bound.
void run_server(PredictService& service, const ServeOptions& options,
                const std::function<void(const std::string& url)>& on_listening);

}  // namespace busi::tools
