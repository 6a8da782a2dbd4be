// The shared training loop (see trainer.h): batch sources, evaluation, epochs and phases,
// history, checkpoints, resume, test evaluation.
#include "tools/common/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <numeric>

#include "data/seeds.h"
#include "engine/autograd.h"
#include "kernels/common/error.h"
#include "engine/ops.h"
#include "tools/common/csv.h"
#include "tools/common/progress.h"
#include "tools/common/run_dir.h"
#include "weights/safetensors.h"
#ifdef BUSI_WITH_CUDA
#include "kernels/cuda/runtime/controls.h"
#endif

namespace busi::tools {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Predicted class of each row of logits (N, K) and how many match the labels.
int64_t count_correct(const Tensor& logits, const std::vector<int64_t>& labels) {
  const std::vector<float> values = logits.to_vector();
  const int64_t k = logits.size(1);
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const float* row = values.data() + i * k;
    correct += (std::max_element(row, row + k) - row) == labels[i];
  }
  return correct;
}

std::string percent(double fraction) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%.1f%%", 100.0 * fraction);
  return buffer;
}

std::string fixed(double value, int digits) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

std::string short_float(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", value);
  return buffer;
}

// Every dropout layer of a module tree with its dotted name.
void collect_dropouts(nn::Module& module, const std::string& prefix,
                      std::vector<std::pair<std::string, nn::Dropout*>>& out) {
  for (const auto& [name, child] : module.children()) {
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    if (auto* dropout = dynamic_cast<nn::Dropout*>(child.get())) out.emplace_back(path, dropout);
    collect_dropouts(*child, path, out);
  }
}

}  // namespace

// ---- Batch sources ------------------------------------------------------------------------------

LoaderSource::LoaderSource(const data::ImageCache& cache, std::vector<int64_t> sample_ids,
                           data::LoaderOptions options)
    : loader_(cache, std::move(sample_ids), std::move(options)) {}

std::optional<TrainBatch> LoaderSource::next() {
  std::optional<data::Batch> batch = loader_.next();
  if (!batch) return std::nullopt;
  return TrainBatch{batch->images, std::move(batch->labels), std::move(batch->sample_ids)};
}

TensorSource::TensorSource(Tensor rows, std::vector<int64_t> labels,
                           std::vector<int64_t> sample_ids, int64_t batch_size, bool shuffle,
                           uint64_t seed, int64_t views)
    : rows_(std::move(rows)),
      labels_(std::move(labels)),
      sample_ids_(std::move(sample_ids)),
      batch_size_(batch_size),
      shuffle_(shuffle),
      seed_(seed),
      views_(views) {
  BUSI_CHECK(rows_.defined() && views_ >= 1 &&
                 rows_.size(0) == views_ * static_cast<int64_t>(labels_.size()) &&
                 labels_.size() == sample_ids_.size() && batch_size_ > 0,
             "TensorSource: rows, views, labels and sample ids disagree, or batch size <= 0");
}

void TensorSource::start_epoch(int64_t epoch) {
  const int64_t n = samples_per_epoch();
  if (shuffle_) {
    // The same stream the image loader draws its order from, so both behave alike.
    Generator gen(
        data::derive_seed(seed_, data::SeedStream::Order, {static_cast<uint64_t>(epoch)}));
    order_ = gen.permutation(n);
  } else {
    order_.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order_[static_cast<size_t>(i)] = i;
  }
  if (views_ > 1) {
    // Sample i's view depends on (seed, epoch, i) alone, not on where the order puts it.
    Generator gen(
        data::derive_seed(seed_, data::SeedStream::Augment, {static_cast<uint64_t>(epoch)}));
    std::vector<int64_t> view(static_cast<size_t>(n));
    for (int64_t& v : view) v = gen.randint(views_);
    for (int64_t& row : order_) row += view[static_cast<size_t>(row)] * n;
  }
  position_ = 0;
}

std::optional<TrainBatch> TensorSource::next() {
  const int64_t total = static_cast<int64_t>(order_.size());
  if (position_ >= total) return std::nullopt;
  const int64_t count = std::min(batch_size_, total - position_);
  const int64_t n = samples_per_epoch();
  Shape shape = rows_.shape();
  shape[0] = count;
  TrainBatch batch{Tensor::empty(shape, rows_.device()), {}, {}};
  for (int64_t i = 0; i < count; ++i) {
    const int64_t row = order_[position_ + i];
    batch.inputs.narrow0(i, 1).copy_(rows_.narrow0(row, 1));
    batch.labels.push_back(labels_[row % n]);
    batch.sample_ids.push_back(sample_ids_[row % n]);
  }
  position_ += count;
  return batch;
}

int64_t TensorSource::batches_per_epoch() const {
  return (samples_per_epoch() + batch_size_ - 1) / batch_size_;
}

// ---- Evaluation and frozen features -------------------------------------------------------------

Evaluation evaluate(nn::Module& model, const Forward& forward, BatchSource& source, Device device,
                    int64_t num_classes) {
  const auto start = std::chrono::steady_clock::now();
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  Evaluation result;
  double loss_sum = 0.0;
  source.start_epoch(0);  // evaluation sources are not shuffled: the epoch changes nothing
  while (std::optional<TrainBatch> batch = source.next()) {
    const Tensor logits = forward(batch->inputs.to(device));
    loss_sum += cross_entropy(logits, batch->labels).item() * batch->labels.size();
    const std::vector<float> probs = softmax(logits).to_vector();
    for (size_t i = 0; i < batch->labels.size(); ++i)
      result.probs.emplace_back(probs.begin() + i * num_classes,
                                probs.begin() + (i + 1) * num_classes);
    result.labels.insert(result.labels.end(), batch->labels.begin(), batch->labels.end());
    result.sample_ids.insert(result.sample_ids.end(), batch->sample_ids.begin(),
                             batch->sample_ids.end());
  }
  model.train(was_training);
  if (!result.labels.empty()) {
    const auto confusion =
        confusion_matrix(result.labels, argmax_predictions(result.probs), num_classes);
    int64_t correct = 0;
    for (int64_t c = 0; c < num_classes; ++c) correct += confusion[c][c];
    result.loss = loss_sum / result.labels.size();
    result.accuracy = static_cast<double>(correct) / result.labels.size();
    result.macro_f1 = macro_f1_from_confusion(confusion);
  }
  result.seconds = seconds_since(start);
  return result;
}

