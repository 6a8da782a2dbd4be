// Scoring the fold ensembles on an external folder (see external_scoring.h).
#include "tools/compare/external_scoring.h"

#include <omp.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>

#include "data/aligned_similarity.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/image_signature.h"
#include "data/near_duplicates.h"
#include "kernels/common/error.h"
#include "tools/formats/csv.h"
#include "tools/formats/json_value.h"
#include "tools/formats/text_file.h"
#include "tools/metrics/classification.h"
#include "tools/metrics/operating_point.h"
#include "tools/train/ensemble.h"

namespace busi::tools {

namespace fs = std::filesystem;

namespace {

// The images the comparison trained on: fold 1's split.csv, every placed row (each placed image
// is in the training part of the other folds), resolved against the run's data folder.
std::vector<std::string> trained_images(const CvPlan& plan) {
  const std::string dir = plan.fold_dir(1, 1, plan.models[0]);
  const std::string data = trained_data_folder(plan);
  const CsvTable split = read_csv((fs::path(dir) / "split.csv").string());
  const size_t path = split.require_column("path"), subset = split.require_column("subset");
  std::vector<std::string> files;
  for (const auto& row : split.rows)
    if (row[subset] != "excluded") files.push_back((fs::path(data) / row[path]).string());
  return files;
}

std::vector<data::ImageSignature> signatures_of(const std::vector<std::string>& files) {
  std::vector<data::ImageSignature> s(files.size());
  std::vector<std::string> errors(files.size());
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < static_cast<int64_t>(files.size()); ++i) {
    try {
      s[i] = data::make_signature(data::decode_image_file(files[i], 1));
    } catch (const std::exception& e) {
      errors[i] = e.what();
    }
  }
  for (const std::string& e : errors) BUSI_CHECK(e.empty(), e);
  return s;
}

struct Seen {
  int64_t partner = -1;  // index into the trained images; -1: not seen
  float plain = -2, fine = -2;
};

// For each external image, a trained image it is a near-duplicate of, by the grouping's rules:
// the plain measure on every pair, the fine one where the 16 px keys pass the gate.
std::vector<Seen> find_seen(const std::vector<data::ImageSignature>& external,
                            const std::vector<data::ImageSignature>& trained) {
  const data::NearDuplicateOptions rules;
  std::vector<data::TargetPyramid> targets(trained.size());
#pragma omp parallel for schedule(dynamic, 8)
  for (int64_t t = 0; t < static_cast<int64_t>(trained.size()); ++t)
    targets[t] = data::make_target_pyramid(trained[t]);
  std::vector<Seen> seen(external.size());
#pragma omp parallel for schedule(dynamic, 2)
  for (int64_t e = 0; e < static_cast<int64_t>(external.size()); ++e) {
    const data::QueryPyramid query = data::make_query_pyramid(external[e]);
    const data::TargetPyramid target = data::make_target_pyramid(external[e]);
    for (size_t t = 0; t < trained.size() && seen[e].partner < 0; ++t) {
      const float plain = data::plain_correlation_any_filter(external[e], trained[t]);
      float fine = -2.0f;
      if (data::key_correlation(external[e], trained[t]) >= rules.gate) {
        const data::QueryPyramid other = data::make_query_pyramid(trained[t]);
        fine = std::max(data::directional_similarity(query, targets[t]),
                        data::directional_similarity(other, target));
      }
      if (data::is_near_duplicate(plain, fine, rules))
        seen[e] = {static_cast<int64_t>(t), plain, fine};
    }
  }
  return seen;
}

Json subset_metrics(const std::vector<int64_t>& labels,
                    const std::vector<std::vector<float>>& probs,
                    const std::vector<std::string>& classes, const std::vector<char>& keep,
                    int rounds) {
  std::vector<int64_t> l;
  std::vector<std::vector<float>> p;
  for (size_t i = 0; i < labels.size(); ++i)
    if (keep[i]) l.push_back(labels[i]), p.push_back(probs[i]);
  if (l.empty()) return Json();
  return metrics_to_json_value(compute_metrics(l, p, classes, rounds));
}

}  // namespace

std::string external_name(const std::string& folder) {
  std::string name = fs::path(folder).lexically_normal().filename().string();
  if (name.empty() || name == "." || name == "..")
    name = fs::absolute(folder).lexically_normal().filename().string();
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  return name.empty() ? "external" : name;
}

