// Tests for the pretraining data pipeline: token shards (round trip, header validation, token width), the
// packed mixture loader (proportions, exact epoch coverage, exact resume), evaluation windows, the JSONL
// reader, the cleaning filters, `prepare_data` (counts, split, determinism over threads) and the
// `r1 data prepare` CLI (refusing to overwrite, summary numbers). Tokenizer: tests/golden/tokenizer/r1-bpe
// (EOS <|endoftext|>, id 0, vocabulary 1200).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/jsonl.h"
#include "data/documents.h"
#include "r1/data.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/tokenizer.h"
#include "test-helpers.h"

namespace r1::data {
namespace {
namespace fs = std::filesystem;
using test::TempDir;

const fs::path kTokenizer = fs::path(R1_SOURCE_DIR) / "tests/golden/tokenizer/r1-bpe";

// A shard whose tokens are the given ids, one document per entry of `docs`.
fs::path write_shard(const fs::path& path, const std::vector<std::vector<int32_t>>& docs, uint64_t vocab = 70000,
                     const std::string& hash = "test-hash") {
  ShardWriter w(path, vocab, 0, hash);
  for (const auto& d : docs) w.add_document(d, d.size() * 3);
  w.finish();
  return path;
}

std::vector<int32_t> iota_ids(int32_t first, int32_t count) {
  std::vector<int32_t> v(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) v[size_t(i)] = first + i;
  return v;
}

// ---- Shards ----

TEST(Shard, RoundTripKeepsTokensAndHeader) {
  TempDir dir;
  fs::path p = write_shard(dir / "a.bin", {{5, 6, 7, 0}, {9, 0}}, 1200, "fnv1a64:0123456789abcdef");
  TokenShard shard = TokenShard::open(p);
  EXPECT_EQ(shard.size(), 6u);
  EXPECT_EQ(shard.info().documents, 2u);
  EXPECT_EQ(shard.info().text_bytes, 18u);
  EXPECT_EQ(shard.info().bytes_per_token, 2);
  EXPECT_EQ(shard.info().vocab_size, 1200u);
  EXPECT_EQ(shard.info().eos_id, 0);
  EXPECT_EQ(shard.info().tokenizer_hash, "fnv1a64:0123456789abcdef");
  std::vector<int64_t> got(6);
  shard.read(0, 6, got.data());
  EXPECT_EQ(got, (std::vector<int64_t>{5, 6, 7, 0, 9, 0}));
  shard.read(4, 2, got.data());
  EXPECT_EQ(got[0], 9);
  EXPECT_EQ(fs::file_size(p), kShardHeaderBytes + 6 * 2);
  R1_EXPECT_THROW_WITH(shard.read(5, 2, got.data()), Error, "a.bin", "[5, 7)");
}

TEST(Shard, TokenWidthFollowsVocabulary) {
  TempDir dir;
  auto small = TokenShard::open(write_shard(dir / "s.bin", {{65535, 1}}, 65536));
  EXPECT_EQ(small.info().bytes_per_token, 2);
  auto large = TokenShard::open(write_shard(dir / "l.bin", {{65536, 69999, 3}}, 70000));
  EXPECT_EQ(large.info().bytes_per_token, 4);
  std::vector<int64_t> got(3);
  large.read(0, 3, got.data());
  EXPECT_EQ(got, (std::vector<int64_t>{65536, 69999, 3}));
  std::vector<int64_t> one(2);
  small.read(0, 2, one.data());
  EXPECT_EQ(one[0], 65535);
  ShardWriter w(dir / "bad.bin", 100, 0, "h");
  R1_EXPECT_THROW_WITH(w.add_document({100}, 1), Error, "bad.bin", "100", "outside the vocabulary");
}

TEST(Shard, HeaderValidationNamesTheFile) {
  TempDir dir;
  fs::path good = write_shard(dir / "good.bin", {{1, 2, 3, 4}});
  std::string bytes = test::read_bytes(good);

  std::string bad_magic = bytes;
  bad_magic[0] = 'X';
  test::write_bytes(dir / "magic.bin", bad_magic);
  R1_EXPECT_THROW_WITH(TokenShard::open(dir / "magic.bin"), Error, "magic.bin", "bad magic");

  std::string bad_version = bytes;
  bad_version[8] = 7;
  test::write_bytes(dir / "version.bin", bad_version);
  R1_EXPECT_THROW_WITH(TokenShard::open(dir / "version.bin"), Error, "version.bin", "version 7", "expected 1");

  test::write_bytes(dir / "short.bin", bytes.substr(0, 60));
  R1_EXPECT_THROW_WITH(TokenShard::open(dir / "short.bin"), Error, "short.bin", "truncated");

  test::write_bytes(dir / "cut.bin", bytes.substr(0, bytes.size() - 2));
  R1_EXPECT_THROW_WITH(TokenShard::open(dir / "cut.bin"), Error, "cut.bin", "truncated", "4 tokens");

  test::write_bytes(dir / "long.bin", bytes + std::string(4, '\0'));
  R1_EXPECT_THROW_WITH(TokenShard::open(dir / "long.bin"), Error, "long.bin", "token count mismatch", "4 tokens");

  std::string bad_width = bytes;
  bad_width[12] = 3;
  test::write_bytes(dir / "width.bin", bad_width);
  R1_EXPECT_THROW_WITH(TokenShard::open(dir / "width.bin"), Error, "width.bin", "bytes per token is 3");

  R1_EXPECT_THROW_WITH(TokenShard::open(dir / "missing.bin"), Error, "missing.bin");
}

TEST(Shard, ListShardsOfADirectoryOrAFile) {
  TempDir dir;
  write_shard(dir / "train-00001.bin", {{1}});
  write_shard(dir / "train-00000.bin", {{1}});
  write_shard(dir / "validation-00000.bin", {{1}});
  auto train = list_shards(dir.path(), "train");
  ASSERT_EQ(train.size(), 2u);
  EXPECT_EQ(train[0].filename(), "train-00000.bin");
  EXPECT_EQ(list_shards(dir.path(), "validation").size(), 1u);
  EXPECT_EQ(list_shards(dir / "train-00001.bin", "validation"), std::vector<fs::path>{dir / "train-00001.bin"});
  R1_EXPECT_THROW_WITH(list_shards(dir / "nope", "train"), Error, "nope");
  // A manifest with values of the wrong type or a path outside the directory: named, not a library error.
  for (const auto& [manifest, expected] : std::vector<std::pair<std::string, std::string>>{
           {R"({"splits": {"train": {"shards": [{"file": 7}]}}})", "each shard needs a string \"file\""},
           {R"({"splits": {"train": {"shards": "train-00000.bin"}}})", "must be an object with a \"shards\" list"},
           {R"({"splits": {"train": {"shards": [{"file": "../../etc/passwd"}]}}})",
            "not a file name in this directory"},
           {R"({"splits": []})", "not a data manifest"}}) {
    test::write_bytes(dir / "manifest.json", manifest);
    R1_EXPECT_THROW_WITH(list_shards(dir.path(), "train"), Error, "manifest.json", expected);
  }
}

// ---- Packed loader ----

// Source A holds ids in [1000, 1000+n), source B in [20000, 20000+n): a row's first token names its source.
TEST(PackedLoader, MixtureProportionsFollowWeights) {
  TempDir dir;
  write_shard(dir / "a.bin", {iota_ids(1000, 3000)});
  write_shard(dir / "b.bin", {iota_ids(20000, 500)});
  PackedLoader loader({{{"a", {dir / "a.bin"}, 3.0}, {"b", {dir / "b.bin"}, 1.0}}, 8, 7});
  const int64_t rows = 4000, width = 9;
  std::vector<int64_t> batch(size_t(rows * width));
  for (int64_t r = 0; r < rows; r += 100) loader.next(100, batch.data() + r * width);
  int64_t from_a = 0;
  for (int64_t r = 0; r < rows; ++r) from_a += batch[size_t(r * width)] < 20000;
  EXPECT_NEAR(double(from_a) / rows, 0.75, 0.02);
  auto report = loader.report(800000);
  ASSERT_EQ(report.size(), 2u);
  EXPECT_DOUBLE_EQ(report[0].share, 0.75);
  EXPECT_EQ(report[0].windows, 2999u / 8);
  EXPECT_NEAR(report[1].effective_epochs, 800000 * 0.25 / double(499 / 8 * 8), 1e-9);
  EXPECT_EQ(loader.tokens(), 3500u);
  EXPECT_NE(loader.format_report(800000).find("75.0%"), std::string::npos);
}

TEST(PackedLoader, EveryTokenIsATargetOncePerEpoch) {
  TempDir dir;
  // Two shards of one source, documents crossing nothing special: token value == position.
  write_shard(dir / "s0.bin", {iota_ids(0, 700), iota_ids(700, 300)});
  write_shard(dir / "s1.bin", {iota_ids(1000, 1234)});
  const int64_t L = 16;
  PackedLoader loader({{{"only", {dir / "s0.bin", dir / "s1.bin"}, 1.0}}, L, 3});
  const uint64_t windows = (2234 - 1) / L;
  std::vector<uint64_t> first_epoch_order;
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::vector<int> hits(2234, 0);
    std::vector<int64_t> row(size_t(L + 1));
    for (uint64_t w = 0; w < windows; ++w) {
      loader.next(1, row.data());
      for (int64_t j = 1; j <= L; ++j) ASSERT_EQ(row[size_t(j)], row[0] + j) << "window mixes positions";
      ASSERT_EQ(row[0] % L, 0) << "window does not start at a multiple of seq_len";
      for (int64_t j = 1; j <= L; ++j) ++hits[size_t(row[size_t(j)])];
      if (epoch == 0) first_epoch_order.push_back(uint64_t(row[0]));
    }
    for (uint64_t t = 1; t <= windows * L; ++t) ASSERT_EQ(hits[t], 1) << "token " << t << " epoch " << epoch;
    EXPECT_EQ(loader.state()["sources"][0]["epoch"], epoch + 1);
  }
  // A permutation, not the identity.
  EXPECT_FALSE(std::is_sorted(first_epoch_order.begin(), first_epoch_order.end()));
}

TEST(PackedLoader, RestoredStateGivesIdenticalBatches) {
  TempDir dir;
  write_shard(dir / "a.bin", {iota_ids(1000, 900)});
  write_shard(dir / "b.bin", {iota_ids(20000, 400)});
  LoaderOptions opts{{{"a", {dir / "a.bin"}, 2.0}, {"b", {dir / "b.bin"}, 1.0}}, 12, 99};
  PackedLoader first(opts);
  std::vector<int64_t> batch(size_t(10 * 13)), expected, got;
  for (int i = 0; i < 12; ++i) first.next(10, batch.data());  // ~40 rows of b: past its first epoch (33 windows)
  std::string saved = first.state().dump();
  for (int i = 0; i < 5; ++i) {
    first.next(10, batch.data());
    expected.insert(expected.end(), batch.begin(), batch.end());
  }
  PackedLoader second(opts);
  second.load_state(nlohmann::json::parse(saved));
  for (int i = 0; i < 5; ++i) {
    second.next(10, batch.data());
    got.insert(got.end(), batch.begin(), batch.end());
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(second.state(), first.state());
  EXPECT_GE(first.state()["sources"][1]["epoch"].get<uint64_t>(), 1u);

  LoaderOptions other = opts;
  other.seq_len = 8;
  PackedLoader third(other);
  R1_EXPECT_THROW_WITH(third.load_state(nlohmann::json::parse(saved)), Error, "seq_len", "12", "8");
  other = opts;
  other.sources[1].weight = 3.0;
  PackedLoader fourth(other);
  R1_EXPECT_THROW_WITH(fourth.load_state(nlohmann::json::parse(saved)), Error, "source 1 weight");
  R1_EXPECT_THROW_WITH(fourth.load_state(nlohmann::json{{"format", "x"}}), Error, "loader state");
}

TEST(PackedLoader, RefusesMixedTokenizersAndTinySources) {
  TempDir dir;
  write_shard(dir / "a.bin", {iota_ids(1, 100)}, 70000, "hash-a");
  write_shard(dir / "b.bin", {iota_ids(1, 100)}, 70000, "hash-b");
  R1_EXPECT_THROW_WITH(PackedLoader({{{"a", {dir / "a.bin"}, 1}, {"b", {dir / "b.bin"}, 1}}, 8, 1}), Error, "b.bin",
                       "hash-b", "hash-a");
  R1_EXPECT_THROW_WITH(PackedLoader({{{"a", {dir / "a.bin"}, 1}}, 100, 1}), Error, "'a'", "100 tokens", "101");
  R1_EXPECT_THROW_WITH(PackedLoader({{{"a", {dir / "a.bin"}, 0}}, 8, 1}), UsageError, "weight");
}

TEST(EvalWindows, CoverEveryTargetOnceWithAPartialLastWindow) {
  TempDir dir;
  write_shard(dir / "v0.bin", {iota_ids(0, 30)});
  write_shard(dir / "v1.bin", {iota_ids(30, 20)});
  EvalWindows windows({dir / "v0.bin", dir / "v1.bin"}, 16);
  ASSERT_EQ(windows.size(), 4u);  // 49 targets: 16 + 16 + 16 + 1
  EXPECT_EQ(windows.tokens(), 50u);
  EXPECT_EQ(windows.text_bytes(), 150u);
  std::vector<int> hits(50, 0);
  for (size_t i = 0; i < windows.size(); ++i) {
    auto w = windows.window(i);
    EXPECT_EQ(w.front(), int64_t(i * 16));
    for (size_t j = 1; j < w.size(); ++j) ++hits[size_t(w[j])];
  }
  EXPECT_EQ(windows.window(3).size(), 2u);
  for (int t = 1; t < 50; ++t) EXPECT_EQ(hits[size_t(t)], 1) << t;
  R1_EXPECT_THROW_WITH(windows.window(4), Error, "out of range");
}

// ---- JSONL ----

TEST(Jsonl, MalformedRowNamesFileAndLine) {
  TempDir dir;
  test::write_bytes(dir / "rows.jsonl", "{\"text\": \"a\"}\n\n{\"text\": \"b\"}\r\n{broken\n{\"text\": \"c\"}\n");
  JsonlReader reader(dir / "rows.jsonl");
  nlohmann::json row;
  ASSERT_TRUE(reader.next(row));
  EXPECT_EQ(reader.line(), 1u);
  ASSERT_TRUE(reader.next(row));
  EXPECT_EQ(row["text"], "b");
  EXPECT_EQ(reader.line(), 3u);
  R1_EXPECT_THROW_WITH(reader.next(row), Error, "rows.jsonl:4:");

  size_t skipped = 0;
  std::vector<std::string> texts;
  size_t rows = for_each_jsonl_row(
      dir / "rows.jsonl", [&](const nlohmann::json& r, size_t) { texts.push_back(r["text"]); }, true, &skipped);
  EXPECT_EQ(rows, 3u);
  EXPECT_EQ(skipped, 1u);
  EXPECT_EQ(texts, (std::vector<std::string>{"a", "b", "c"}));
  R1_EXPECT_THROW_WITH(for_each_jsonl_row(
                           dir / "rows.jsonl", [](const nlohmann::json&, size_t) {}, false),
                       Error, "rows.jsonl:4:");
}

TEST(BoundedJson, DeepWideOverflowingAndInvalidInputsAreErrorsNamingWhere) {
  auto deep = [](int n, char open, char close) { return std::string(size_t(n), open) + std::string(size_t(n), close); };
  nlohmann::json out;
  std::string error;
  // At the limit: parsed, and a copy, a dump and a destruction of it stay within the stack.
  ASSERT_TRUE(parse_json_bounded(deep(kMaxJsonDepth, '[', ']'), out, &error)) << error;
  nlohmann::json copy = out;
  EXPECT_EQ(copy.dump().size(), size_t(2 * kMaxJsonDepth));
  // One past the limit, and 400,000 deep (a 1 MiB body that crashed the server): refused while parsing.
  for (int n : {kMaxJsonDepth + 1, 400000}) {
    EXPECT_FALSE(parse_json_bounded(deep(n, '[', ']'), out, &error));
    EXPECT_NE(error.find("nested deeper than 512 levels at byte 513"), std::string::npos) << error;
  }
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  EXPECT_FALSE(parse_json_bounded(objects + "1" + std::string(100000, '}'), out, &error));
  EXPECT_NE(error.find("nested deeper than 512"), std::string::npos) << error;
  // Brackets inside strings do not count.
  ASSERT_TRUE(parse_json_bounded("{\"s\": \"" + std::string(2000, '[') + "\"}", out, &error)) << error;
  // Wide is fine: 200,000 elements at depth 1.
  std::string wide = "[0";
  for (int i = 0; i < 200000; ++i) wide += ",1";
  ASSERT_TRUE(parse_json_bounded(wide + "]", out, &error)) << error;
  EXPECT_EQ(out.size(), 200001u);
  // Overflowing numbers, invalid UTF-8, trailing garbage, syntax: errors without library codes.
  for (const auto& [text, expected] :
       std::vector<std::pair<std::string, std::string>>{{"{\"x\": 1e999999}", "number overflow"},
                                                        {"[\"\xff\xfe\"]", "UTF-8"},
                                                        {"{} x", "syntax error"},
                                                        {"{\"a\": tru}", "syntax error"},
                                                        {"", "syntax error"}}) {
    EXPECT_FALSE(parse_json_bounded(text, out, &error)) << text;
    EXPECT_NE(error.find(expected), std::string::npos) << text << ": " << error;
    EXPECT_EQ(error.find("json.exception"), std::string::npos) << error;
  }
  // The throwing form names where; JSON Lines rows go through it with file:line.
  R1_EXPECT_THROW_WITH(parse_json("[[1]", "config.json"), Error, "config.json: not valid JSON (");
  TempDir dir;
  test::write_bytes(dir / "rows.jsonl",
                    "{\"text\": \"a\"}\n{\"n\": 1e999999}\n{\"deep\": " + deep(100000, '[', ']') + "}\n");
  JsonlReader reader(dir / "rows.jsonl");
  ASSERT_TRUE(reader.next(out));
  R1_EXPECT_THROW_WITH(reader.next(out), Error, "rows.jsonl:2: not valid JSON (number overflow");
  R1_EXPECT_THROW_WITH(reader.next(out), Error, "rows.jsonl:3: not valid JSON (nested deeper than 512 levels");
  EXPECT_EQ(json_error_text(nlohmann::json::type_error::create(302, "type must be string, but is number", nullptr)),
            "type must be string, but is number");
}

// ---- Cleaning filters ----

TEST(Cleaning, FiltersMeasureWhatTheySay) {
  EXPECT_EQ(text_stats("héllo").chars, 5u);
  EXPECT_EQ(text_stats("a\x01\tb").non_printable, 1u);
  EXPECT_EQ(text_stats("ok\xff").non_printable, 1u);             // invalid byte
  EXPECT_EQ(text_stats("\xc0\xaf").non_printable, 2u);           // overlong '/' is two invalid bytes
  EXPECT_EQ(text_stats("x\xef\xbf\xbd").non_printable, 1u);      // U+FFFD
  EXPECT_DOUBLE_EQ(repeated_line_ratio("a\nb\na\n\na\n"), 0.5);  // 4 non-blank lines, 2 repeats
  EXPECT_DOUBLE_EQ(repeated_line_ratio("one line"), 0.0);
  CleaningOptions o{3, 10, 0.1, 0.3};
  EXPECT_EQ(rejected_by("  \t", o), "empty");
  EXPECT_EQ(rejected_by("ab", o), "min_chars");
  EXPECT_EQ(rejected_by("abcdefghijk", o), "max_chars");
  EXPECT_EQ(rejected_by("ab\x02\x03", o), "non_printable");
  EXPECT_EQ(rejected_by("x\nx\nx", o), "repeated_lines");
  EXPECT_EQ(rejected_by("fine text", o), std::nullopt);
}

TEST(Documents, ChunksCutOnlyAtDocumentEnds) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 200; ++i) text += fmt::format("document {} line one\nline two of {}\n\n", i, i);
  test::write_bytes(dir / "blocks.txt", text);
  for (size_t chunk_bytes : {size_t(37), size_t(1000), size_t(1) << 20}) {
    ChunkReader reader({dir / "blocks.txt"}, DocumentSeparator::BlankLine, chunk_bytes);
    Chunk chunk;
    std::vector<Document> all;
    uint64_t empty = 0, invalid = 0;
    while (reader.next(chunk)) {
      auto docs = split_documents(chunk, dir / "blocks.txt", false, DocumentSeparator::BlankLine, "text", false, &empty,
                                  &invalid);
      all.insert(all.end(), docs.begin(), docs.end());
    }
    ASSERT_EQ(all.size(), 200u) << chunk_bytes;
    EXPECT_EQ(all[123].text, "document 123 line one\nline two of 123");
    EXPECT_EQ(all[123].line, 123u * 3 + 1);
  }
}