Rows compute_rows(const Forward& transform, BatchSource& source, Device device, int64_t epoch) {
  NoGradGuard no_grad;
  Rows out;
  const int64_t total = source.samples_per_epoch();
  int64_t filled = 0;
  source.start_epoch(epoch);
  while (std::optional<TrainBatch> batch = source.next()) {
    const Tensor y = transform(batch->inputs.to(device));
    if (!out.rows.defined()) {  // the output shape is known after the first batch
      Shape shape = y.shape();
      shape[0] = total;
      out.rows = Tensor::empty(shape, device);
    }
    out.rows.narrow0(filled, y.size(0)).copy_(y);
    filled += y.size(0);
    out.labels.insert(out.labels.end(), batch->labels.begin(), batch->labels.end());
    out.sample_ids.insert(out.sample_ids.end(), batch->sample_ids.begin(), batch->sample_ids.end());
  }
  BUSI_CHECK(filled == total, "compute_rows: got ", filled, " rows, expected ", total);
  return out;
}

// ---- Random-number state ------------------------------------------------------------------------

std::map<std::string, weights::RngState> rng_state(nn::Module& model) {
  std::map<std::string, weights::RngState> state;
  state["default"] = weights::rng_state_of(default_generator());
  std::vector<std::pair<std::string, nn::Dropout*>> dropouts;
  collect_dropouts(model, "", dropouts);
  for (const auto& [name, dropout] : dropouts) state[name] = weights::rng_state_of(dropout->gen);
  return state;
}

void set_rng_state(nn::Module& model, const std::map<std::string, weights::RngState>& state) {
  if (const auto it = state.find("default"); it != state.end())
    weights::restore_rng_state(default_generator(), it->second);
  std::vector<std::pair<std::string, nn::Dropout*>> dropouts;
  collect_dropouts(model, "", dropouts);
  for (const auto& [name, dropout] : dropouts)
    if (const auto it = state.find(name); it != state.end())
      weights::restore_rng_state(dropout->gen, it->second);
}

// ---- Trainer ------------------------------------------------------------------------------------

Trainer::Trainer(nn::Module& model, TrainerOptions options)
    : model_(model), options_(std::move(options)) {}

bool Trainer::phase_already_done(const std::string& phase, int64_t epochs) const {
  const bool finished = std::find(state_.finished_phases.begin(), state_.finished_phases.end(),
                                  phase) != state_.finished_phases.end();
  // Extended: the last phase is given more epochs than it was planned with. A phase that ended
  // early (patience) with the same plan stays finished, as in the uninterrupted run.
  const bool extended = phase == state_.phase && epochs > state_.phase_planned_epochs;
  return finished && !extended;
}

void Trainer::resume(const std::string& checkpoint_path) {
  RunCheckpoint checkpoint = load_checkpoint(checkpoint_path, model_, options_.model_name);
  state_ = checkpoint.loop;
  set_rng_state(model_, checkpoint.info.rng);
  pending_optimizer_state_ = std::move(checkpoint.optimizer_state);
  pending_optimizer_phase_ = state_.phase;

  // The history up to the checkpoint's epoch, from the checkpoint's own folder: a later row
  // belongs to an epoch that will now run again.
  namespace fs = std::filesystem;
  const fs::path parent = fs::path(checkpoint_path).parent_path();
  const std::string source_dir = parent.empty() ? "." : parent.string();
  const std::string source_history = source_dir + "/history.csv";
  history_.clear();
  if (fs::exists(source_history))
    for (const HistoryRow& row : read_history(source_history))
      if (row.epoch <= state_.epoch) history_.push_back(row);
  CsvWriter writer(options_.run_dir + "/history.csv", history_header());
  for (const HistoryRow& row : history_) writer.write_row(history_fields(row));
  resumed_ = true;
  // The best checkpoint so far comes along when the run continues in another folder.
  const std::string source_best = source_dir + "/best.safetensors";
  if (fs::exists(source_best) && !fs::exists(best_path())) fs::copy_file(source_best, best_path());
  std::cout << "resumed from " << checkpoint_path << ": " << state_.epoch
            << " epoch(s) done (phase " << state_.phase << ", best val macro-F1 "
            << fixed(state_.best_val_macro_f1, 4) << " at epoch " << state_.best_epoch << ")\n";
}

void Trainer::append_history(const HistoryRow& row) {
  // resume() wrote the file with the rows kept; a fresh run starts it with its first row.
  const bool append = resumed_ || !history_.empty();
  CsvWriter writer(options_.run_dir + "/history.csv", history_header(), append);
  writer.write_row(history_fields(row));
  history_.push_back(row);
}

