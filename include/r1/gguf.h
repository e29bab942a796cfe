// Export of a Hugging Face model directory (Llama / Qwen2 causal LM + byte-level BPE tokenizer) to one GGUF file
// that llama.cpp, Ollama and LM Studio load, following llama.cpp's convert_hf_to_gguf.py: its tensor names
// (token_embd, blk.N.attn_q ..., output_norm, output), its `general.*` / `<arch>.*` / `tokenizer.ggml.*` keys, the
// Q/K row permutation it applies to Llama (llama.cpp's `llama` rotates interleaved pairs, HF rotate_half), and
// ggml's Q8_0 blocks (32 weights, fp16 scale amax/127, round half away from zero). Format: GGUF version 3
// (ggml/docs/gguf.md), little-endian, alignment 32. What llama.cpp cannot represent is an r1::UsageError that
// says so: ALiBi, sequence classifiers, WordPiece or non-byte-level tokenizers, unknown pre-tokenizer regexes.
//
// Usage:
//   r1::gguf::ExportReport r = r1::gguf::export_gguf("runs/sft", "model.gguf", {.outtype = r1::gguf::OutType::kQ8_0});
//   // r.modelfile is set when options.ollama: "FROM ./model.gguf" + TEMPLATE + PARAMETER stop
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace r1::gguf {

// The storage of 2-D weights (1-D tensors, norms and biases, are always F32, as the converter does). Q8_0 needs
// rows whose length is a multiple of 32; other tensors fall back to F16 (the converter's fallback).
enum class OutType { kF32, kF16, kBF16, kQ8_0 };
OutType parse_outtype(const std::string& name);  // "f32" | "f16" | "bf16" | "q8_0"; r1::UsageError otherwise
std::string outtype_name(OutType type);

struct ExportOptions {
  OutType outtype = OutType::kF16;  // the converter's default for an f16/f32 model
  bool ollama = false;              // also write <out dir>/Modelfile
  bool overwrite = false;           // replace an existing output file (and Modelfile)
  std::string name;                 // general.name; empty: the directory's name
};

struct ExportReport {
  std::string architecture;   // "llama" | "qwen2"
  std::string pre_tokenizer;  // tokenizer.ggml.pre: "llama-bpe" | "qwen2" | "gpt-2"
  int64_t tensors = 0;
  uint64_t bytes = 0;  // size of the file
  std::optional<std::filesystem::path> modelfile;
};

// Reads `model_dir` (config.json, safetensors weights, tokenizer.json + tokenizer_config.json) and writes `out`
// atomically. Weights are converted tensor by tensor (no model is built).
ExportReport export_gguf(const std::filesystem::path& model_dir, const std::filesystem::path& out,
                         const ExportOptions& options = {});

}  // namespace r1::gguf
