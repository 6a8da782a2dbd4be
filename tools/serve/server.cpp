// serve's routes and limits (see server.h).
#include "tools/serve/server.h"

#include <httplib.h>

#include <exception>

#include "kernels/common/error.h"
#include "tools/audit/png_data_uri.h"
#include "tools/predict/predict_image.h"
#include "tools/serve/api_json.h"
#include "tools/serve/page.h"

namespace busi::tools {

PredictService::PredictService(Classifier classifier, DecisionRule rule, Device device)
    : classifier_(std::move(classifier)), rule_(rule), device_(device) {
  model_json_ = model_json(classifier_, rule_).dump(2);
}

Reply PredictService::predict(const std::string& image_bytes, bool with_gradcam) {
  if (image_bytes.empty())
    return {400, error_json("empty request: send the PNG or JPEG file as the request body "
                            "(curl --data-binary @image.png) or as a multipart form field")};
  InputImage input;
  try {
    // The trainers' bounded decoder: the header's size is checked against the pixel limit
    // before anything is decoded, and a truncated or foreign file is refused with its reason.
    const std::vector<uint8_t> bytes(image_bytes.begin(), image_bytes.end());
    input = decode_input(classifier_, bytes, "the uploaded file");
  } catch (const Error& e) {
    return {422, error_json(e.what())};
  }
  Json answer;
  {
    std::lock_guard<std::mutex> lock(inference_);
    Prediction p = classify(classifier_, rule_, input.decoded, device_);
    p.warnings = input.warnings;
    answer = prediction_json(classifier_, rule_, p, input.decoded);
    if (with_gradcam)
      answer["gradcam"] =
          png_data_uri(gradcam_overlay(classifier_, input.decoded, p.predicted, device_));
  }
  answer["model"] = parse_json(model_json_, "model");
  return {200, answer.dump(2)};
}

namespace {

constexpr const char* kJson = "application/json";

// The page needs nothing from elsewhere: scripts, styles and images are inline or data: URIs,
// and it talks only to this server.
void security_headers(httplib::Response& res) {
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                 "img-src data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Cache-Control", "no-store");
}

// The image of a request: the body itself, or the "image" field (else the first file) of a
// multipart form upload.
std::string uploaded_bytes(const httplib::Request& req) {
  if (!req.is_multipart_form_data()) return req.body;
  if (req.has_file("image")) return req.get_file_value("image").content;
  return req.files.empty() ? std::string() : req.files.begin()->second.content;
}

std::string status_message(int status) {
  switch (status) {
    case 404:
      return "no such page: this server answers GET /, GET /api/model, POST /api/predict";
    case 405:
      return "method not allowed here";
    case 413:
      return "request too large";
    case 408:
      return "request timed out";
    default:
      return "bad request";
  }
}

}  // namespace

void run_server(PredictService& service, const ServeOptions& options,
                const std::function<void(const std::string& url)>& on_listening) {
  httplib::Server server;
  const int threads = options.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_payload_max_length(static_cast<size_t>(options.max_body_bytes));
  server.set_read_timeout(options.timeout_seconds, 0);
  server.set_write_timeout(options.timeout_seconds, 0);
  server.set_keep_alive_timeout(options.timeout_seconds);

  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    security_headers(res);
    res.set_content(std::string(serve_page()), "text/html; charset=utf-8");
  });
  server.Get("/api/model", [&service](const httplib::Request&, httplib::Response& res) {
    security_headers(res);
    res.set_content(service.model(), kJson);
  });
  // Query parameters other than gradcam are ignored: nothing a client sends names a file.
  server.Post("/api/predict", [&service](const httplib::Request& req, httplib::Response& res) {
    security_headers(res);
    const bool gradcam = req.has_param("gradcam") && req.get_param_value("gradcam") == "1";
    Reply reply;
    try {
      reply = service.predict(uploaded_bytes(req), gradcam);
    } catch (const std::exception& e) {  // the model failed on a decoded image: our fault
      reply = {500, error_json(std::string("prediction failed: ") + e.what())};
    }
    res.status = reply.status;
    res.set_content(reply.body, kJson);
  });
  // Every error without a body of its own (unknown path, too large, timed out...) gets a JSON one.
  const httplib::Server::HandlerWithResponse json_errors = [](const httplib::Request& req,
                                                              httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message = status_message(res.status);
    if (res.status == 413) {
      // cpp-httplib caps form-urlencoded bodies at 8 KB, whatever the limit: curl's
      // --data-binary sends that type unless told otherwise.
      if (req.get_header_value("Content-Type").find("application/x-www-form-urlencoded") == 0)
        message +=
            ": a form-urlencoded body is limited to 8 KB; send the image with Content-Type "
            "image/png, image/jpeg or application/octet-stream (curl -H 'Content-Type: "
            "image/png' --data-binary @image.png)";
      else
        message += ": over the limit set by serve --max-body-mb";
    }
    security_headers(res);
    res.set_content(error_json(message), kJson);
    return httplib::Server::HandlerResponse::Handled;
  };
  server.set_error_handler(json_errors);

  int port = options.port;
  if (port == 0) {
    port = server.bind_to_any_port(options.host);
    BUSI_CHECK(port > 0, "cannot listen on ", options.host, " (any port)");
  } else {
    BUSI_CHECK(server.bind_to_port(options.host, port), "cannot listen on ", options.host, ":",
               port, " (in use, or not an address of this machine)");
  }
  std::string url = "http://";
  url += options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
  url += ":";
  url += std::to_string(port);
  url += "/";
  on_listening(url);
  server.listen_after_bind();
}

}  // namespace busi::tools