// ---- prepare_data ----

std::vector<int64_t> all_tokens(const std::vector<fs::path>& shards) {
  std::vector<int64_t> out;
  for (const auto& p : shards) {
    auto s = TokenShard::open(p);
    size_t at = out.size();
    out.resize(at + s.size());
    s.read(0, s.size(), out.data() + at);
  }
  return out;
}

TEST(Prepare, FiltersCountWhatTheyRemoveAndShardsHoldTheRest) {
  TempDir dir;
  test::write_bytes(dir / "docs.jsonl",
                    "{\"text\": \"The first good document.\"}\n"
                    "{\"text\": \"hi\"}\n"                        // min_chars
                    "{\"text\": \"The first good document.\"}\n"  // duplicate
                    "{\"text\": \"" +
                        std::string(300, 'z') +
                        "\"}\n"                                             // max_chars
                        "{\"text\": \"bad\\u0001\\u0002\\u0003 bytes\"}\n"  // non_printable (3/12)
                        "{\"text\": \"same\\nsame\\nsame\\nother\"}\n"      // repeated_lines (2/4)
                        "{\"text\": \"   \"}\n"                             // empty
                        "{\"body\": \"no text field\"}\n"                   // invalid (skipped)
                        "not json\n"                                        // invalid (skipped)
                        "{\"text\": \"A second good document.\"}\n");
  PrepareOptions o;
  o.tokenizer = kTokenizer;
  o.inputs = {dir / "docs.jsonl"};
  o.out = dir / "out";
  o.min_chars = 5;
  o.max_chars = 200;
  o.validation_fraction = 0;
  o.skip_invalid = true;
  o.show_progress = false;
  PrepareSummary s = prepare_data(o);
  EXPECT_EQ(s.documents_read, 8u);
  EXPECT_EQ(s.invalid_rows, 2u);
  EXPECT_EQ(s.removed["empty"], 1u);
  EXPECT_EQ(s.removed["min_chars"], 1u);
  EXPECT_EQ(s.removed["max_chars"], 1u);
  EXPECT_EQ(s.removed["non_printable"], 1u);
  EXPECT_EQ(s.removed["repeated_lines"], 1u);
  EXPECT_EQ(s.removed["duplicate"], 1u);
  EXPECT_EQ(s.train.documents, 2u);
  EXPECT_EQ(s.validation.documents, 0u);

  auto tok = tokenizer::Tokenizer::load(kTokenizer);
  std::vector<int64_t> expected;
  for (const char* text : {"The first good document.", "A second good document."}) {
    for (int32_t id : tok.encode(text)) expected.push_back(id);
    expected.push_back(*tok.eos_id());
  }
  EXPECT_EQ(all_tokens(list_shards(o.out, "train")), expected);
  auto shard = TokenShard::open(list_shards(o.out, "train")[0]);
  EXPECT_EQ(shard.info().text_bytes, 47u);
  EXPECT_EQ(shard.info().tokenizer_hash, tokenizer_hash(tok));
  EXPECT_EQ(shard.info().eos_id, *tok.eos_id());

  auto manifest = nlohmann::json::parse(test::read_bytes(o.out / "manifest.json"));
  EXPECT_EQ(manifest["removed"]["duplicate"], 1);
  EXPECT_EQ(manifest["splits"]["train"]["tokens"], expected.size());
  EXPECT_EQ(manifest["invalid_rows"], 2);

  // Without --skip-invalid: the first bad row, by file:line.
  o.skip_invalid = false;
  o.overwrite = true;
  R1_EXPECT_THROW_WITH(prepare_data(o), Error, "docs.jsonl:8:", "\"text\"");
}

