// The shared training loop (see trainer.h): epochs and phases, history, checkpoints, resume, the
// test evaluation.
#include "tools/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "engine/autograd.h"
#include "engine/kill_point.h"
#include "kernels/common/error.h"
#include "engine/ops.h"
#include "tools/cli/progress_bar.h"
#include "tools/cli/text_table.h"
#include "tools/formats/csv.h"
#include "tools/formats/text_file.h"
#include "tools/train/calibration_scoring.h"

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

// The name of the first parameter whose gradient holds a NaN or an infinity, or "" when all
// are finite. One sum over all gradients first (a NaN or an infinity anywhere makes it
// non-finite; finite values this large cannot occur), the search tensor by tensor only then.
std::string first_non_finite_gradient(const nn::Module& model) {
  NoGradGuard no_grad;
  const StateDict params = model.named_parameters();
  // The sum of every gradient is finite exactly when each value is (barring an overflow of the
  // float sum, which the element-wise search below then reports as "the sum"). Summed on the
  // gradients' device and read once: one wait for a GPU per step, not one per parameter.
  Tensor total;
  for (const NamedTensor& p : params) {
    if (!p.tensor.grad().defined()) continue;
    const Tensor part = sum(p.tensor.grad());
    total = total.defined() ? add(total, part) : part;
  }
  if (!total.defined() || std::isfinite(total.item())) return "";
  for (const NamedTensor& p : params) {
    if (!p.tensor.grad().defined()) continue;
    for (float v : p.tensor.grad().to_vector())
      if (!std::isfinite(v)) return p.name;
  }
  return "the sum of the gradients";
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

}  // namespace

Trainer::Trainer(nn::Module& model, TrainerOptions options)
    : model_(model), options_(std::move(options)) {
  if (options_.weight_average_decay > 0.0f)
    weight_average_ = std::make_unique<optim::WeightAverage>(model_, options_.weight_average_decay);
}

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
  // The checkpoint's training state: the weight average's entries, then the optimiser's.
  StateDict average_state;
  pending_optimizer_state_.clear();
  for (NamedTensor& t : checkpoint.optimizer_state)
    (optim::WeightAverage::owns(t.name) ? average_state : pending_optimizer_state_)
        .push_back(std::move(t));
  if (weight_average_) weight_average_->load_state_dict(average_state);
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
  write_history();
  resumed_ = true;
  // The best checkpoint so far comes along when the run continues in another folder (copied
  // whole under a temporary name, then renamed: never half a checkpoint under its name).
  const std::string source_best = source_dir + "/best.safetensors";
  if (fs::exists(source_best) && !fs::exists(best_path())) {
    const std::string copy = best_path() + ".copying";
    fs::copy_file(source_best, copy, fs::copy_options::overwrite_existing);
    fs::rename(copy, best_path());
  }
  std::cout << "resumed from " << checkpoint_path << ": " << state_.epoch
            << " epoch(s) done (phase " << state_.phase << ", best val macro-F1 "
            << fixed(state_.best_val_macro_f1, 4) << " at epoch " << state_.best_epoch << ")\n";
}

// The whole history, rewritten atomically at every epoch (a few dozen rows): a run killed at
// any moment leaves the file as it was after the last epoch or as it is now, never a torn row.
void Trainer::write_history() const {
  CsvWriter writer(options_.run_dir + "/history.csv", history_header());
  for (const HistoryRow& row : history_) writer.write_row(history_fields(row));
  writer.commit();
}

void Trainer::append_history(const HistoryRow& row) {
  history_.push_back(row);
  write_history();
}

void Trainer::begin_run() {
  run_started_ = true;
  namespace fs = std::filesystem;
  // Files a killed run left half-written under their temporary names ("<name>.tmp-<pid>-...",
  // "<name>.writing", "<name>.copying"): never under a final name, and removed here.
  std::vector<fs::path> leftovers;
  std::error_code listing;
  for (const auto& entry : fs::directory_iterator(options_.run_dir, listing)) {
    const std::string name = entry.path().filename().string();
    if (name.find(".tmp-") != std::string::npos || name.ends_with(".writing") ||
        name.ends_with(".copying"))
      leftovers.push_back(entry.path());
  }
  for (const fs::path& path : leftovers) {
    std::error_code ec;
    fs::remove(path, ec);
  }
  if (resumed_) return;
  // A fresh run into a folder that holds an earlier run's outputs: remove them, so that no old
  // history row, checkpoint or metric can be taken for this run's.
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
  while (std::optional<data::Batch> batch = phase.train->next()) {
    optim::Optimizer& optimizer = *phase.optimizer;
    optimizer.set_lr_factor(phase.schedule->factor(optimizer.step_count()));
    const Tensor logits = phase.forward(batch->inputs.to(options_.device));
    const Tensor loss =
        cross_entropy(logits, batch->labels, phase.class_weights, phase.label_smoothing);
    kill_point("batch");
    // A loss or a gradient that is NaN or infinite stops the run before the weights take it:
    // the last checkpoint (of the last finished epoch) stays the last good state to resume.
    const float loss_value = loss.item();
    auto diverged = [&](const std::string& what) {
      throw Error(detail::concat(
          "training diverged at epoch ", epoch, ", step ", batches + 1, " of the epoch (",
          optimizer.step_count() + 1, " in all): ", what,
          " is not finite (NaN or infinity); the weights were not updated. The last good "
          "checkpoint is ",
          last_path(),
          " (if this run wrote one): resume from it with a "
          "smaller learning rate (--resume ",
          last_path(), " --lr X)"));
    };
    if (!std::isfinite(loss_value)) diverged("the loss (" + std::to_string(loss_value) + ")");
    optimizer.zero_grad();
    loss.backward();
    if (const std::string bad = first_non_finite_gradient(model_); !bad.empty())
      diverged("the gradient of " + bad);
    optimizer.step();
    if (weight_average_) weight_average_->update();

    const int64_t n = static_cast<int64_t>(batch->labels.size());
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
    // Validation, and the best checkpoint, see the averaged weights when there are any.
    std::optional<optim::WeightAverage::Swap> averaged;
    if (weight_average_) averaged.emplace(*weight_average_);
    if (phase.refresh_statistics) phase.refresh_statistics();
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
    averaged.reset();  // the trained weights back: training continues from them
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
  if (weight_average_)
    for (NamedTensor& t : weight_average_->state_dict())
      contents.optimizer_state.push_back(std::move(t));
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

}  // namespace busi::tools
