// The facts of the two runs side by side (see side_by_side.h).
#include "tools/report/side_by_side.h"

#include <algorithm>
#include <cmath>

#include "tools/report/format.h"
#include "tools/report/run_facts.h"

namespace busi::tools {

namespace {

// config.json as (key, text) pairs; nested objects become dotted keys ("architecture.width").
void flatten_settings(const Json& value, const std::string& prefix,
                      std::vector<std::pair<std::string, std::string>>& out) {
  if (!value.is_object() || value.size() == 0) {
    out.emplace_back(prefix, value.to_display_string());
    return;
  }
  for (const auto& [key, child] : value.items())
    flatten_settings(child, prefix.empty() ? key : prefix + "." + key, out);
}

}  // namespace

FactRows model_facts(const Comparison& c) {
  const auto both = [&](auto fn) { return std::make_pair(fn(c.a), fn(c.b)); };
  const auto or_dash = [](std::string s) { return s.empty() ? std::string(kDash) : s; };
  return {
      {"Initialisation", both([](const RunFolder& r) { return describe_initialisation(r); })},
      {"Parameters (total)",
       both([](const RunFolder& r) { return fmt_parameters(summary_number(r, "parameters")); })},
      {"Parameters (trainable)", both([](const RunFolder& r) {
         return fmt_parameters(summary_number(r, "trainable_parameters"));
       })},
      {"Preset", both([&](const RunFolder& r) { return or_dash(run_fact(r, {"preset"})); })},
      {"Epochs run", both([](const RunFolder& r) { return describe_epochs(r); })},
      {"Best epoch (tested checkpoint)",
       both([](const RunFolder& r) { return describe_best_epoch(r); })},
      {"Training time", both([](const RunFolder& r) {
         return fmt_duration(summary_number(r, "training_seconds"));
       })},
      {"Training throughput, mean of epochs (img/s)", both([](const RunFolder& r) {
         const double x = summary_number(r, "mean_img_per_s");
         return std::isfinite(x) ? printf_string("%.1f", x) : std::string(kDash);
       })},
      {"Overall throughput (img/s, validation and feature caching included)",
       both([](const RunFolder& r) {
         const double x = summary_number(r, "overall_img_per_s");
         return std::isfinite(x) ? printf_string("%.1f", x) : std::string(kDash);
       })},
      {"Test images",
       both([](const RunFolder& r) { return fmt_count(static_cast<int64_t>(r.paths.size())); })},
      {"Device", both([&](const RunFolder& r) { return or_dash(run_fact(r, {"device"})); })},
  };
}

FactRows environment_facts(const Comparison& c) {
  const auto fact = [&](std::initializer_list<const char*> keys) {
    const auto get = [&](const RunFolder& r) {
      const std::string v = run_fact(r, keys);
      return v.empty() ? std::string(kDash) : v;
    };
    return std::make_pair(get(c.a), get(c.b));
  };
  return {
      {"Device", fact({"device"})},
      {"GPU", fact({"gpu_name", "gpu", "device_name"})},
      {"Engine git commit", fact({"git_commit", "commit"})},
      {"Compiler", fact({"compiler"})},
      {"CUDA / cuDNN", fact({"cuda_version", "cudnn_version", "cuda"})},
      {"Run started", fact({"created", "started_at", "date", "start_time", "timestamp"})},
      {"Host", fact({"host", "hostname", "cpu"})},
      {"Run folder", {c.a.dir, c.b.dir}},
  };
}

// The union of both runs' settings, in the first run's order, then the second's extra keys.
std::vector<SettingRow> setting_rows(const Comparison& c) {
  std::vector<std::pair<std::string, std::string>> flat_a, flat_b;
  flatten_settings(c.a.config, "", flat_a);
  flatten_settings(c.b.config, "", flat_b);
  const auto lookup = [](const auto& flat, const std::string& key) {
    for (const auto& [k, v] : flat)
      if (k == key) return v;
    return std::string(kDash);
  };
  std::vector<SettingRow> rows;
  for (const auto* flat : {&flat_a, &flat_b})
    for (const auto& [key, text] : *flat) {
      const bool seen =
          std::any_of(rows.begin(), rows.end(), [&](const SettingRow& r) { return r.key == key; });
      if (!seen) rows.push_back({key, lookup(flat_a, key), lookup(flat_b, key)});
    }
  return rows;
}

}  // namespace busi::tools