// A corpus of many lines with repeats, cut into many chunks: the output must not depend on --threads.
TEST(Prepare, OutputIsIndependentOfThreadsAndSplitsByHash) {
  TempDir dir;
  std::string corpus = test::read_bytes(fs::path(R1_SOURCE_DIR) / "tests/golden/tokenizer/corpus.txt");
  fs::create_directories(dir / "in");
  test::write_bytes(dir / "in" / "a.txt", corpus);
  test::write_bytes(dir / "in" / "b.txt", corpus.substr(0, corpus.size() / 2));  // duplicates of a.txt's lines
  auto run = [&](int threads, const std::string& out) {
    PrepareOptions o;
    o.tokenizer = kTokenizer;
    o.inputs = {dir / "in"};
    o.out = dir / out;
    o.threads = threads;
    o.chunk_bytes = 2000;
    o.shard_tokens = 3000;
    o.validation_fraction = 0.1;
    o.show_progress = false;
    return prepare_data(o);
  };
  PrepareSummary one = run(1, "out1"), two = run(3, "out2");
  EXPECT_EQ(one.to_json()["splits"], two.to_json()["splits"]);
  EXPECT_GT(one.train.shards.size(), 2u);
  for (const char* split : {"train", "validation"})
    EXPECT_EQ(all_tokens(list_shards(dir / "out1", split)), all_tokens(list_shards(dir / "out2", split)));
  EXPECT_GT(one.removed["duplicate"], 10u);
  double fraction = double(one.validation.documents) / double(one.documents());
  EXPECT_NEAR(fraction, 0.1, 0.04);
  for (const ShardInfo& shard : one.train.shards) EXPECT_EQ(shard.tokens, TokenShard::open(shard.path).size());
}

