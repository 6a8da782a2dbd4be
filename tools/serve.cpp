// serve: a local web page and HTTP API for predictions. Loads a checkpoint of train_simple or
// finetune_vgg, a run folder or a compare folder's fold models ONCE, then answers GET / (a page
// where one drops an ultrasound image and sees the calibrated probabilities, the malignant flag
// at the validation operating point, the Grad-CAM overlay, the model's provenance and any input
// warning), GET /api/model and POST /api/predict (image bytes in, JSON out). Binds to
// 127.0.0.1 unless told otherwise; reads no file but those given here.
#include <cstdio>
#include <iostream>

#include "data/image.h"
#include "tools/cli/command_line.h"
#include "tools/cli/tool_main.h"
#include "tools/predict/classifier.h"
#include "tools/predict/decision.h"
#include "tools/serve/server.h"

using namespace busi;
using namespace busi::tools;

namespace {

int run(int argc, char** argv) {
  std::string checkpoint, model_flag, device_flag = "auto";
  ServeOptions options;
  int port = 8080, max_body_mb = 20, timeout = 10, threads = 8;
  float max_megapixels = 16.0f;
  CommandLine cli("serve",
                  "Serves a page and an HTTP API that classify ultrasound images with a "
                  "checkpoint written by train_simple or finetune_vgg (loaded once).");
  add_classifier_flags(cli, &checkpoint, &model_flag);
  cli.add("--host", &options.host, "ADDRESS",
          "the address to listen on: 127.0.0.1 (this machine only) by default; any other makes "
          "the page reachable from the network");
  cli.add("--port", &port, "N", "the port (0: any free one; the URL printed says which)");
  cli.add("--max-body-mb", &max_body_mb, "MB", "refuse requests larger than this (413)");
  cli.add("--max-image-megapixels", &max_megapixels, "MP",
          "refuse images whose header claims more pixels (1 MP = 2^20), before decoding");
  cli.add("--timeout", &timeout, "S",
          "seconds a client may take to send its request or read the reply, and keep-alive");
  cli.add("--threads", &threads, "N", "connections handled at once (inference runs one at a time)");
  cli.add_choice("--device", &device_flag, {"auto", "cpu", "cuda"}, "where to compute");
  if (!cli.parse(argc, argv)) return 0;
  if (checkpoint.empty()) throw UsageError("--checkpoint PATH is required (see --help)");
  if (port < 0 || port > 65535) throw UsageError("--port must be in [0, 65535]");
  if (max_body_mb < 1 || max_body_mb > 1024) throw UsageError("--max-body-mb must be in [1, 1024]");
  if (timeout < 1 || timeout > 3600) throw UsageError("--timeout must be in [1, 3600] seconds");
  if (threads < 1 || threads > 256) throw UsageError("--threads must be in [1, 256]");
  if (!(max_megapixels > 0.0f && max_megapixels <= 4096.0f))
    throw UsageError("--max-image-megapixels must be in (0, 4096]");
  options.port = port;
  options.max_body_bytes = int64_t(max_body_mb) << 20;
  options.timeout_seconds = timeout;
  options.threads = threads;
  data::set_max_image_pixels(static_cast<int64_t>(double(max_megapixels) * 1048576.0));

  const Device device = choose_device(device_flag);
  Classifier classifier = load_classifier(checkpoint, model_flag, device);
  // predict's default rule: calibrated probabilities, the validation threshold when the run has
  // one; what it says goes to the log, and the API describes it (GET /api/model).
  RuleMessages messages;
  messages.info = [](const std::string& line) { std::printf("%s\n", line.c_str()); };
  messages.note = [](const std::string& note) { std::cerr << "serve: note: " << note << "\n"; };
  const DecisionRule rule =
      decision_rule(classifier, "calibrated", "validation", false, false, messages);
  PredictService service(std::move(classifier), rule, device);

  const bool local =
      options.host == "127.0.0.1" || options.host == "localhost" || options.host == "::1";
  if (!local)
    std::cerr << "serve: warning: listening on " << options.host
              << ": the page and API are reachable from the network, without authentication "
                 "or encryption; a research model must not be offered as a diagnostic service\n";
  run_server(service, options, [](const std::string& url) {
    std::printf(
        "serve: open %s in a browser (API: POST %sapi/predict with the image as body; "
        "GET %sapi/model); Ctrl-C stops\n",
        url.c_str(), url.c_str(), url.c_str());
    std::fflush(stdout);
  });
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run_tool_main("serve", run, argc, argv); }
