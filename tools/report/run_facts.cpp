// Facts about one run for the report (see run_facts.h).
#include "tools/report/run_facts.h"

#include <cmath>
#include <optional>
#include <utility>

#include "tools/report/format.h"

namespace busi::tools {

namespace {

// How many of the conv layers had ImageNet weights (loaded, total), when config.json says.
std::optional<std::pair<int64_t, int64_t>> imagenet_layers(const RunFolder& run) {
  const Json* loaded = run.config.find("imagenet_layers_loaded");
  const Json* total = run.config.find("imagenet_layers_total");
  if (!loaded || !total || !loaded->is_number() || !total->is_number()) return std::nullopt;
  return std::pair{loaded->as_int(), total->as_int()};
}

}  // namespace

// The first of several keys found in config.json, then in metrics.json, as display text.
std::string run_fact(const RunFolder& run, std::initializer_list<const char*> keys) {
  for (const Json* doc : {&run.config, &run.summary})
    for (const char* key : keys)
      if (const Json* v = doc->find(key); v && !v->is_null()) return v->to_display_string();
  return "";
}

// A few words for a run's initialisation, to tell apart two runs of one model in the report's
// headings: "random init", "ImageNet 5/13"; "" when config.json does not say.
std::string short_initialisation(const RunFolder& run) {
  if (const auto layers = imagenet_layers(run))
    return layers->first == 0
               ? "random init"
               : "ImageNet " + std::to_string(layers->first) + "/" + std::to_string(layers->second);
  return run_fact(run, {"init"}) == "random" ? "random init" : "";
}

std::string describe_initialisation(const RunFolder& run) {
  const std::string init = run_fact(run, {"init"});
  if (const auto layers = imagenet_layers(run)) {
    if (layers->first == 0) return "random (no ImageNet weights loaded)";
    return "ImageNet weights: " + std::to_string(layers->first) + " of " +
           std::to_string(layers->second) + " conv layers";
  }
  if (init == "random") return "random (no ImageNet weights)";
  if (run.model == "simple_cnn") return "trained from scratch (random initialisation)";
  if (run.model == "vgg16") return "ImageNet weights: not recorded in config.json";
  return init.empty() ? std::string(kDash) : init;
}

double summary_number(const RunFolder& run, const char* key) {
  const Json* v = run.summary.find(key);
  return v && v->is_number() ? v->as_number() : std::nan("");
}

// "12 (head 2, finetune 10)" for a run with phases.
std::string describe_epochs(const RunFolder& run) {
  std::vector<std::pair<std::string, int>> phases;
  for (const HistoryRow& e : run.history) {
    if (phases.empty() || phases.back().first != e.phase) phases.push_back({e.phase, 0});
    ++phases.back().second;
  }
  std::string text = std::to_string(run.history.size());
  if (phases.size() > 1) {
    text += " (";
    for (size_t i = 0; i < phases.size(); ++i)
      text += (i ? ", " : "") + phases[i].first + " " + std::to_string(phases[i].second);
    text += ")";
  }
  return text;
}

// "12 (validation macro-F1 0.812)", from metrics.json.
std::string describe_best_epoch(const RunFolder& run) {
  const double epoch = summary_number(run, "best_epoch");
  if (!std::isfinite(epoch)) return kDash;
  const double f1 = summary_number(run, "best_val_macro_f1");
  return std::to_string(static_cast<int64_t>(epoch)) +
         (std::isfinite(f1) ? " (validation macro-F1 " + fmt_metric(f1) + ")" : "");
}

}  // namespace busi::tools