void Trainer::begin_run() {
  run_started_ = true;
  if (resumed_) return;
  // A fresh run into a folder that holds an earlier run's outputs: remove them, so that no old
  // history row, checkpoint or metric can be taken for this run's.
  namespace fs = std::filesystem;
  std::vector<std::string> removed;
  for (const char* name :
       {"history.csv", "best.safetensors", "last.safetensors", "predictions.csv", "metrics.json"}) {
    const std::string path = options_.run_dir + "/" + name;
    std::error_code ec;
    if (fs::remove(path, ec)) removed.push_back(name);
    BUSI_CHECK(!ec, "output folder '", options_.run_dir, "': cannot remove the earlier run's ",
               name, " (", ec.message(), ")");
  }
  if (!removed.empty()) {
    std::cout << "note: " << options_.run_dir << " held an earlier run; replaced its";
    for (const std::string& name : removed) std::cout << " " << name;
    std::cout << "\n";
  }
}

Trainer::EpochResult Trainer::train_one_epoch(Phase& phase, int64_t epoch) {
  const auto start = std::chrono::steady_clock::now();
  model_.train();
  // The loader's order and augmentation are drawn from (seed, epoch): the global epoch index
  // keeps the phases' epochs apart.
  phase.train->start_epoch(epoch);
  ProgressBar bar("epoch " + std::to_string(epoch) + " " + phase.name,
                  phase.train->batches_per_epoch(), options_.live_progress);
  EpochResult result;
  double loss_sum = 0.0;
  int64_t correct = 0, batches = 0;
  while (std::optional<TrainBatch> batch = phase.train->next()) {
    optim::Optimizer& optimizer = *phase.optimizer;
    optimizer.set_lr_factor(phase.schedule->factor(optimizer.step_count()));
    const Tensor logits = phase.forward(batch->inputs.to(options_.device));
    const Tensor loss =
        cross_entropy(logits, batch->labels, phase.class_weights, phase.label_smoothing);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();

    const int64_t n = static_cast<int64_t>(batch->labels.size());
    const float loss_value = loss.item();
    BUSI_CHECK(std::isfinite(loss_value), "training diverged: the loss is ", loss_value,
               " at epoch ", epoch, " (try a smaller learning rate)");
    loss_sum += static_cast<double>(loss_value) * n;
    correct += count_correct(logits, batch->labels);
    result.images += n;
    bar.update(++batches, result.images, loss_sum / result.images,
               static_cast<double>(correct) / result.images);
  }
  bar.clear();
  result.loss = result.images ? loss_sum / result.images : 0.0;
  result.accuracy = result.images ? static_cast<double>(correct) / result.images : 0.0;
  result.seconds = seconds_since(start);
  return result;
}

bool Trainer::should_stop_early() const {
  return options_.patience > 0 && state_.epochs_since_best >= options_.patience;
}

int64_t Trainer::begin_phase(Phase& phase) {
  const bool resuming_this_phase =
      !pending_optimizer_phase_.empty() && pending_optimizer_phase_ == phase.name;
  if (!resuming_this_phase) {
    state_.phase = phase.name;
    state_.phase_epoch = 0;
    state_.epochs_since_best = 0;  // each phase gets its own patience
    return 0;
  }
  phase.optimizer->load_state_dict(pending_optimizer_state_);
  phase.optimizer->set_step_count(state_.optimizer_steps);  // the schedule's position
  pending_optimizer_state_.clear();
  pending_optimizer_phase_.clear();
  std::erase(state_.finished_phases, phase.name);  // when extended: more epochs than it had
  return state_.phase_epoch;
}

bool Trainer::record_validation(double val_macro_f1, int64_t epoch) {
  const bool improved = val_macro_f1 > state_.best_val_macro_f1;
  if (improved) {
    state_.best_val_macro_f1 = val_macro_f1;
    state_.best_epoch = epoch;
    state_.epochs_since_best = 0;
  } else {
    ++state_.epochs_since_best;
  }
  return improved;
}

void Trainer::print_epoch(const HistoryRow& row, const Phase& phase, bool improved) const {
  std::printf(
      "epoch %3lld %-8s (%lld/%lld)  train loss %.4f acc %s  val loss %.4f acc %s "
      "macro-F1 %.4f  lr %s  %.1f s  %.1f img/s%s\n",
      static_cast<long long>(row.epoch), phase.name.c_str(),
      static_cast<long long>(state_.phase_epoch), static_cast<long long>(phase.epochs),
      row.train_loss, percent(row.train_acc).c_str(), row.val_loss, percent(row.val_acc).c_str(),
      row.val_macro_f1, short_float(row.lr).c_str(), row.seconds, row.img_per_s,
      improved ? "  *best" : "");
  std::fflush(stdout);
}