std::string score_external_folder(const CvPlan& plan, const std::string& folder, Device device,
                                  const ExternalOptions& options) {
  data::ScanOptions scan;
  scan.verify_decode = false;
  const data::DatasetIndex index = data::scan_folder(folder, scan);
  const fs::path out = fs::path(plan.out) / "external" / external_name(folder);
  fs::create_directories(out);
  std::cout << "\n== compare: external folder " << folder << ": " << index.summary() << "\n";

  // Near-duplicates of the images the comparison trained on.
  const std::vector<std::string> trained = trained_images(plan);
  std::vector<std::string> files;
  for (const auto& s : index.samples) files.push_back(s.path);
  const std::vector<Seen> seen = find_seen(signatures_of(files), signatures_of(trained));
  std::vector<char> is_seen(files.size()), is_unseen(files.size()), all(files.size(), 1);
  CsvWriter seen_csv((out / "seen.csv").string(), {"path", "class", "trained_on", "plain", "fine"});
  Json seen_list = Json::array();
  for (size_t i = 0; i < files.size(); ++i) {
    is_seen[i] = seen[i].partner >= 0;
    is_unseen[i] = !is_seen[i];
    if (!is_seen[i]) continue;
    const std::string& partner = trained[static_cast<size_t>(seen[i].partner)];
    seen_csv.write_row({index.samples[i].relative_path,
                        index.classes[static_cast<size_t>(index.samples[i].label)], partner,
                        seen[i].plain, seen[i].fine});
    Json s = Json::object();
    s["path"] = index.samples[i].relative_path;
    s["trained_on"] = partner;
    s["plain"] = seen[i].plain;
    s["fine"] = seen[i].fine;
    seen_list.push_back(s);
  }
  seen_csv.commit();
  const int64_t n_seen = std::count(is_seen.begin(), is_seen.end(), 1);
  std::cout << "   " << n_seen << " of " << files.size()
            << " images are near-duplicates of images the comparison trained on (seen)\n";

  Json doc = Json::object();
  doc["folder"] = folder;
  doc["images"] = static_cast<int64_t>(files.size());
  doc["seen_images"] = n_seen;
  doc["seen"] = seen_list;
  doc["test_time_flip"] = options.flip;
  Json& models = doc["models"] = Json::object();
  for (const std::string& model : plan.models) {
    const Ensemble e = load_ensemble(plan.out, model, device);
    // The folder's classes by name, in the models' order.
    std::vector<int64_t> label_of(index.classes.size());
    for (size_t c = 0; c < index.classes.size(); ++c) {
      const auto it = std::find(e.class_names.begin(), e.class_names.end(), index.classes[c]);
      BUSI_CHECK(it != e.class_names.end(), folder, ": class folder '", index.classes[c],
                 "' is not one the models know (", e.class_names.size(),
                 " classes: ", e.class_names.front(), " ...)");
      label_of[c] = it - e.class_names.begin();
    }
    std::vector<int64_t> labels;
    std::vector<std::vector<float>> probs;
    std::vector<std::string> header = {"path", "label", "seen"};
    for (const std::string& c : e.class_names) header.push_back("prob_" + c);
    CsvWriter predictions((out / ("predictions_" + model + ".csv")).string(), header);
    for (size_t i = 0; i < files.size(); ++i) {
      const data::Image decoded = data::decode_image_file(files[i], e.members.front().channels);
      const std::vector<double> p = ensemble_probabilities(e, decoded, device, options.flip);
      labels.push_back(label_of[static_cast<size_t>(index.samples[i].label)]);
      probs.emplace_back(p.begin(), p.end());
      std::vector<CsvField> row = {index.samples[i].relative_path,
                                   e.class_names[static_cast<size_t>(labels.back())],
                                   is_seen[i] ? 1 : 0};
      for (double v : p) row.push_back(v);
      predictions.write_row(row);
    }
    predictions.commit();
    Json m = Json::object();
    m["members"] = static_cast<int64_t>(e.members.size());
    m["all"] = subset_metrics(labels, probs, e.class_names, all, options.bootstrap_rounds);
    m["unseen"] = subset_metrics(labels, probs, e.class_names, is_unseen, options.bootstrap_rounds);
    m["seen"] = subset_metrics(labels, probs, e.class_names, is_seen, options.bootstrap_rounds);
    const auto mal = std::find(e.class_names.begin(), e.class_names.end(), kMalignantClass);
    if (mal != e.class_names.end() && e.malignant_threshold) {
      const auto k = static_cast<size_t>(mal - e.class_names.begin());
      std::vector<int> positive, flagged;
      for (size_t i = 0; i < files.size(); ++i)
        if (is_unseen[i]) {
          positive.push_back(labels[i] == static_cast<int64_t>(k));
          flagged.push_back(probs[i][k] >= *e.malignant_threshold);
        }
      Json op = Json::object();
      op["threshold"] = *e.malignant_threshold;
      const BinaryRates r = binary_rates(positive, flagged, options.bootstrap_rounds);
      op["sensitivity"] = r.sensitivity;
      op["sensitivity_ci95"] = interval_json(r.sensitivity_ci);
      op["specificity"] = r.specificity;
      op["specificity_ci95"] = interval_json(r.specificity_ci);
      m["malignant_unseen"] = op;
    }
    models[model] = m;
  }
  const std::string path = (out / "external.json").string();
  write_text_file(path, doc.dump(2) + "\n");
  return path;
}

}  // namespace busi::tools
