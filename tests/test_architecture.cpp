// The architecture JSON that runs record and predict / --resume read back
// (tools/train/architecture.h): each model's configuration survives the round trip, older
// checkpoints get their implied values, and a broken architecture is a clear error.
#include <doctest/doctest.h>

#include "kernels/common/error.h"
#include "tools/train/architecture.h"

using namespace busi;
using namespace busi::tools;

TEST_CASE("architecture: a SimpleCNN configuration survives the JSON round trip") {
  models::SimpleCNNConfig config;
  config.in_channels = 3;
  config.num_classes = 4;
  config.width = 8;
  config.blocks = 2;
  config.dropout = 0.25f;
  config.seed = 7;
  const Json a = architecture_json(config);
  CHECK(a.at("seed").as_int() == 7);  // recorded, though not read back: the weights replace it
  const models::SimpleCNNConfig back = simple_cnn_config(parse_json(a.dump(0)), "test");
  CHECK(back.in_channels == 3);
  CHECK(back.num_classes == 4);
  CHECK(back.width == 8);
  CHECK(back.blocks == 2);
  CHECK(back.dropout == doctest::Approx(0.25));
}

TEST_CASE("architecture: VGG16's centred head is kept, and off where a checkpoint predates it") {
  for (bool centred : {false, true}) {
    models::VGG16Config config;
    config.num_classes = 2;
    config.dropout = 0.1f;
    config.center_head = centred;
    const Json a = architecture_json(config);
    CHECK(a.at("center_head").as_bool() == centred);
    const models::VGG16Config back = vgg16_config(parse_json(a.dump(0)), "test");
    CHECK(back.num_classes == 2);
    CHECK(back.dropout == doctest::Approx(0.1));
    CHECK(back.center_head == centred);
  }
  const Json old = parse_json(R"({"num_classes": 3, "dropout": 0.5, "seed": 42})");
  CHECK_FALSE(vgg16_config(old, "an old checkpoint").center_head);
}

TEST_CASE("architecture: a missing or mistyped field names the file and the field") {
  CHECK_THROWS_WITH_AS(simple_cnn_config(parse_json(R"({"in_channels": 1})"), "checkpoint 'x'"),
                       doctest::Contains("checkpoint 'x': the architecture has no 'num_classes'"),
                       Error);
  CHECK_THROWS_WITH_AS(
      vgg16_config(parse_json(R"({"num_classes": 3, "dropout": 0.5, "center_head": 1})"),
                   "checkpoint 'y'"),
      doctest::Contains("checkpoint 'y': the architecture's 'center_head': json: expected a "
                        "boolean"),
      Error);
  CHECK_THROWS_WITH_AS(vgg16_config(parse_json(R"({"num_classes": 2.5, "dropout": 0.5})"), "z"),
                       doctest::Contains("z: the architecture's 'num_classes'"), Error);
}

TEST_CASE("architecture: read from a checkpoint's metadata, or a clear error without it") {
  weights::CheckpointInfo info;
  CHECK_THROWS_WITH_AS(checkpoint_architecture(info, "run/best.safetensors"),
                       doctest::Contains("checkpoint 'run/best.safetensors': no 'architecture'"),
                       Error);
  info.settings["architecture"] = R"({"num_classes": 3, "dropout": 0.5, "center_head": true})";
  CHECK(vgg16_config(checkpoint_architecture(info, "p"), "p").center_head);
}