bool Trainer::run_phase(Phase& phase) {
  BUSI_CHECK(phase.train && phase.val && phase.optimizer && phase.schedule && phase.forward,
             "Trainer::run_phase: phase '", phase.name, "' is incomplete");
  if (!run_started_) begin_run();
  if (phase_already_done(phase.name, phase.epochs)) {
    std::cout << "phase " << phase.name << ": already finished in the resumed run\n";
    return true;
  }
  const int64_t classes = static_cast<int64_t>(options_.class_names.size());
  for (int64_t e = begin_phase(phase); e < phase.epochs; ++e) {
    const int64_t epoch = state_.epoch + 1;
    const EpochResult train = train_one_epoch(phase, epoch);
    const Evaluation val = evaluate(model_, phase.forward, *phase.val, options_.device, classes);
    const HistoryRow row{epoch,
                         phase.name,
                         train.loss,
                         train.accuracy,
                         val.loss,
                         val.accuracy,
                         val.macro_f1,
                         phase.optimizer->lr(0),
                         train.seconds + val.seconds,
                         train.seconds > 0 ? train.images / train.seconds : 0.0};
    append_history(row);  // before the checkpoints: resume trims rows past the checkpoint

    state_.epoch = epoch;
    state_.images_trained += train.images;
    state_.phase_epoch = e + 1;
    state_.phase_planned_epochs = phase.epochs;
    state_.optimizer_steps = phase.optimizer->step_count();
    const bool improved = record_validation(val.macro_f1, epoch);
    const bool stop_early = should_stop_early();
    if (e + 1 == phase.epochs || stop_early) state_.finished_phases.push_back(phase.name);
    print_epoch(row, phase, improved);
    if (improved) save_checkpoint(best_path(), *phase.optimizer);
    save_checkpoint(last_path(), *phase.optimizer);

    if (options_.stop_after_epoch > 0 && epoch >= options_.stop_after_epoch) {
      std::cout << "stopping after epoch " << epoch << " as asked (--stop-after); continue with "
                << "--resume " << last_path() << "\n";
      return false;
    }
    if (stop_early) {
      if (e + 1 < phase.epochs)
        std::cout << "early stopping: no better validation macro-F1 for " << options_.patience
                  << " epoch(s) (best " << fixed(state_.best_val_macro_f1, 4) << " at epoch "
                  << state_.best_epoch << ")\n";
      break;
    }
  }
  return true;
}

void Trainer::save_checkpoint(const std::string& path, const optim::Optimizer& optimizer) const {
  CheckpointContents contents;
  contents.model_name = options_.model_name;
  contents.metadata = options_.checkpoint_metadata;
  contents.loop = state_;
  contents.rng = rng_state(model_);
  contents.optimizer_state = optimizer.state_dict();
  write_checkpoint(path, model_, contents);
}

double Trainer::training_seconds() const {
  double total = setup_seconds_;
  for (const HistoryRow& row : history_) total += row.seconds;
  return total;
}

double Trainer::overall_images_per_second() const {
  const double seconds = training_seconds();
  return seconds > 0 ? static_cast<double>(state_.images_trained) / seconds : 0.0;
}

double Trainer::mean_images_per_second() const {
  if (history_.empty()) return 0.0;
  double total = 0.0;
  for (const HistoryRow& row : history_) total += row.img_per_s;
  return total / static_cast<double>(history_.size());
}

ClassificationMetrics Trainer::evaluate_test(const Forward& forward, BatchSource& test,
                                             const data::DatasetIndex& index, Json extra) {
  if (std::filesystem::exists(best_path())) {
    load_checkpoint(best_path(), model_, options_.model_name);
    std::cout << "test: the best checkpoint (epoch " << state_.best_epoch << ", val macro-F1 "
              << fixed(state_.best_val_macro_f1, 4) << ")\n";
  }
  const int64_t num_classes = static_cast<int64_t>(options_.class_names.size());
  const Evaluation eval = evaluate(model_, forward, test, options_.device, num_classes);
  const ClassificationMetrics metrics =
      compute_metrics(eval.labels, eval.probs, options_.class_names);

  std::vector<std::string> header = {"path", "label", "pred"};
  for (const std::string& name : options_.class_names) header.push_back("prob_" + name);
  CsvWriter predictions(options_.run_dir + "/predictions.csv", header);
  const std::vector<int64_t> preds = argmax_predictions(eval.probs);
  for (size_t i = 0; i < eval.labels.size(); ++i) {
    std::vector<CsvField> fields = {index.samples.at(eval.sample_ids[i]).relative_path,
                                    options_.class_names.at(eval.labels[i]),
                                    options_.class_names.at(preds[i])};
    for (float p : eval.probs[i]) fields.emplace_back(p);
    predictions.write_row(fields);
  }

  Json doc = Json::object();
  doc["model"] = options_.model_name;
  doc["test"] = metrics_to_json_value(metrics);
  doc["parameters"] = model_.num_parameters();
  doc["trainable_parameters"] = model_.num_parameters(true);
  doc["training_seconds"] = training_seconds();
  doc["mean_img_per_s"] = mean_images_per_second();
  doc["overall_img_per_s"] = overall_images_per_second();
  doc["images_trained"] = state_.images_trained;
  doc["test_images"] = metrics.n;
  doc["device"] = options_.device.str();
  doc["best_epoch"] = state_.best_epoch;
  doc["best_val_macro_f1"] = state_.best_val_macro_f1;
  doc["epochs_run"] = state_.epoch;
  for (const auto& [key, value] : extra.items()) doc[key] = value;
  write_text_file(options_.run_dir + "/metrics.json", doc.dump(2) + "\n");
  return metrics;
}

void Trainer::print_summary() const {
  TextTable table({"epoch", "phase", "train loss", "train acc", "val loss", "val acc", "val F1",
                   "lr", "s", "img/s", ""});
  for (const HistoryRow& r : history_)
    table.add_row({std::to_string(r.epoch), r.phase, fixed(r.train_loss, 4), percent(r.train_acc),
                   fixed(r.val_loss, 4), percent(r.val_acc), fixed(r.val_macro_f1, 4),
                   short_float(r.lr), fixed(r.seconds, 1), fixed(r.img_per_s, 1),
                   r.epoch == state_.best_epoch ? "best" : ""});
  std::cout << "\n";
  table.print(std::cout);
}

// ---- Checkpoints --------------------------------------------------------------------------------

