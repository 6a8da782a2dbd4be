// serve as people use it: started on a free loopback port with a tiny checkpoint, its API checked
// against predict --csv on a real BUSI image, hostile requests (a PNG bomb, 100 MB, truncated and
// random bytes, paths, a slow client) each refused while it keeps answering, the input warnings
// of predict and serve, and the page in headless Chromium (tests/js/serve_browser_test.js).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "data/image.h"
#include "tests/tool_runner.h"
#include "tools/explain/gradcam.h"
#include "tools/formats/csv.h"
#include "tools/formats/json_value.h"

using namespace busi;
using namespace busi::tools;
namespace fs = std::filesystem;

namespace {

const std::string kBusi = std::string(BUSI_SHARED_DIR) + "/busi";
const std::string& kTools = test::kToolsDir;
const std::string kBenign = kBusi + "/benign/benign (10).png";
const std::string kMalignant = kBusi + "/malignant/malignant (10).png";

std::string slurp(const fs::path& p) { return test::read_whole_file(p); }

// The scratch folder and the tool runner of tests/tool_runner.h, for this file.
const fs::path& scratch() { return test::scratch_folder("test_serve"); }
using RunResult = test::ToolRun;
RunResult run_command(const std::string& line) { return test::run_command(scratch(), line); }
RunResult run_tool(const std::string& tool, const std::string& args) {
  return test::run_tool(scratch(), tool, args);
}

bool ready() {
  if (!fs::is_directory(kBusi)) {
    MESSAGE("skipped: no BUSI images at " << kBusi);
    return false;
  }
  for (const char* tool : {"train_simple", "predict", "serve"})
    if (!fs::exists(kTools + tool)) {
      FAIL("build the tool first: " << kTools << tool << " is missing");
      return false;
    }
  return true;
}

// A tiny SimpleCNN trained once (a second on a CPU).
std::string checkpoint() {
  const std::string dir = (scratch() / "simple").string();
  if (!fs::exists(dir + "/best.safetensors")) {
    const RunResult r = run_tool("train_simple",
                                 "--limit-per-class 6 --img-size 32 --epochs 1 --device cpu "
                                 "--workers 1 --out '" +
                                     dir + "'");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
  return dir;
}

// serve started on a free port (--port 0: it prints the URL), stopped when this goes.
class Server {
 public:
  explicit Server(const std::string& args) {
    log_ = scratch() / ("serve" + std::to_string(++count_) + ".log");
    pid_ = fork();
    if (pid_ == 0) {
      const std::string command =
          "exec '" + kTools + "serve' " + args + " > '" + log_.string() + "' 2>&1";
      execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 600 && port_ == 0; ++i) {  // up to 30 s on a busy machine
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const std::string log = slurp(log_);
      const size_t at = log.find("open http://127.0.0.1:");
      if (at != std::string::npos) port_ = std::atoi(log.c_str() + at + 22);
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
    }
  }
  ~Server() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  std::string log() const { return slurp(log_); }

 private:
  static inline int count_ = 0;
  fs::path log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

struct HttpReply {
  int status = 0;  // 0: the connection closed without an answer
  std::string body;
};

int connect_to(int port, double timeout_s) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{static_cast<time_t>(timeout_s),
             static_cast<suseconds_t>((timeout_s - static_cast<int>(timeout_s)) * 1e6)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

// Everything the server sends until it closes (or `timeout_s` passes with nothing), parsed.
HttpReply read_reply(int fd) {
  std::string raw;
  char buffer[65536];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    raw.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  HttpReply reply;
  if (raw.rfind("HTTP/1.1 ", 0) == 0) reply.status = std::atoi(raw.c_str() + 9);
  const size_t body = raw.find("\r\n\r\n");
  if (body != std::string::npos) reply.body = raw.substr(body + 4);
  return reply;
}

// One request on its own connection ("Connection: close"); send errors are ignored (a server
// may close before reading a body it refuses), the answer is whatever came back.
HttpReply http(int port, const std::string& method, const std::string& target,
               const std::string& body = "",
               const std::string& content_type = "application/octet-stream") {
  const int fd = connect_to(port, 30.0);
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  request += "Connection: close\r\nContent-Type: " + content_type + "\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  request += body;
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  return read_reply(fd);
}

std::string error_of(const HttpReply& r) {
  const Json j = parse_json(r.body, "error reply");
  return j.at("error").as_string();
}

// predict --csv's probabilities of one image, by class name.
Json predict_csv(const std::string& dir, const std::string& image) {
  const RunResult r =
      run_tool("predict", "--csv --device cpu --checkpoint '" + dir + "' '" + image + "'");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const CsvTable table = parse_csv(r.out, "predict --csv");
  REQUIRE(table.rows.size() == 1);
  Json probs = Json::object();
  for (const char* name : {"benign", "malignant", "normal"})
    probs[name] = table.number(0, table.require_column(std::string("prob_") + name));
  probs["pred"] = table.rows[0][1];
  return probs;
}

}  // namespace

TEST_CASE("serve: the API gives predict's probabilities and describes the model") {
  if (!ready()) return;
  const std::string dir = checkpoint();
  Server server("--checkpoint '" + dir + "' --port 0 --device cpu");
  INFO(server.log());
  REQUIRE(server.port() > 0);
  CHECK(server.log().find("serve: open http://127.0.0.1:") != std::string::npos);

  const HttpReply model = http(server.port(), "GET", "/api/model");
  REQUIRE(model.status == 200);
  const Json m = parse_json(model.body, "/api/model");
  CHECK(m.at("model").as_string() == "SimpleCNN");
  CHECK(m.at("classes").size() == 3);
  CHECK(m.at("provenance")[0].at("data").as_string() == kBusi);
  CHECK(m.at("decision").as_string().find("90 % sensitivity") != std::string::npos);
  CHECK(m.at("research_only").as_string().find("not a diagnostic device") != std::string::npos);

  for (const std::string& image : {kBenign, kMalignant}) {
    CAPTURE(image);
    const Json expected = predict_csv(dir, image);
    const HttpReply reply = http(server.port(), "POST", "/api/predict", slurp(image), "image/png");
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    const Json r = parse_json(reply.body, "/api/predict");
    // Both print the shortest text that reads back as the same double: equal, not close.
    for (const char* name : {"benign", "malignant", "normal"})
      CHECK(r.at("probabilities").at(name).as_number() == expected.at(name).as_number());
    CHECK(r.at("decision").as_string() == expected.at("pred").as_string());
    const double threshold = m.at("threshold").as_number();
    CHECK(r.at("threshold").as_number() == threshold);
    CHECK(r.at("malignant_flag").as_bool() ==
          (r.at("probabilities").at("malignant").as_number() >= threshold));
    CHECK(r.at("warnings").size() == 0);
    CHECK(r.at("image").at("width").as_int() == 256);
    CHECK(!r.contains("gradcam"));
  }
  // A multipart form upload is the same image; ?gradcam=1 adds the overlay as a PNG data URI.
  std::string form =
      "--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"b.png\"\r\n";
  form += "Content-Type: image/png\r\n\r\n" + slurp(kBenign) + "\r\n--XyZ--\r\n";
  const HttpReply multipart = http(server.port(), "POST", "/api/predict?gradcam=1", form,
                                   "multipart/form-data; boundary=XyZ");
  REQUIRE(multipart.status == 200);
  const Json mp = parse_json(multipart.body, "multipart");
  CHECK(mp.at("probabilities").at("benign").as_number() ==
        predict_csv(dir, kBenign).at("benign").as_number());
  CHECK(mp.at("gradcam").as_string().rfind("data:image/png;base64,", 0) == 0);

  // The page: self-contained, with the research warning.
  const HttpReply page = http(server.port(), "GET", "/");
  REQUIRE(page.status == 200);
  CHECK(page.body.find("not a diagnostic device") != std::string::npos);
  CHECK(page.body.find("src=\"http") == std::string::npos);
  CHECK(page.body.find("https://") == std::string::npos);
}

TEST_CASE("serve: hostile requests get a 4xx or a closed connection, and it keeps answering") {
  if (!ready()) return;
  const std::string dir = checkpoint();
  Server server("--checkpoint '" + dir + "' --port 0 --device cpu --timeout 1 --max-body-mb 20");
  INFO(server.log());
  REQUIRE(server.port() > 0);
  const int port = server.port();
  const std::string png = slurp(kBenign);

  // A PNG bomb: a real PNG whose header claims 30000 x 30000 pixels (2.6 GB as RGB).
  std::string bomb = png;
  for (int k = 0; k < 4; ++k) bomb[16 + k] = bomb[20 + k] = char(uint32_t(30000) >> (24 - 8 * k));
  const auto start = std::chrono::steady_clock::now();
  const HttpReply b = http(port, "POST", "/api/predict", bomb, "image/png");
  CHECK(b.status == 422);
  CHECK(error_of(b).find("claims 30000 x 30000 pixels") != std::string::npos);
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 5.0);

  // 100 MB: refused from its Content-Length before it is read (413), or the connection closed.
  const HttpReply huge = http(port, "POST", "/api/predict", std::string(100 << 20, 'x'));
  CHECK((huge.status == 413 || huge.status == 0));
  if (huge.status == 413) CHECK(error_of(huge).find("--max-body-mb") != std::string::npos);
  // The header alone says the same, every time.
  {
    const int fd = connect_to(port, 10.0);
    const std::string head =
        "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
        "Content-Length: 104857600\r\n\r\n";
    REQUIRE(send(fd, head.data(), head.size(), MSG_NOSIGNAL) == ssize_t(head.size()));
    const HttpReply r = read_reply(fd);
    CHECK(r.status == 413);
  }
  // curl --data-binary without a Content-Type: the 8 KB form limit, and how to send an image.
  const HttpReply form =
      http(port, "POST", "/api/predict", png, "application/x-www-form-urlencoded");
  CHECK(form.status == 413);
  CHECK(error_of(form).find("Content-Type") != std::string::npos);

  const HttpReply truncated =
      http(port, "POST", "/api/predict", png.substr(0, png.size() / 2), "image/png");
  CHECK(truncated.status == 422);
  CHECK(error_of(truncated).find("the uploaded file") != std::string::npos);

  std::string noise(5000, '\0');
  uint32_t state = 12345;
  for (char& c : noise) c = char((state = state * 1664525u + 1013904223u) >> 24);
  const HttpReply random = http(port, "POST", "/api/predict", noise);
  CHECK(random.status == 422);
  CHECK(error_of(random).find("not a PNG or JPEG image") != std::string::npos);

  const HttpReply empty = http(port, "POST", "/api/predict", "");
  CHECK(empty.status == 400);
  CHECK(error_of(empty).find("empty request") != std::string::npos);

  // Paths: nothing a client sends names a file the server reads.
  for (const char* target : {"/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/etc/passwd"}) {
    CAPTURE(target);
    const HttpReply r = http(port, "GET", target);
    CHECK(r.status == 404);
    CHECK(r.body.find("root:") == std::string::npos);
  }
  const HttpReply query = http(port, "POST", "/api/predict?path=/etc/passwd", "");
  CHECK(query.status == 400);
  CHECK(query.body.find("root:") == std::string::npos);
  const HttpReply body_path = http(port, "POST", "/api/predict", "/etc/passwd");
  CHECK(body_path.status == 422);
  CHECK(body_path.body.find("root:") == std::string::npos);
  CHECK(http(port, "DELETE", "/api/predict").status >= 400);

  // A slow client: half a request, then silence past the timeout (1 s): the server hangs up.
  {
    const auto t0 = std::chrono::steady_clock::now();
    const int fd = connect_to(port, 10.0);
    const std::string half =
        "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n";
    REQUIRE(send(fd, half.data(), half.size(), MSG_NOSIGNAL) == ssize_t(half.size()));
    REQUIRE(send(fd, png.data(), 100, MSG_NOSIGNAL) == 100);
    const HttpReply r = read_reply(fd);  // returns when the server closes
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE("slow client: answered " << r.status << " and closed after " << waited << " s");
    CHECK((r.status == 0 || (r.status >= 400 && r.status < 500)));
    CHECK(waited < 8.0);  // closed by the server's timeout, not our 10 s receive timeout
  }
  {  // half a request line
    const int fd = connect_to(port, 10.0);
    REQUIRE(send(fd, "GET /api/mo", 11, MSG_NOSIGNAL) == 11);
    const HttpReply r = read_reply(fd);
    CHECK((r.status == 0 || (r.status >= 400 && r.status < 500)));
  }

  // After all that, a good request is answered as before.
  const HttpReply good = http(port, "POST", "/api/predict", png, "image/png");
  CHECK(good.status == 200);
  CHECK(parse_json(good.body, "good").at("probabilities").at("benign").as_number() ==
        predict_csv(dir, kBenign).at("benign").as_number());
}

TEST_CASE("predict and serve warn about a tiny, an elongated and a colour image, and answer") {
  if (!ready()) return;
  const std::string dir = checkpoint();
  const std::string tiny = (scratch() / "tiny.png").string();
  const std::string strip = (scratch() / "strip.png").string();
  const std::string photo = (scratch() / "photo.png").string();
  data::Image t(3, 5, 1);
  write_png(tiny, t);
  data::Image s(100, 400, 1);
  write_png(strip, s);
  data::Image p(120, 160, 3);
  for (int64_t y = 0; y < p.height; ++y)
    for (int64_t x = 0; x < p.width; ++x) {
      p.at(y, x, 0) = uint8_t(x);
      p.at(y, x, 1) = uint8_t(2 * y);
      p.at(y, x, 2) = 40;
    }
  write_png(photo, p);

  const RunResult r = run_tool("predict", "--device cpu --checkpoint '" + dir + "' '" + tiny +
                                              "' '" + strip + "' '" + photo + "'");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("predict: warning: " + tiny + ": the image is 5 x 3 pixels") !=
        std::string::npos);
  CHECK(r.err.find("predict: warning: " + strip + ": the image is 400 x 100 pixels, 4.0:1") !=
        std::string::npos);
  CHECK(r.err.find("predict: warning: " + photo + ": the image is in colour") != std::string::npos);
  for (const std::string& f : {tiny, strip, photo})  // still classified
    CHECK(r.out.find(f + ": ") != std::string::npos);

  Server server("--checkpoint '" + dir + "' --port 0 --device cpu");
  REQUIRE(server.port() > 0);
  const HttpReply reply = http(server.port(), "POST", "/api/predict", slurp(tiny), "image/png");
  REQUIRE(reply.status == 200);
  const Json j = parse_json(reply.body, "tiny");
  REQUIRE(j.at("warnings").size() == 1);
  CHECK(j.at("warnings")[0].as_string().find("5 x 3 pixels") != std::string::npos);
  const HttpReply colour = http(server.port(), "POST", "/api/predict", slurp(photo), "image/png");
  CHECK(parse_json(colour.body, "photo").at("warnings")[0].as_string().find("colour") !=
        std::string::npos);
}

TEST_CASE("serve's page in headless Chromium shows predict's probabilities and the warning") {
  if (!ready()) return;
  const std::string js = std::string(BUSI_SOURCE_DIR) + "/tests/js";
  // CI installs these (scripts/install_deps.sh): their absence is a failure, not a skip.
  REQUIRE_MESSAGE(std::system("command -v node > /dev/null") == 0,
                  "node is not installed (Debian: nodejs; scripts/install_deps.sh)");
  REQUIRE_MESSAGE(fs::is_directory(js + "/node_modules/playwright-core"),
                  js << "/node_modules/playwright-core is missing: run scripts/install_deps.sh");
  REQUIRE_MESSAGE(fs::exists("/usr/bin/chromium"),
                  "/usr/bin/chromium is missing (Debian: chromium; scripts/install_deps.sh)");
  const std::string dir = checkpoint();
  Server server("--checkpoint '" + dir + "' --port 0 --device cpu");
  REQUIRE(server.port() > 0);
  const Json expected = predict_csv(dir, kMalignant);
  const std::string shot = (scratch() / "serve_page.png").string();
  const RunResult r =
      run_command("node '" + js + "/serve_browser_test.js' '" + server.url() + "' '" + kMalignant +
                  "' '" + expected.dump(0) + "' '" + shot + "'");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(fs::exists(shot));
  MESSAGE(r.out);
}
