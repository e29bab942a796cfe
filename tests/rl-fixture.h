// The RL trainers' test fixture (GRPO, PPO): the addition task's prompts and a tiny random Llama with a tokenizer
// trained on the task's corpus, written once per suite.
#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "r1/model.h"
#include "r1/synthetic-tasks.h"
#include "r1/tokenizer.h"

namespace r1::test {

// dir/prompts.jsonl (400 rows: problem, solution), dir/corpus.txt and dir/model (hidden 32, 2 layers, vocab 300,
// eos <|im_end|>, pad <|endoftext|>).
inline void write_tiny_rl_fixture(const std::filesystem::path& dir) {
  r1::data::TaskSplits task = r1::data::make_addition_task({});
  std::mt19937_64 rng(1);
  {
    std::ofstream corpus(dir / "corpus.txt");
    std::ofstream prompts(dir / "prompts.jsonl");
    for (size_t i = 0; i < 400; ++i) {
      corpus << task.train[i].problem << " " << r1::data::addition_solution(task.train[i], i % 2, rng) << "\n";
      prompts << nlohmann::json{{"problem", task.train[i].problem}, {"solution", task.train[i].answer}}.dump() << "\n";
    }
  }
  r1::tokenizer::TrainOptions t;
  t.pre_tokenizer = "qwen2";
  t.vocab_size = 300;
  t.special_tokens = {"<|endoftext|>", "<|im_end|>"};
  t.show_progress = false;
  r1::tokenizer::Tokenizer tok = r1::tokenizer::train_tokenizer({dir / "corpus.txt"}, t);
  auto c = tok.config();
  c.eos_token = "<|im_end|>";
  c.pad_token = "<|endoftext|>";
  tok.set_config(c);
  const std::filesystem::path model = dir / "model";
  tok.save(model, true);
  auto config = r1::model::ModelConfig::parse(nlohmann::json{{"model_type", "llama"},
                                                             {"vocab_size", tok.vocab_size()},
                                                             {"hidden_size", 32},
                                                             {"intermediate_size", 64},
                                                             {"num_hidden_layers", 2},
                                                             {"num_attention_heads", 4},
                                                             {"num_key_value_heads", 2},
                                                             {"max_position_embeddings", 128},
                                                             {"initializer_range", 0.1},
                                                             {"eos_token_id", *tok.eos_id()},
                                                             {"tie_word_embeddings", true}}
                                                  .dump(),
                                              "tiny");
  torch::manual_seed(3);
  r1::model::Transformer m(config);
  m->init_weights();
  r1::model::save_pretrained(*m, model);
}

}  // namespace r1::test