namespace {

constexpr const char* kLoopKey = "loop";

Json loop_to_json(const LoopState& loop) {
  Json j = Json::object();
  j["epoch"] = loop.epoch;
  j["phase"] = loop.phase;
  j["phase_epoch"] = loop.phase_epoch;
  j["phase_planned_epochs"] = loop.phase_planned_epochs;
  j["finished_phases"] = loop.finished_phases;
  j["optimizer_steps"] = loop.optimizer_steps;
  j["best_val_macro_f1"] = loop.best_val_macro_f1;
  j["best_epoch"] = loop.best_epoch;
  j["epochs_since_best"] = loop.epochs_since_best;
  j["images_trained"] = loop.images_trained;
  return j;
}

LoopState loop_from_json(const Json& j) {
  LoopState loop;
  loop.epoch = j.at("epoch").as_int();
  loop.phase = j.at("phase").as_string();
  loop.phase_epoch = j.at("phase_epoch").as_int();
  // Checkpoints written before the field existed: the epochs run are the best guess.
  loop.phase_planned_epochs =
      j.contains("phase_planned_epochs") ? j.at("phase_planned_epochs").as_int() : loop.phase_epoch;
  for (const Json& name : j.at("finished_phases").elements())
    loop.finished_phases.push_back(name.as_string());
  loop.optimizer_steps = j.at("optimizer_steps").as_int();
  loop.best_val_macro_f1 = j.at("best_val_macro_f1").as_number();
  loop.best_epoch = j.at("best_epoch").as_int();
  loop.epochs_since_best = j.at("epochs_since_best").as_int();
  loop.images_trained = j.contains("images_trained") ? j.at("images_trained").as_int() : 0;
  return loop;
}

}  // namespace

void write_checkpoint(const std::string& path, const nn::Module& model,
                      const CheckpointContents& contents) {
  weights::CheckpointInfo info;
  info.model_name = contents.model_name;
  info.epoch = contents.loop.epoch;
  info.optimizer_steps = contents.loop.optimizer_steps;
  info.rng = contents.rng;
  info.settings = contents.metadata;
  info.settings[kLoopKey] = loop_to_json(contents.loop).dump(0);
  weights::save_checkpoint(path, info, model.state_dict(), contents.optimizer_state);
}

weights::CheckpointInfo read_checkpoint_metadata(const std::string& path) {
  BUSI_CHECK(std::filesystem::exists(path), "checkpoint '", path, "': file missing");
  return weights::read_checkpoint_info(path);
}

RunCheckpoint load_checkpoint(const std::string& path, nn::Module& model,
                              const std::string& expected_model) {
  BUSI_CHECK(std::filesystem::exists(path), "checkpoint '", path, "': file missing");
  weights::LoadedCheckpoint loaded =
      weights::load_checkpoint(path, expected_model, model.state_dict());
  RunCheckpoint out;
  out.info = std::move(loaded.info);
  out.optimizer_state = std::move(loaded.optimizer);
  const auto loop = out.info.settings.find(kLoopKey);
  BUSI_CHECK(loop != out.info.settings.end(), "checkpoint '", path,
             "': no training-loop state (not written by train_simple or finetune_vgg)");
  out.loop = loop_from_json(parse_json(loop->second, path + " (loop state)"));
  return out;
}

// ---- Flags and presets --------------------------------------------------------------------------

void add_training_flags(CommandLine& cli, TrainingSettings& s, const std::string& default_data) {
  s.data = default_data;
  cli.add("--data", &s.data, "DIR", "dataset folder, one sub-folder of images per class");
  cli.add("--out", &s.out, "DIR", "run folder for every output");
  cli.set_default_text("--out", "runs/" + cli.program() + "-<YYYYmmdd-HHMMSS>");
  cli.add_choice("--device", &s.device, {"auto", "cpu", "cuda"}, "where to compute");
  cli.add_choice("--preset", &s.preset, {"auto", "cpu-quick", "gpu-full"},
                 "recipe for the flags not given (auto: gpu-full on a GPU, else cpu-quick)");
  cli.add("--epochs", &s.epochs, "N", "training epochs");
  cli.set_default_text("--epochs", "from the preset");
  cli.add("--batch", &s.batch, "N", "images per batch");
  cli.add("--img-size", &s.img_size, "PX", "images are resized to PX x PX");
  cli.set_default_text("--img-size", "from the preset");
  cli.add("--lr", &s.lr, "X", "learning rate (peak of the schedule)");
  cli.set_default_text("--lr", "from the preset");
  cli.add("--weight-decay", &s.weight_decay, "X", "weight decay (AdamW: decoupled, times lr)");
  cli.add_choice("--optimizer", &s.optimizer, {"adamw", "sgd"},
                 "optimiser (sgd: momentum 0.9, Nesterov)");
  cli.add_choice("--schedule", &s.schedule, {"cosine", "step", "constant"},
                 "learning-rate schedule per step (cosine: linear warm-up, then half a cosine; "
                 "step: x0.1 at each third)");
  cli.add("--warmup-epochs", &s.warmup_epochs, "E", "warm-up length of the cosine schedule");
  cli.add("--label-smoothing", &s.label_smoothing, "E", "label smoothing of the training loss");
  cli.add("--seed", &s.seed, "N", "seed of the split, initial weights, order, augmentation");
  cli.add("--val-frac", &s.val_frac, "F", "fraction of each class for validation");
  cli.add("--test-frac", &s.test_frac, "F", "fraction of each class for the test (no --folds)");
  cli.add("--folds", &s.folds, "K", "stratified K-fold cross-validation instead (0: off)");
  cli.add("--fold", &s.fold, "I", "with --folds: the fold used as test subset, 1..K");
  cli.add_switch("--all-folds", &s.all_folds,
                 "with --folds: train every fold in <out>/fold<i>/ and summarise them");
  cli.add_on_off("--class-weights", &s.class_weights,
                 "weigh the loss by inverse class frequency (training subset)");
  cli.add_on_off("--augment", &s.augment,
                 "training augmentation (crop, flip, rotation, brightness/contrast)");
  cli.add("--patience", &s.patience, "N",
          "stop a phase after N epochs without a better validation macro-F1 (0: never)");
  cli.add("--resume", &s.resume, "CKPT",
          "continue the run of this checkpoint (its settings unless given again)");
  cli.add_switch("--deterministic", &s.deterministic,
                 "fixed algorithms, the same result twice (the CPU path always is)");
  cli.add("--limit-per-class", &s.limit_per_class, "N",
          "use only the first N images of each class (tiny test runs; 0: all)");
  cli.add("--split-csv", &s.split_csv, "PATH", "reuse this split (path,class,subset) exactly");
  cli.add("--stop-after", &s.stop_after, "E",
          "stop after epoch E as if interrupted (continue with --resume; 0: off)");
  cli.add("--workers", &s.workers, "N", "background threads preparing batches");
  cli.add_switch("--skip-bad", &s.skip_bad,
                 "skip images that cannot be decoded (a warning names each) instead of stopping");
}

