// Generalized knowledge distillation (GKD: Agarwal et al. 2024, "On-Policy Distillation of Language Models") on the
// shared trainer, as TRL's GKDTrainer (trl/experimental/gkd): the student learns the teacher's full next-token
// distribution on completion tokens through the generalized JSD (model::generalized_jsd_sum, chunked over the
// target positions: the (B, T, V) logits are never formed), and each micro-batch's completions are, as TRL's
// training_step draws them, the student's own samples with probability lmbda (on-policy), else the teacher's with
// seq_kd (sequence-level KD), else the dataset's. Samples come from the engine over the live student weights and
// from a second engine over the teacher, stopping on each model's stop ids (text::ModelBundle::stop_ids). The
// draw comes first and the teacher generates only for a micro-batch that is not on-policy, as TRL's current
// training_step (older releases had the teacher generate first and replaced its samples on-policy: the same
// outcome at more cost).
// Departures from TRL:
//   1. The loss of an accumulated step is divided by the completion tokens it trained on; TRL's num_items_in_batch
//      counts the dataset batches' labels before generated completions replace them.
//   2. The draw is a counter-based stream of `seed` (u < lmbda; TRL: random.random() <= lmbda, the same
//      probability), so a checkpoint resumes it from the count; each generated sample has its own seed from it.
//   3. Rows are shuffled per epoch with `seed` and tokenized once at start (data::sft_example); a row that leaves
//      no prompt token within max_length is an error at load (TRL: at collation).
//   4. The tokenizers must map the same tokens to the same ids (checked token by token), and models whose
//      embedding rows differ in number (padding) are compared over the common ids; TRL compares neither
//      tokenizer and requires equal vocab_size.
#include "train/gkd.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "r1/data.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/recipe.h"