TEST(Prepare, ExactValidationDocumentsAndRefusingExistingOutput) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 50; ++i) text += fmt::format("line number {} of the test corpus\n", i);
  test::write_bytes(dir / "lines.txt", text);
  PrepareOptions o;
  o.tokenizer = kTokenizer;
  o.inputs = {dir / "lines.txt"};
  o.out = dir / "out";
  o.validation_documents = 7;
  o.show_progress = false;
  PrepareSummary s = prepare_data(o);
  EXPECT_EQ(s.validation.documents, 7u);
  EXPECT_EQ(s.train.documents, 43u);
  test::write_bytes(dir / "out" / "notes.txt", "mine");
  R1_EXPECT_THROW_WITH(prepare_data(o), Error, "already holds prepared data", "--overwrite");
  o.overwrite = true;
  o.validation_documents = 0;
  s = prepare_data(o);
  EXPECT_EQ(s.validation.documents, 0u);
  EXPECT_FALSE(fs::exists(dir / "out" / "validation-00000.bin"));  // the previous run's shard is gone
  EXPECT_EQ(test::read_bytes(dir / "out" / "notes.txt"), "mine");  // the user's file is not
}

TEST(Prepare, TokenizeDocumentsMatchesEncodePlusEos) {
  TempDir dir;
  test::write_bytes(dir / "eval.txt", "first line\n\nsecond line\n");
  auto tok = tokenizer::Tokenizer::load(kTokenizer);
  TokenizedText t = tokenize_documents(tok, dir / "eval.txt", "text", false);
  std::vector<int64_t> expected;
  for (const char* s : {"first line", "second line"}) {
    for (int32_t id : tok.encode(s)) expected.push_back(id);
    expected.push_back(0);
  }
  EXPECT_EQ(t.tokens, expected);
  EXPECT_EQ(t.documents, 2u);
  EXPECT_EQ(t.text_bytes, 21u);
  // A tokenizer without EOS cannot separate documents.
  fs::create_directories(dir / "noeos");
  fs::copy_file(kTokenizer / "tokenizer.json", dir / "noeos" / "tokenizer.json");
  R1_EXPECT_THROW_WITH(tokenize_documents(tokenizer::Tokenizer::load(dir / "noeos"), dir / "eval.txt", "text", false),
                       Error, "no EOS");
}