namespace {

// Flags a checkpoint's settings never restore: they describe this invocation, not the run.
bool restorable(const std::string& flag) {
  return flag != "--resume" && flag != "--stop-after" && flag != "--out" && flag != "--all-folds" &&
         flag != "--split-csv";
}

void restore_from_checkpoint(CommandLine& cli, TrainingSettings& s, const std::string& model_name) {
  namespace fs = std::filesystem;
  const weights::CheckpointInfo info = read_checkpoint_metadata(s.resume);
  BUSI_CHECK(info.model_name == model_name, "checkpoint '", s.resume, "' is for model '",
             info.model_name, "', but ", cli.program(), " trains '", model_name, "'");
  BUSI_CHECK(!s.all_folds,
             "--resume continues one run: resume a fold's folder on its own "
             "(--resume <out>/fold<i>/last.safetensors)");
  const auto flags = info.settings.find("flags");
  if (flags != info.settings.end()) {
    const Json saved = parse_json(flags->second, s.resume + " (flags)");
    for (const auto& [flag, value] : saved.items())
      if (restorable(flag) && cli.has_flag(flag)) cli.set_if_not_given(flag, value.as_string());
  }
  // The run continues in the checkpoint's folder, with the split written there.
  const fs::path folder = fs::path(s.resume).parent_path();
  const std::string dir = folder.empty() ? "." : folder.string();
  if (!cli.given("--out")) s.out = dir;
  if (!cli.given("--split-csv") && fs::exists(dir + "/split.csv")) s.split_csv = dir + "/split.csv";
}

void check_settings(const TrainingSettings& s) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw UsageError(message);
  };
  require(s.batch >= 1, "--batch must be at least 1");
  require(s.img_size >= 8, "--img-size must be at least 8");
  require(s.lr > 0.0f, "--lr must be positive");
  require(s.weight_decay >= 0.0f, "--weight-decay must be >= 0");
  require(s.val_frac > 0.0f && s.val_frac < 1.0f,
          "--val-frac must be in (0, 1): validation picks the best epoch");
  require(s.test_frac > 0.0f && s.val_frac + s.test_frac < 1.0f,
          "--test-frac must be positive and --val-frac + --test-frac below 1");
  require(s.folds == 0 || s.folds >= 2, "--folds must be 0 (off) or at least 2");
  require(s.folds == 0 || (s.fold >= 1 && s.fold <= s.folds), "--fold must be in 1..--folds");
  require(!s.all_folds || s.folds >= 2, "--all-folds needs --folds K");
  require(s.patience >= 0 && s.stop_after >= 0 && s.limit_per_class >= 0,
          "--patience, --stop-after and --limit-per-class must be >= 0");
  require(s.workers >= 0, "--workers must be >= 0");
  require(s.label_smoothing >= 0.0f && s.label_smoothing < 1.0f,
          "--label-smoothing must be in [0, 1)");
}

}  // namespace

std::string presets_help(const std::vector<Preset>& presets) {
  std::string text = "presets (values for the flags not given):\n";
  size_t width = 0;
  for (const Preset& p : presets) width = std::max(width, p.name.size());
  const std::string indent(2 + width + 2, ' ');  // where a wrapped line of flags continues
  for (const Preset& p : presets) {
    // One line per preset, wrapped below 100 columns under the first flag.
    std::string line = "  " + p.name + std::string(width - p.name.size() + 2, ' ');
    bool first = true;
    for (const auto& [flag, value] : p.values) {
      const std::string item = flag + " " + value;
      if (!first && line.size() + 1 + item.size() > 99) {
        text += line + "\n";
        line = indent;
        first = true;
      }
      line += (first ? "" : " ") + item;
      first = false;
    }
    text += line + "\n";
  }
  return text;
}

Device resolve_training_settings(CommandLine& cli, TrainingSettings& s,
                                 const std::vector<Preset>& presets,
                                 const std::string& model_name) {
  if (!s.resume.empty()) restore_from_checkpoint(cli, s, model_name);
  const Device device = choose_device(s.device);
  if (s.preset == "auto") {
    const std::string chosen = device.is_cuda() ? "gpu-full" : "cpu-quick";
    std::cout << "preset: " << chosen << " (chosen automatically: "
              << (device.is_cuda() ? "training on the GPU" : "no GPU in use, training on the CPU")
              << "; --preset gives another)\n";
    s.preset = chosen;
  } else {
    std::cout << "preset: " << s.preset << "\n";
  }
  const auto preset = std::find_if(presets.begin(), presets.end(),
                                   [&](const Preset& p) { return p.name == s.preset; });
  BUSI_CHECK(preset != presets.end(), "no preset named '", s.preset, "'");
  for (const auto& [flag, value] : preset->values) cli.set_if_not_given(flag, value);
  if (s.out.empty()) s.out = default_run_dir(cli.program());
  check_settings(s);
  if (s.deterministic && device.is_cuda()) {
#ifdef BUSI_WITH_CUDA
    // cuDNN's fastest algorithms (chosen by timing) may differ between runs, and some sum in a
    // nondeterministic order; the engine's own kernels are deterministic already.
    cuda::set_deterministic(true);
#endif
    std::cout << "deterministic: cuDNN restricted to deterministic algorithms, chosen by "
                 "heuristics\n";
  }
  return device;
}