namespace r1::train {
namespace detail {
namespace {
using Clock = std::chrono::steady_clock;

// The stream of micro-batch `index`: its first number is the draw, the next ones its samples' seeds.
std::mt19937_64 draw_stream(int64_t seed, uint64_t index) {
  return std::mt19937_64(uint64_t(seed) * 0x9E3779B97F4A7C15ull + index);
}
double unit_interval(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }  // [0, 1)

// The dataset row as prompt/completion: a conversation's last message is the completion.
nlohmann::json as_prompt_completion(const nlohmann::json& row, const std::string& where) {
  if (!row.is_object() || row.contains("prompt")) return row;
  if (row.contains("messages")) {
    const nlohmann::json& m = row["messages"];
    if (!m.is_array() || m.size() < 2 || !m.back().is_object())
      fail("{}: 'messages' must hold a prompt and then the assistant's completion (2 or more messages)", where);
    const nlohmann::json role = m.back().value("role", nlohmann::json());
    if (role != "assistant")
      fail("{}: the last message is the completion distilled on and must be the assistant's, found role {}", where,
           role.dump());
    nlohmann::json out = row;
    out.erase("messages");
    out["prompt"] = nlohmann::json(m.begin(), m.end() - 1);
    out["completion"] = nlohmann::json::array({m.back()});
    return out;
  }
  if (row.contains("text") && !row.contains("instruction"))
    fail("{}: a 'text' row has no prompt to generate from; GKD needs prompt/completion, messages or instruction/output",
         where);
  return row;
}

// A sequence of example `index`: its prompt, then the dataset's completion when `with_completion` (else the
// generated one is appended later).
GkdSequence start_sequence(const GkdExample& ex, size_t index, bool with_completion) {
  GkdSequence s;
  s.example = index;
  s.ids = ex.prompt;
  s.prompt_tokens = ex.prompt.size();
  if (with_completion) s.ids.insert(s.ids.end(), ex.completion.begin(), ex.completion.end());
  return s;
}

// The sequences, complete, as one right-padded batch whose targets are the completions' tokens.
LmBatch completion_batch(std::vector<GkdSequence>& sequences, int32_t pad, at::Device device) {
  std::vector<std::vector<Segment>> rows;
  for (GkdSequence& s : sequences) {
    s.targets.assign(s.ids.size(), 0);
    std::fill(s.targets.begin() + long(s.prompt_tokens), s.targets.end(), 1);
    rows.push_back({{&s.ids, &s.targets}});
  }
  return make_lm_batch(rows, pad, device);
}

}  // namespace

GkdData gkd_data(const std::vector<std::pair<nlohmann::json, std::string>>& rows, const tokenizer::Tokenizer& tok,
                 const tokenizer::ChatTemplate* chat_template, int64_t max_length) {
  data::SftFormatOptions format;
  format.completion_only_loss = true;  // the collator's labels: the completion only
  format.max_length = 0;               // truncated below as TRL's collator: the last max_length tokens
  GkdData d;
  for (const auto& [raw, where] : rows) {
    data::SftExample ex = data::sft_example(tok, chat_template, as_prompt_completion(raw, where), format, where);
    const size_t first = size_t(std::find(ex.loss_mask.begin(), ex.loss_mask.end(), 1) - ex.loss_mask.begin());
    if (first == ex.ids.size()) fail("{}: the row has no completion token", where);
    GkdExample g;
    g.prompt.assign(ex.ids.begin(), ex.ids.begin() + long(first));
    g.completion.assign(ex.ids.begin() + long(first), ex.ids.end());
    if (max_length > 0 && int64_t(ex.ids.size()) > max_length) {
      const size_t drop = ex.ids.size() - size_t(max_length);
      if (drop >= g.prompt.size())
        fail(
            "{}: keeping the last max_length = {} of its {} tokens leaves no prompt token (the completion has {}); "
            "raise max_length",
            where, max_length, ex.ids.size(), g.completion.size());
      g.prompt.erase(g.prompt.begin(), g.prompt.begin() + long(drop));
      ++d.truncated;
    }
    d.targets += int64_t(g.completion.size());
    d.longest_prompt = std::max(d.longest_prompt, g.prompt.size());
    d.examples.push_back(std::move(g));
  }
  if (d.examples.empty()) fail_usage("the dataset has no rows");
  return d;
}

void require_shared_vocabulary(const tokenizer::Tokenizer& student, const std::string& student_dir,
                               const tokenizer::Tokenizer& teacher, const std::string& teacher_dir) {
  auto differ = [&](const std::string& why) {
    fail_usage(
        "teacher_model_name_or_path: the teacher's tokenizer ({}) and the student's ({}) do not share a vocabulary: "
        "{}; GKD compares the two next-token distributions id by id, so both models need the same tokenizer",
        teacher_dir, student_dir, why);
  };
  if (student.vocab_size() != teacher.vocab_size())
    differ(fmt::format("the teacher's has {} ids, the student's {}", teacher.vocab_size(), student.vocab_size()));
  for (size_t id = 0; id < student.vocab_size(); ++id) {
    const auto s = student.id_to_token(int32_t(id)), t = teacher.id_to_token(int32_t(id));
    if (s != t)
      differ(fmt::format("id {} is '{}' for the teacher but '{}' for the student", id, t.value_or("(none)"),
                         s.value_or("(none)")));
  }
}

GkdObjective::GkdObjective(const GkdOptions& o, text::ModelBundle student, text::ModelBundle teacher, GkdData train,
                           std::optional<GkdData> eval)
    : o_(o),
      student_(std::move(student)),
      teacher_(std::move(teacher)),
      train_(std::move(train)),
      eval_(std::move(eval)),
      order_(train_.examples.size(), uint64_t(o.training.seed)),
      // More rows than the data holds would repeat them within a batch (TRL's loader yields a shorter batch).
      batch_(std::min<int64_t>(o.training.per_device_train_batch_size, int64_t(train_.examples.size()))),
      pad_(student_.tokenizer.padding_id()) {
  teacher_.model->to(device());
  teacher_.model->eval();
  for (auto& p : teacher_.model->parameters()) p.set_requires_grad(false);
  const bool generates = o_.lmbda > 0 || o_.seq_kd;
  for (const text::ModelBundle* b : {&student_, &teacher_}) {
    const int64_t room = b->model->config().max_position_embeddings;
    if (generates && int64_t(train_.longest_prompt) >= room)
      fail_usage("max_length: a prompt of {} tokens leaves no room to generate within the {} positions of {}",
                 train_.longest_prompt, room, b == &student_ ? "the student" : "the teacher");
  }
}

GkdObjective::~GkdObjective() = default;

at::Device GkdObjective::device() const { return student_.model->parameters().front().device(); }

engine::Engine& GkdObjective::engine(GkdSource source) {
  const bool student = source == GkdSource::kStudent;
  std::unique_ptr<engine::Engine>& e = student ? student_engine_ : teacher_engine_;
  if (e) return *e;
  const text::ModelBundle& b = student ? student_ : teacher_;
  engine::EngineOptions eo;
  eo.max_batch = std::max<int64_t>(
      1, std::min<int64_t>(batch_ * o_.training.gradient_accumulation_steps, o_.generation_max_batch));
  eo.max_seq_len =
      std::min<int64_t>(b.model->config().max_position_embeddings, int64_t(train_.longest_prompt) + o_.max_new_tokens);
  // bf16 runs a bf16 shadow copy of the weights, which has no place for LoRA adapters
  if (o_.training.bf16 && !b.model->has_lora()) eo.dtype = at::kBFloat16;
  eo.eos_token_ids = b.stop_ids;  // as serve, eval and GRPO
  eo.seed = uint64_t(o_.training.seed);
  e = std::make_unique<engine::Engine>(b.model, eo);
  return *e;
}

double GkdObjective::prepare_step(int64_t micro_batches) {
  batches_.clear();
  step_metrics_.clear();
  struct Wanted {
    size_t batch, sequence;
    uint64_t seed;
  };
  std::map<GkdSource, std::vector<Wanted>> wanted;
  // data parallel: every rank draws the global step's micro-batches (order and streams stay global) and keeps its own
  for (int64_t m = 0; m < micro_batches * shard_.world_size; ++m) {
    const bool own = m % shard_.world_size == shard_.rank;
    std::mt19937_64 rng = draw_stream(o_.training.seed, draws_++);
    GkdMicroBatch b;
    b.source = unit_interval(rng) < o_.lmbda ? GkdSource::kStudent
               : o_.seq_kd                   ? GkdSource::kTeacher
                                             : GkdSource::kDataset;
    for (int64_t i = 0; i < batch_; ++i) {
      const size_t example = order_.next();
      const uint64_t seed = b.source != GkdSource::kDataset ? rng() : 0;
      if (!own) continue;
      if (b.source != GkdSource::kDataset) wanted[b.source].push_back({batches_.size(), b.sequences.size(), seed});
      b.sequences.push_back(start_sequence(train_.examples[example], example, b.source == GkdSource::kDataset));
    }
    if (own) batches_.push_back(std::move(b));
  }
  const auto t0 = Clock::now();
  for (const auto& [source, list] : wanted) {
    std::vector<engine::Request> requests;
    for (const Wanted& w : list) {
      engine::Request r;
      r.prompt = batches_[w.batch].sequences[w.sequence].ids;
      r.params.temperature = o_.temperature;  // TRL: do_sample, top_k 0, top_p 1
      r.params.max_new_tokens = o_.max_new_tokens;
      r.params.seed = w.seed;
      requests.push_back(std::move(r));
    }
    std::vector<engine::Result> results = engine(source).generate(requests);
    for (size_t i = 0; i < list.size(); ++i) {
      const std::vector<int32_t>& tokens = results[i].samples.front().tokens;  // ends with the stop id if it stopped
      std::vector<int32_t>& ids = batches_[list[i].batch].sequences[list[i].sequence].ids;
      ids.insert(ids.end(), tokens.begin(), tokens.end());
    }
  }
  const double generation_seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  int64_t targets = 0, sequences = 0, on_policy = 0, teacher = 0;
  for (GkdMicroBatch& b : batches_) {
    b.batch = completion_batch(b.sequences, pad_, device());
    sequences += int64_t(b.sequences.size());
    targets += b.batch.targets;
    on_policy += b.source == GkdSource::kStudent ? 1 : 0;
    teacher += b.source == GkdSource::kTeacher ? 1 : 0;
  }
  step_metrics_["on_policy"] = double(on_policy) / double(micro_batches);
  step_metrics_["seq_kd"] = double(teacher) / double(micro_batches);
  step_metrics_["completions/mean_length"] = double(targets) / double(std::max<int64_t>(1, sequences));
  step_metrics_["time/generation"] = generation_seconds;
  return double(targets);
}

at::Tensor GkdObjective::loss_sum(const LmBatch& b) {
  const TargetHidden student = target_hidden(*student_.model, b);
  TargetHidden teacher;
  {
    torch::NoGradGuard no_grad;
    teacher = target_hidden(*teacher_.model, b);
  }
  return generalized_jsd_sum(*student_.model, student.hidden, *teacher_.model, teacher.hidden, o_.beta);
}

MicroBatchLoss GkdObjective::micro_batch(int64_t index) {
  const LmBatch& b = batches_[size_t(index)].batch;
  MicroBatchLoss out;
  out.loss_sum = loss_sum(b);
  out.tokens = b.ids.numel();
  return out;
}

std::map<std::string, double> GkdObjective::end_step() { return step_metrics_; }

void GkdObjective::set_data_shard(const DataShard& shard) { shard_ = shard; }

int64_t GkdObjective::steps_per_epoch(int64_t micro_batches) const {
  return std::max<int64_t>(1, int64_t(train_.examples.size()) / (batch_ * micro_batches));
}

nlohmann::json GkdObjective::data_state() const { return {{"order", order_.state()}, {"draws", draws_}}; }

void GkdObjective::load_data_state(const nlohmann::json& state) {
  if (!state.is_object() || !state.contains("order")) fail("GKD state: no 'order'");
  order_.load_state(state["order"]);
  draws_ = uint64_t(json_integer(state, "draws", 0, INT64_MAX, "GKD state"));
}

std::map<std::string, double> GkdObjective::evaluate() {
  if (!eval_) return {};
  size_t n = eval_->examples.size();
  if (o_.training.max_eval_samples > 0) n = std::min(n, size_t(o_.training.max_eval_samples));
  double loss = 0, targets = 0;
  const size_t batch = size_t(o_.training.per_device_eval_batch_size);
  for (size_t begin = 0; begin < n; begin += batch) {
    std::vector<GkdSequence> sequences;
    for (size_t i = begin; i < std::min(n, begin + batch); ++i)
      sequences.push_back(start_sequence(eval_->examples[i], i, /*with_completion=*/true));
    const LmBatch b = completion_batch(sequences, pad_, device());
    loss += loss_sum(b).item<double>();
    targets += double(b.targets);
  }
  if (targets == 0) return {};
  return {{"eval_loss", loss / targets}};
}

std::string GkdObjective::describe(int64_t, int64_t) const {
  std::string out = fmt::format(
      "gkd data: {} examples, {} completion tokens, {} truncated to max_length; teacher {} ({} parameters)\n"
      "gkd: lmbda {} (on-policy micro-batches), beta {}, seq_kd {}, sampling temperature {}, max_new_tokens {}\n",
      train_.examples.size(), train_.targets, train_.truncated, o_.teacher_model_name_or_path,
      teacher_.model->num_parameters(), o_.lmbda, o_.beta, o_.seq_kd, o_.temperature, o_.max_new_tokens);
  if (batch_ < o_.training.per_device_train_batch_size)
    out += fmt::format("per_device_train_batch_size {} is more than the {} rows: batches of {}\n",
                       o_.training.per_device_train_batch_size, train_.examples.size(), batch_);
  if (eval_)
    out += fmt::format("eval data: {} examples, {} completion tokens\n", eval_->examples.size(), eval_->targets);
  return out;
}

}  // namespace detail

namespace {

template <class O, class V>
void visit(O& o, V& v) {
  v("teacher_model_name_or_path", o.teacher_model_name_or_path,
    "HF model directory of the teacher (required; the student's tokenizer vocabulary)");
  v("lmbda", o.lmbda, "probability that a micro-batch trains on the student's own samples (on-policy)");
  v("beta", o.beta, "generalized JSD interpolation: 0 forward KL(teacher || student), 1 reverse KL");
  v("temperature", o.temperature, "sampling temperature of generated completions (the loss is at temperature 1)");
  v("max_new_tokens", o.max_new_tokens, "tokens generated per completion");
  v("seq_kd", o.seq_kd, "sequence-level KD: micro-batches that are not on-policy train on the teacher's samples");
  v("max_length", o.max_length, "tokens per dataset row (a longer row keeps its last max_length tokens)");
  v("disable_dropout", o.disable_dropout, "no dropout in the student (LoRA's lora_dropout)");
  v("generation_max_batch", o.generation_max_batch, "sequences each generation engine decodes together");
}

constexpr auto kVisit = [](auto& o, auto& v) { visit(o, v); };

}  // namespace

GkdOptions GkdOptions::from_recipe(const Recipe& recipe) {
  GkdOptions o;
  o.training.learning_rate = 2e-5;  // TRL's SFTConfig default (GKDConfig extends it)
  recipe.reject_unused(detail::read_options(recipe, o, kVisit));
  o.validate();
  return o;
}

void GkdOptions::validate() const {
  training.validate();
  if (teacher_model_name_or_path.empty())
    fail_usage("teacher_model_name_or_path is required (the model the student learns from)");
  if (!(lmbda >= 0 && lmbda <= 1)) fail_usage("lmbda must be in [0, 1], got {}", lmbda);
  if (!(beta >= 0 && beta <= 1)) fail_usage("beta must be in [0, 1], got {}", beta);
  if (!(temperature > 0)) fail_usage("temperature must be > 0 (completions are sampled), got {}", temperature);
  if (max_new_tokens < 1) fail_usage("max_new_tokens must be >= 1, got {}", max_new_tokens);
  if (max_length < 2) fail_usage("max_length must be >= 2, got {}", max_length);
  if (generation_max_batch < 1) fail_usage("generation_max_batch must be >= 1, got {}", generation_max_batch);
}

nlohmann::ordered_json GkdOptions::to_json() const { return detail::options_json(*this, kVisit); }

std::vector<std::pair<std::string, std::string>> GkdOptions::help() { return detail::options_help<GkdOptions>(kVisit); }

TrainResult gkd(const GkdOptions& o, const std::atomic<bool>* stop_requested) {
  o.validate();
  const text::BundleSource teacher_source{.model_dir = o.teacher_model_name_or_path};
  text::ModelBundle teacher = text::open_tokenizer(teacher_source);
  FinetuneArguments student_args = o.finetune;
  if (o.disable_dropout) student_args.peft.lora_dropout = 0;  // TRL: disable_dropout_in_model
  detail::FinetuneSetup student = detail::load_finetune(student_args, o.training.seed);
  detail::require_shared_vocabulary(student.tokenizer, o.finetune.tokenizer_name_or_path, teacher.tokenizer,
                                    o.teacher_model_name_or_path);
  const tokenizer::ChatTemplate* chat_template = student.chat_template.get();
  detail::GkdData train = detail::gkd_data(detail::read_split(o.finetune, o.finetune.dataset_train_split, true),
                                           student.tokenizer, chat_template, o.max_length);
  std::optional<detail::GkdData> eval;
  if (o.training.eval_strategy == "steps") {
    auto rows = detail::read_split(o.finetune, o.finetune.dataset_test_split, false);
    if (!rows.empty()) eval = detail::gkd_data(rows, student.tokenizer, chat_template, o.max_length);
  }
  text::attach_model(teacher, teacher_source, model::load_pretrained(o.teacher_model_name_or_path));
  detail::GkdObjective objective(o, student, teacher, std::move(train), std::move(eval));
  TrainerHooks hooks = detail::finetune_hooks(student, to_yaml(o.to_json()), stop_requested);
  return Trainer(student.model, o.training, objective, hooks).train();
}

}  // namespace r1::train