// ---- CLI ----

TEST(DataCli, PrepareWritesSummaryAndRefusesToOverwrite) {
  TempDir dir;
  test::write_bytes(dir / "rows.jsonl",
                    "{\"text\": \"alpha beta\"}\n{\"text\": \"gamma delta\"}\n"
                    "{\"text\": \"alpha beta\"}\n");
  std::string args = fmt::format("data prepare --tokenizer {} --input {} --out {} --validation-fraction 0 --quiet",
                                 kTokenizer.string(), (dir / "rows.jsonl").string(), (dir / "out").string());
  auto r = test::run_r1(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("read 3 documents"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("duplicate 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 documents"), std::string::npos) << r.output;
  auto manifest = nlohmann::json::parse(test::read_bytes(dir / "out" / "manifest.json"));
  EXPECT_EQ(manifest["splits"]["train"]["documents"], 2);
  EXPECT_EQ(manifest["dtype"], "uint16");

  auto again = test::run_r1(args);
  EXPECT_EQ(again.status, 1) << again.output;
  EXPECT_NE(again.output.find("--overwrite"), std::string::npos) << again.output;
  EXPECT_EQ(test::run_r1(args + " --overwrite").status, 0);

  auto info = test::run_r1("data info " + (dir / "out").string());
  EXPECT_EQ(info.status, 0) << info.output;
  EXPECT_NE(info.output.find("2 documents"), std::string::npos) << info.output;

  auto usage = test::run_r1(args + " --overwrite --document-separator paragraphs");
  EXPECT_EQ(usage.status, 2) << usage.output;
  EXPECT_NE(usage.output.find("--document-separator"), std::string::npos) << usage.output;
}

}  // namespace
}  // namespace r1::data