// ---- Data and split -----------------------------------------------------------------------------

namespace {

// The first `limit` images of each class (samples are sorted by class, then file name), with
// the duplicate groups renumbered to the kept samples.
data::DatasetIndex limit_per_class(const data::DatasetIndex& full, int64_t limit) {
  data::DatasetIndex index = full;
  index.samples.clear();
  std::vector<int64_t> new_id(full.samples.size(), -1);
  std::vector<int64_t> taken(full.classes.size(), 0);
  for (size_t i = 0; i < full.samples.size(); ++i) {
    const data::Sample& sample = full.samples[i];
    if (taken[sample.label]++ >= limit) continue;
    new_id[i] = static_cast<int64_t>(index.samples.size());
    index.samples.push_back(sample);
  }
  index.duplicate_groups.clear();
  for (const std::vector<int64_t>& group : full.duplicate_groups) {
    std::vector<int64_t> kept;
    for (int64_t id : group)
      if (new_id[id] >= 0) kept.push_back(new_id[id]);
    if (kept.size() >= 2) index.duplicate_groups.push_back(kept);
  }
  // The warnings about duplicates are about the kept images only; the others (skipped files)
  // still hold.
  std::erase_if(index.warnings, [](const std::string& line) {
    return line.rfind(data::kCrossClassDuplicateWarning, 0) == 0;
  });
  for (const std::string& line : data::cross_class_duplicate_warnings(index))
    index.warnings.push_back(line);
  return index;
}

}  // namespace

PreparedData prepare_data(const TrainingSettings& s, const std::string& run_dir, int64_t fold,
                          const data::CacheOptions& cache_options) {
  namespace fs = std::filesystem;
  BUSI_CHECK(fs::is_directory(s.data), "--data '", s.data,
             "': folder missing (expected one sub-folder of images per class, e.g. "
             "../shared/busi/benign, malignant, normal)");
  PreparedData d;
  data::ScanOptions scan;
  scan.skip_bad = s.skip_bad;
  scan.verify_decode = false;  // the cache below decodes every image, once
  d.index = data::scan_folder(s.data, scan);
  if (s.limit_per_class > 0) d.index = limit_per_class(d.index, s.limit_per_class);
  // Before the split: with --skip-bad the files that fail to decode leave the index here.
  d.cache = std::make_unique<data::ImageCache>(
      data::ImageCache::build(d.index, cache_options, s.skip_bad));

  if (!s.split_csv.empty()) {
    d.split = data::read_split_csv(s.split_csv, d.index);
  } else if (s.folds > 0) {
    data::KFoldOptions options;
    options.folds = s.folds;
    options.fold = fold - 1;
    options.val_fraction = s.val_frac;
    options.seed = static_cast<uint64_t>(s.seed);
    d.split = data::make_kfold_split(d.index, options);
  } else {
    data::SplitOptions options;
    options.val_fraction = s.val_frac;
    options.test_fraction = s.test_frac;
    options.seed = static_cast<uint64_t>(s.seed);
    d.split = data::make_split(d.index, options);
  }
  d.train_ids = d.split.indices(data::Subset::Train);
  d.val_ids = d.split.indices(data::Subset::Val);
  d.test_ids = d.split.indices(data::Subset::Test);
  for (const auto& [ids, name] :
       {std::pair{&d.train_ids, "training"}, std::pair{&d.val_ids, "validation"},
        std::pair{&d.test_ids, "test"}})
    BUSI_CHECK(!ids->empty(), "the ", name, " subset is empty (", d.index.size(),
               " images; use more images or other --val-frac/--test-frac)");
  data::write_split_csv(run_dir + "/split.csv", d.index, d.split);
  std::cout << "data: " << d.index.summary() << "\n"
            << "split: " << data::split_summary(d.index, d.split) << "\n";
  std::cerr << d.index.warnings_text();
  return d;
}

// ---- Config, metadata, optimiser, schedule ------------------------------------------------------

Json make_config(const CommandLine& cli, const TrainingSettings& s, const std::string& model_name,
                 Device device, const std::string& source_dir, const Json& extra) {
  Json config = Json::object();
  config["model"] = model_name;
  config["seed"] = s.seed;
  config["device"] = device.str();
  config["git_commit"] = git_commit(source_dir);
  config["preset"] = s.preset;
  config["img_size"] = s.img_size;
  config["epochs"] = s.epochs;
  config["created"] = local_timestamp();
  // Every flag as it was used; "device" above is the device chosen, the flag is "device_flag".
  const Json settings = cli.settings_json();
  for (const auto& [key, value] : settings.items()) {
    if (config.contains(key) && key != "device") continue;
    config[key == "device" ? "device_flag" : key] = value;
  }
  for (const auto& [key, value] : extra.items()) config[key] = value;
  const Json environment = environment_json(device.is_cuda());
  for (const auto& [key, value] : environment.items()) config[key] = value;
  return config;
}

std::map<std::string, std::string> base_checkpoint_metadata(const CommandLine& cli,
                                                            const TrainingSettings& s,
                                                            const PreparedData& d) {
  Json settings = Json::object();
  for (const auto& [flag, text] : cli.settings_text()) settings[flag] = text;
  std::map<std::string, std::string> metadata;
  metadata["flags"] = settings.dump(0);
  metadata["class_names"] = Json(d.index.classes).dump(0);
  metadata["img_size"] = std::to_string(s.img_size);
  return metadata;
}

std::unique_ptr<optim::Schedule> make_schedule(const TrainingSettings& s, int64_t steps,
                                               int64_t steps_per_epoch) {
  steps = std::max<int64_t>(steps, 1);  // a phase of 0 epochs still gets a valid schedule
  if (s.schedule == "constant") return std::make_unique<optim::ConstantSchedule>();
  if (s.schedule == "step")
    return std::make_unique<optim::StepSchedule>(std::max<int64_t>(steps / 3, 1), 0.1f);
  const int64_t warmup = std::clamp<int64_t>(
      std::llround(s.warmup_epochs * static_cast<float>(steps_per_epoch)), 0, steps);
  // Down to 1 % of the peak rather than 0, so the last epoch still learns a little.
  return std::make_unique<optim::CosineWarmupSchedule>(warmup, steps, 0.01f);
}

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainingSettings& s,
                                                 std::vector<optim::ParamGroup> groups) {
  if (s.optimizer == "sgd") return std::make_unique<optim::SGD>(std::move(groups), 0.9f, true);
  return optim::make_adamw(std::move(groups));
}

data::LoaderOptions make_loader_options(const TrainingSettings& s,
                                        const data::Normalization& normalization, bool training) {
  data::LoaderOptions o;
  o.batch_size = s.batch;
  o.height = o.width = s.img_size;
  o.shuffle = training;
  o.augment = training && s.augment;
  o.normalization = normalization;
  o.seed = static_cast<uint64_t>(s.seed);
  o.workers = s.workers;
  return o;
}

Json normalization_to_json(const data::Normalization& n) {
  Json j = Json::object();
  j["name"] = n.name;
  j["bgr"] = n.bgr;
  j["scale"] = n.scale;
  j["mean"] = n.mean;
  j["std"] = n.std;
  return j;
}

data::Normalization normalization_from_json(const Json& j) {
  data::Normalization n;
  n.name = j.at("name").as_string();
  n.bgr = j.at("bgr").as_bool();
  n.scale = j.at("scale").as_number();
  for (const Json& v : j.at("mean").elements()) n.mean.push_back(v.as_number());
  for (const Json& v : j.at("std").elements()) n.std.push_back(v.as_number());
  BUSI_CHECK(!n.mean.empty() && n.mean.size() == n.std.size(), "normalisation '", n.name,
             "': mean and std differ in length");
  return n;
}

// ---- Cross-validation summary -------------------------------------------------------------------

void train_runs(const CommandLine& cli, TrainingSettings& s, const std::string& model_name,
                Device device, const TrainRun& train_run) {
  if (!s.all_folds) {
    train_run(s.out, s.folds > 0 ? s.fold : 0);
    return;
  }
  prepare_run_dir(s.out);
  std::vector<ClassificationMetrics> folds;
  for (int64_t fold = 1; fold <= s.folds; ++fold) {
    std::cout << "\n==== fold " << fold << " of " << s.folds << " ====\n";
    s.fold = fold;  // recorded in the fold's config and checkpoints
    std::optional<ClassificationMetrics> m =
        train_run(s.out + "/fold" + std::to_string(fold), fold);
    if (!m) return;
    folds.push_back(*m);
  }
  write_config_json(s.out,
                    make_config(cli, s, model_name, device, BUSI_SOURCE_DIR, Json::object()));
  write_fold_summary(s.out, model_name, folds, Json::object());
  std::cout << "cross-validation summary in " << s.out << "/metrics.json\n";
}

void write_fold_summary(const std::string& dir, const std::string& model_name,
                        const std::vector<ClassificationMetrics>& folds, const Json& extra) {
  Json doc = Json::object();
  doc["model"] = model_name;
  doc["folds"] = static_cast<int64_t>(folds.size());
  Json& per_fold = doc["fold_metrics"] = Json::array();
  for (size_t i = 0; i < folds.size(); ++i) {
    Json entry = Json::object();
    entry["fold"] = static_cast<int64_t>(i + 1);
    entry["test"] = metrics_to_json_value(folds[i]);
    per_fold.push_back(entry);
  }
  // Mean and sample standard deviation (n - 1) of each main score across the folds.
  const std::vector<std::pair<std::string, double ClassificationMetrics::*>> scores = {
      {"accuracy", &ClassificationMetrics::accuracy},
      {"balanced_accuracy", &ClassificationMetrics::balanced_accuracy},
      {"macro_f1", &ClassificationMetrics::macro_f1},
      {"macro_auc", &ClassificationMetrics::macro_auc}};
  Json& summary = doc["summary"] = Json::object();
  for (const auto& [name, member] : scores) {
    std::vector<double> values;
    for (const ClassificationMetrics& m : folds) values.push_back(m.*member);
    const double mean = std::accumulate(values.begin(), values.end(), 0.0) / values.size();
    double squares = 0.0;
    for (double v : values) squares += (v - mean) * (v - mean);
    Json& entry = summary[name] = Json::object();
    entry["mean"] = mean;
    entry["std"] = values.size() > 1 ? std::sqrt(squares / (values.size() - 1)) : 0.0;
    entry["values"] = values;
  }
  for (const auto& [key, value] : extra.items()) doc[key] = value;
  write_text_file(dir + "/metrics.json", doc.dump(2) + "\n");
}

}  // namespace busi::tools
