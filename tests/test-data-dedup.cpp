// Tests for near-duplicate removal (`r1 data dedup`): MinHash estimates against exact Jaccard (a statistical
// bound for num_perm, fixed seed), the band/row choice against datasketch's _optimal_param, the normalisation
// and shingling rule (punctuation, NFKC, CJK characters), a planted near-duplicate set found exactly with no
// false removal, candidates below the threshold kept, CJK text deduplicated through character shingles, JSONL
// field selection and errors naming file:line, plain-text documents, independence of threads and chunking,
// and the CLI. Corpora are built from a seeded SplitMix64 stream (data/hash.h), the same on every platform.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "data/hash.h"
#include "data/minhash.h"
#include "r1/data.h"
#include "r1/error.h"
#include "test-helpers.h"

namespace r1::data {
namespace {
namespace fs = std::filesystem;
using test::TempDir;

// A seeded word stream: word k of stream s is drawn from a vocabulary of `vocab` made-up words.
std::string word(uint64_t stream, uint64_t k, uint64_t vocab = 5000) {
  uint64_t id = mix64(stream, k) % vocab;
  std::string w;
  for (uint64_t x = mix64(id, 77); w.size() < 3 + id % 6; x /= 26) w += char('a' + x % 26);
  return w;
}

std::vector<std::string> words(uint64_t stream, size_t count) {
  std::vector<std::string> out;
  for (size_t k = 0; k < count; ++k) out.push_back(word(stream, k));
  return out;
}

std::string join(const std::vector<std::string>& ws) {
  std::string out;
  for (size_t i = 0; i < ws.size(); ++i) out += (i ? (i % 11 == 10 ? ". " : " ") : "") + ws[i];
  return out + ".";
}

// ---- MinHash and LSH parameters ----

TEST(MinHash, EstimatesStayWithinTheStatisticalBoundOfExactJaccard) {
  // Sets of 600 elements sharing `common` of them: Jaccard = common / (1200 - common). The estimate is a mean
  // of num_perm Bernoulli(J) draws: its standard deviation is sqrt(J (1 - J) / num_perm); 4 of them bound it.
  const int kPerm = 256;
  MinHasher hasher(kPerm, 7);
  double total_error = 0;
  int pairs = 0;
  for (size_t common : {0, 60, 200, 300, 450, 540, 600}) {
    for (uint64_t trial = 0; trial < 8; ++trial) {
      std::vector<uint64_t> a, b;
      for (size_t i = 0; i < 600; ++i) a.push_back(mix64(trial, 1, i));
      for (size_t i = 0; i < 600; ++i) b.push_back(i < common ? a[i] : mix64(trial, 2, i));
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      const double exact = jaccard(a, b);
      EXPECT_DOUBLE_EQ(exact, double(common) / double(1200 - common));
      const double estimate = estimated_jaccard(hasher.signature(a), hasher.signature(b));
      const double sigma = std::sqrt(exact * (1 - exact) / kPerm);
      EXPECT_NEAR(estimate, exact, 4 * sigma + 1.0 / kPerm) << "common " << common << " trial " << trial;
      total_error += estimate - exact;
      ++pairs;
    }
  }
  EXPECT_LT(std::abs(total_error / pairs), 0.01);  // no bias: the mean error of 56 pairs is near 0
  // Identical sets have identical signatures; a set's signature does not depend on order or repeats.
  std::vector<uint64_t> s = {mix64(1), mix64(2), mix64(3)};
  std::sort(s.begin(), s.end());
  EXPECT_EQ(hasher.signature(s), hasher.signature(s));
  EXPECT_EQ(MinHasher(kPerm, 7).signature(s), hasher.signature(s));
  EXPECT_NE(MinHasher(kPerm, 8).signature(s), hasher.signature(s));  // the seed chooses the permutations
}

TEST(MinHash, ExactJaccardOnSortedSets) {
  EXPECT_DOUBLE_EQ(jaccard({1, 2, 3}, {2, 3, 4}), 0.5);
  EXPECT_DOUBLE_EQ(jaccard({1, 2, 3}, {1, 2, 3}), 1.0);
  EXPECT_DOUBLE_EQ(jaccard({1}, {2}), 0.0);
  EXPECT_DOUBLE_EQ(jaccard({}, {}), 0.0);
  EXPECT_DOUBLE_EQ(jaccard({5}, {}), 0.0);
}

TEST(MinHash, BandsAndRowsFollowDatasketch) {
  // datasketch.lsh._optimal_param(threshold, num_perm, 0.5, 0.5), evaluated with datasketch's own formula.
  struct Case {
    double threshold;
    int num_perm, bands, rows;
  };
  for (const Case& c : {Case{0.7, 128, 14, 9}, Case{0.8, 128, 9, 13}, Case{0.5, 128, 25, 5}, Case{0.9, 64, 3, 21},
                        Case{0.7, 256, 25, 10}, Case{0.9, 256, 9, 28}}) {
    LshParams p = optimal_lsh_params(c.threshold, c.num_perm);
    EXPECT_EQ(p.bands, c.bands) << c.threshold << " " << c.num_perm;
    EXPECT_EQ(p.rows, c.rows) << c.threshold << " " << c.num_perm;
  }
  EXPECT_NEAR(lsh_candidate_probability(0.7, 14, 9), 1 - std::pow(1 - std::pow(0.7, 9), 14), 1e-15);
  EXPECT_THROW(optimal_lsh_params(0.0, 128), UsageError);
  EXPECT_THROW(optimal_lsh_params(0.7, 1), UsageError);
}

// ---- Normalisation and shingles ----

TEST(Shingles, NormaliseLowerCaseAndDropPunctuation) {
  using V = std::vector<std::string>;
  EXPECT_EQ(dedup_tokens("Hello, WORLD!  l'été -- snake_case 3.14", ShingleKind::Word),
            (V{"hello", "world", "l", "été", "snake_case", "3", "14"}));
  EXPECT_EQ(dedup_tokens("ＡＢＣ ﬁne Ⅻ", ShingleKind::Word), (V{"abc", "fine", "xii"}));  // NFKC first
  EXPECT_EQ(dedup_tokens("我爱北京 Tokyo東京！", ShingleKind::Auto), (V{"我", "爱", "北", "京", "tokyo", "東", "京"}));
  EXPECT_EQ(dedup_tokens("我爱北京 Tokyo東京！", ShingleKind::Word), (V{"我爱北京", "tokyo東京"}));
  EXPECT_EQ(dedup_tokens("ひらがな カタカナ", ShingleKind::Auto), (V{"ひ", "ら", "が", "な", "カ", "タ", "カ", "ナ"}));
  EXPECT_EQ(dedup_tokens("Ab, c!", ShingleKind::Char), (V{"a", "b", " ", "c"}));
  EXPECT_EQ(dedup_tokens("... !!", ShingleKind::Auto), V{});
  // Punctuation and case do not change the shingles; word order does.
  EXPECT_EQ(shingle_set("The quick brown fox jumps over the lazy dog", ShingleKind::Auto, 3),
            shingle_set("the QUICK, brown fox -- jumps over (the) lazy dog!", ShingleKind::Auto, 3));
  EXPECT_NE(shingle_set("the quick brown fox", ShingleKind::Auto, 3),
            shingle_set("quick the brown fox", ShingleKind::Auto, 3));
  EXPECT_EQ(shingle_set("one two three four", ShingleKind::Word, 2).size(), 3u);
  EXPECT_EQ(shingle_set("one two", ShingleKind::Word, 5).size(), 1u);  // fewer tokens than n: one shingle
  EXPECT_NE(shingle_set("one two", ShingleKind::Word, 5), shingle_set("one", ShingleKind::Word, 5));
  EXPECT_TRUE(shingle_set("?!", ShingleKind::Word, 5).empty());
}

// ---- Corpora ----

struct Planted {
  std::vector<std::string> texts;
  std::map<size_t, size_t> copies;  // copy index -> original index
};

// `originals` random documents of 150-199 words, and for each (of, edits) a copy of original `of` with `edits`
// words replaced (each replaced word changes up to 5 word 5-grams: Jaccard about (N - 5e) / (N + 5e)), placed
// at a seeded position after it. A copy without edits differs in case and punctuation only (Jaccard 1).
Planted planted_corpus(size_t originals, const std::vector<std::pair<size_t, size_t>>& copies_of_with_edits,
                       uint64_t seed = 1) {
  struct Item {
    size_t position, copy;  // originals at even positions; copy c after its original (odd), ties by c
    size_t of;              // the original (for copies)
    std::string text;
  };
  std::vector<Item> items;
  std::vector<std::vector<std::string>> docs;
  for (size_t i = 0; i < originals; ++i) {
    docs.push_back(words(mix64(seed, i), 150 + mix64(seed, 99, i) % 50));
    items.push_back({2 * i, 0, i, join(docs.back())});
  }
  for (size_t c = 0; c < copies_of_with_edits.size(); ++c) {
    auto [of, edits] = copies_of_with_edits[c];
    std::vector<std::string> w = docs[of];
    for (size_t e = 0; e < edits; ++e) w[mix64(seed, 1000 + c, e) % w.size()] = word(mix64(seed, 2000 + c), e, 1000000);
    std::string text = join(w);
    if (edits == 0) text = "  " + text.substr(0, text.size() - 1) + "!!";
    if (edits == 0) text[2] = char(std::toupper(static_cast<unsigned char>(text[2])));
    items.push_back({2 * (of + mix64(seed, 3000 + c) % (originals - of)) + 1, c + 1, of, text});
  }
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return std::tie(a.position, a.copy) < std::tie(b.position, b.copy);
  });
  Planted p;
  std::vector<size_t> index_of_original(originals);
  for (size_t i = 0; i < items.size(); ++i)
    if (items[i].copy == 0) index_of_original[items[i].of] = i;
  for (size_t i = 0; i < items.size(); ++i) {
    p.texts.push_back(items[i].text);
    if (items[i].copy) p.copies[i] = index_of_original[items[i].of];
  }
  return p;
}

void write_jsonl(const fs::path& path, const std::vector<std::string>& texts, const std::string& field = "text") {
  std::string out;
  for (size_t i = 0; i < texts.size(); ++i) out += nlohmann::json{{"id", i}, {field, texts[i]}}.dump() + "\n";
  test::write_bytes(path, out);
}

std::vector<int64_t> ids(const fs::path& jsonl) {
  std::vector<int64_t> out;
  for (const auto& row : test::read_jsonl(jsonl)) out.push_back(row["id"].get<int64_t>());
  return out;
}

NearDedupOptions options(const TempDir& dir) {
  NearDedupOptions o;
  o.inputs = {dir / "in.jsonl"};
  o.output = dir / "out.jsonl";
  o.report = dir / "report.jsonl";
  o.show_progress = false;
  o.threads = 2;
  return o;
}

TEST(NearDedup, PlantedNearCopiesAreFoundExactlyWithNoFalseRemoval) {
  // 180 random documents and 20 near-copies of 20 of them (0 or 1 word replaced: Jaccard 0.93-1 on word
  // 5-grams, where 14 bands of 9 rows make a pair a candidate with probability > 0.9999), plus 5 copies with
  // 12 words replaced (Jaccard ~0.5): only the first 20 are duplicates at 0.7, and all of them are found.
  std::vector<std::pair<size_t, size_t>> plan;
  for (size_t c = 0; c < 20; ++c) plan.emplace_back(c * 9, c % 2);
  for (size_t c = 0; c < 5; ++c) plan.emplace_back(c * 9 + 4, 12);
  Planted p = planted_corpus(180, plan);
  ASSERT_EQ(p.texts.size(), 205u);
  // The truth, by exact Jaccard of the shingle sets.
  std::set<size_t> expected;
  std::map<size_t, double> expected_jaccard;
  for (auto [copy, orig] : p.copies) {
    double j =
        jaccard(shingle_set(p.texts[copy], ShingleKind::Auto, 5), shingle_set(p.texts[orig], ShingleKind::Auto, 5));
    if (j >= 0.7)
      expected.insert(copy), expected_jaccard[copy] = j;
    else
      EXPECT_LT(j, 0.6);
  }
  ASSERT_EQ(expected.size(), 20u);
  TempDir dir;
  write_jsonl(dir / "in.jsonl", p.texts);
  NearDedupSummary s = near_dedup(options(dir));
  EXPECT_EQ(s.documents, 205u);
  EXPECT_EQ(s.removed, 20u);
  EXPECT_EQ(s.clusters, 20u);
  EXPECT_EQ(s.kept(), 185u);
  EXPECT_EQ(s.lsh.bands, 14);
  EXPECT_EQ(s.lsh.rows, 9);
  std::vector<int64_t> kept = ids(dir / "out.jsonl");
  ASSERT_EQ(kept.size(), 185u);
  for (size_t i = 0, k = 0; i < p.texts.size(); ++i) {
    if (expected.count(i)) continue;
    EXPECT_EQ(kept[k++], int64_t(i));  // every other document, in input order
  }
  auto report = test::read_jsonl(dir / "report.jsonl");
  ASSERT_EQ(report.size(), 20u);
  for (const auto& r : report) {
    size_t removed = r["removed_index"].get<size_t>();
    ASSERT_TRUE(expected.count(removed)) << r.dump();
    EXPECT_EQ(r["kept_index"].get<size_t>(), p.copies.at(removed));
    EXPECT_EQ(r["matched_index"].get<size_t>(), p.copies.at(removed));
    EXPECT_DOUBLE_EQ(r["jaccard"].get<double>(), expected_jaccard.at(removed));
    EXPECT_EQ(r["removed"].get<std::string>(), fmt::format("{}:{}", (dir / "in.jsonl").string(), removed + 1));
  }
}

TEST(NearDedup, CandidatesBelowTheThresholdAreComparedAndKept) {
  // Copies at Jaccard ~0.45-0.67 with 32 bands of 4 rows (most such pairs become candidates): every
  // candidate is compared exactly and none is removed.
  std::vector<std::pair<size_t, size_t>> plan;
  for (size_t c = 0; c < 10; ++c) plan.emplace_back(c * 3, 8 + c % 4);
  Planted p = planted_corpus(40, plan, 5);
  TempDir dir;
  write_jsonl(dir / "in.jsonl", p.texts);
  NearDedupOptions o = options(dir);
  o.bands = 32, o.rows = 4;
  o.threshold = 0.7;
  NearDedupSummary s = near_dedup(o);
  EXPECT_GE(s.candidate_pairs, 5u);
  EXPECT_EQ(s.duplicate_pairs, 0u);
  EXPECT_EQ(s.removed, 0u);
  EXPECT_EQ(ids(dir / "out.jsonl").size(), p.texts.size());
  // The same corpus at a threshold below those Jaccards (64 bands of 2 rows: every such pair a candidate)
  // removes the copies, each linked to its original.
  o.threshold = 0.3;
  o.bands = 64, o.rows = 2;
  o.overwrite = true;
  s = near_dedup(o);
  EXPECT_EQ(s.removed, 10u);
  for (const auto& r : test::read_jsonl(dir / "report.jsonl")) {
    EXPECT_EQ(r["kept_index"].get<size_t>(), p.copies.at(r["removed_index"].get<size_t>()));
    EXPECT_GE(r["jaccard"].get<double>(), 0.3);
    EXPECT_LT(r["jaccard"].get<double>(), 0.7);
  }
}

TEST(NearDedup, ClustersKeepTheirFirstDocumentThroughChains) {
  // a ~ b and b ~ c (each 2 words apart: Jaccard ~0.82) but a and c 4 words apart (~0.67): one cluster at
  // 0.8, a kept, b and c removed. 32 bands of 4 rows make every such pair a candidate.
  std::vector<std::string> a = words(42, 100), b = a, c;
  b[10] = "zzaa", b[60] = "zzbb";
  c = b;
  c[30] = "zzcc", c[80] = "zzdd";
  std::vector<std::string> texts = {join(words(1, 90)), join(a), join(words(2, 90)), join(b), join(c)};
  TempDir dir;
  write_jsonl(dir / "in.jsonl", texts);
  NearDedupOptions o = options(dir);
  o.threshold = 0.8;
  o.bands = 32, o.rows = 4;
  NearDedupSummary s = near_dedup(o);
  EXPECT_EQ(s.removed, 2u);
  EXPECT_EQ(s.clusters, 1u);
  EXPECT_EQ(ids(dir / "out.jsonl"), (std::vector<int64_t>{0, 1, 2}));
  for (const auto& r : test::read_jsonl(dir / "report.jsonl")) EXPECT_EQ(r["kept_index"], 1);
}

TEST(NearDedup, CjkTextDeduplicatesWithCharacterShingles) {
  // Chinese documents without spaces: a copy with two characters changed and punctuation changed is a
  // near-duplicate by character 5-grams (auto), but not by words (the whole sentence is one word).
  auto chinese = [](uint64_t seed, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) {
      const char32_t cp = char32_t(0x4E00 + mix64(seed, i) % 2000);  // CJK Unified Ideographs: 3 UTF-8 bytes
      s += char(0xE0 | (cp >> 12)), s += char(0x80 | ((cp >> 6) & 0x3F)), s += char(0x80 | (cp & 0x3F));
      if (i % 17 == 16) s += "，";
    }
    return s + "。";
  };
  std::string original = chinese(3, 150);
  std::string copy = original;
  copy.replace(30, 3, "好");  // two characters changed (3 UTF-8 bytes each, at character boundaries)
  copy.replace(300, 3, "的");
  copy += "！";
  std::vector<std::string> texts = {chinese(1, 120), original, chinese(2, 140), copy, chinese(4, 100)};
  TempDir dir;
  write_jsonl(dir / "in.jsonl", texts);
  NearDedupOptions o = options(dir);
  NearDedupSummary s = near_dedup(o);
  EXPECT_EQ(s.removed, 1u);
  EXPECT_EQ(ids(dir / "out.jsonl"), (std::vector<int64_t>{0, 1, 2, 4}));
  o.shingle = ShingleKind::Word;
  o.overwrite = true;
  EXPECT_EQ(near_dedup(o).removed, 0u);
  o.shingle = ShingleKind::Char;
  EXPECT_EQ(near_dedup(o).removed, 1u);
}

TEST(NearDedup, JsonlFieldSelectionKeepsRowsByteForByteAndErrorsNameFileAndLine) {
  std::vector<std::string> a = words(7, 80), b = a;
  b[5] = "qqqq";
  TempDir dir;
  const std::string row1 = R"({"content": )" + nlohmann::json(join(a)).dump() + R"(, "text": "x", "n": 1.50})";
  const std::string row3 = R"({"content": "short unrelated words here", "text": "x"})";
  const std::string row4 = R"({"text": "x",   "content": )" + nlohmann::json(join(b)).dump() + "}";
  test::write_bytes(dir / "in.jsonl", row1 + "\n\n" + row3 + "\n" + row4 + "\r\n");
  NearDedupOptions o = options(dir);
  o.field = "content";
  NearDedupSummary s = near_dedup(o);
  EXPECT_EQ(s.documents, 3u);
  EXPECT_EQ(s.removed, 1u);
  EXPECT_EQ(test::read_bytes(dir / "out.jsonl"), row1 + "\n" + row3 + "\n");  // rows as written, in order
  auto report = test::read_jsonl(dir / "report.jsonl");
  ASSERT_EQ(report.size(), 1u);
  EXPECT_EQ(report[0]["removed"], (dir / "in.jsonl").string() + ":4");
  EXPECT_EQ(report[0]["kept"], (dir / "in.jsonl").string() + ":1");

  o.overwrite = true;
  o.field = "missing";
  R1_EXPECT_THROW_WITH(near_dedup(o), Error, "in.jsonl:1", "no string field \"missing\"");
  test::write_bytes(dir / "bad.jsonl", R"({"text": "fine row"})"
                                       "\n"
                                       R"({"text": "broken)"
                                       "\n");
  o.inputs = {dir / "bad.jsonl"};
  o.field = "text";
  R1_EXPECT_THROW_WITH(near_dedup(o), Error, "bad.jsonl:2", "not valid JSON");
  o.skip_invalid = true;
  s = near_dedup(o);
  EXPECT_EQ(s.invalid_rows, 1u);
  EXPECT_EQ(s.documents, 1u);
}

TEST(NearDedup, PlainTextLinesAndBlocksAreWrittenAsRead) {
  std::vector<std::string> a = words(11, 70), b = a;
  b[3] = "xyzzy";
  TempDir dir;
  test::write_bytes(dir / "in.txt", join(a) + "\n" + join(words(12, 50)) + "\n   \n" + join(b) + "\n");
  NearDedupOptions o = options(dir);
  o.inputs = {dir / "in.txt"};
  o.output = dir / "out.txt";
  o.report.clear();
  NearDedupSummary s = near_dedup(o);
  EXPECT_EQ(s.removed, 1u);
  EXPECT_EQ(s.empty, 1u);
  EXPECT_EQ(test::read_bytes(dir / "out.txt"), join(a) + "\n" + join(words(12, 50)) + "\n");
  // Blank-line blocks: a document spans lines; the kept blocks are separated by one blank line.
  std::string block_a = "Title\n" + join(a) + "\n" + join(words(13, 20));
  std::string block_b = "title\n" + join(b) + "\n" + join(words(13, 20));
  std::string other = join(words(14, 60)) + "\r\nsecond line";
  test::write_bytes(dir / "blocks.md", block_a + "\n\n\n" + other + "\n\n" + block_b + "\n");
  o.inputs = {dir / "blocks.md"};
  o.separator = DocumentSeparator::BlankLine;
  o.overwrite = true;
  s = near_dedup(o);
  EXPECT_EQ(s.documents, 3u);
  EXPECT_EQ(s.removed, 1u);
  EXPECT_EQ(test::read_bytes(dir / "out.txt"), block_a + "\n\n" + other + "\n");
}

TEST(NearDedup, OutputDoesNotDependOnThreadsOrChunking) {
  std::vector<std::pair<size_t, size_t>> plan;
  for (size_t c = 0; c < 30; ++c) plan.emplace_back((c * 7) % 100, 1 + c % 5);
  Planted p = planted_corpus(100, plan, 9);
  TempDir dir;
  write_jsonl(dir / "in.jsonl", p.texts);
  NearDedupOptions o = options(dir);
  o.threads = 1;
  o.bands = 32, o.rows = 4;  // every planted pair a candidate, whatever the seed
  NearDedupSummary one = near_dedup(o);
  const std::string out = test::read_bytes(dir / "out.jsonl"), report = test::read_bytes(dir / "report.jsonl");
  EXPECT_GT(one.removed, 20u);
  o.overwrite = true;
  for (auto [threads, chunk] : {std::pair{3, size_t(300)}, std::pair{2, size_t(5000)}, std::pair{4, size_t(1)}}) {
    o.threads = threads;
    o.chunk_bytes = chunk;
    NearDedupSummary s = near_dedup(o);
    EXPECT_EQ(s.removed, one.removed);
    EXPECT_EQ(s.candidate_pairs, one.candidate_pairs);
    EXPECT_EQ(test::read_bytes(dir / "out.jsonl"), out) << threads << " threads, chunks of " << chunk;
    EXPECT_EQ(test::read_bytes(dir / "report.jsonl"), report);
  }
  // Another seed draws other permutations and other candidates, but the same verified duplicates here.
  o.seed = 1234;
  EXPECT_EQ(near_dedup(o).removed, one.removed);
}

TEST(NearDedup, RefusesBadOptionsAndExistingOutputs) {
  TempDir dir;
  write_jsonl(dir / "in.jsonl", {"a b c", "d e f"});
  NearDedupOptions o = options(dir);
  o.bands = 20, o.rows = 8;
  R1_EXPECT_THROW_WITH(near_dedup(o), UsageError, "--bands 20 x --rows 8 = 160 exceeds --num-perm 128");
  o.bands = 4, o.rows = 0;
  EXPECT_THROW(near_dedup(o), UsageError);
  o.rows = 4;
  near_dedup(o);
  R1_EXPECT_THROW_WITH(near_dedup(o), Error, "out.jsonl: exists; pass --overwrite");
  o.overwrite = true;
  o.output = o.inputs[0];
  R1_EXPECT_THROW_WITH(near_dedup(o), Error, "is also an input");
  test::write_bytes(dir / "t.txt", "plain\n");
  o.inputs = {dir / "in.jsonl", dir / "t.txt"};
  o.output = dir / "x.jsonl";
  R1_EXPECT_THROW_WITH(near_dedup(o), Error, "mix JSONL and plain text");
  o.inputs = {dir / "in.jsonl"};
  o.threshold = 1.5;
  EXPECT_THROW(near_dedup(o), UsageError);
  EXPECT_THROW(parse_shingle_kind("letters"), UsageError);
}

TEST(DataCli, DedupPrintsTheSummaryAndHelp) {
  std::vector<std::string> a = words(21, 80), b = a;
  b[40] = "changed";
  TempDir dir;
  write_jsonl(dir / "in.jsonl", {join(a), join(words(22, 80)), join(b)});
  auto r = test::run_r1(fmt::format("data dedup --input {} --output {} --quiet", (dir / "in.jsonl").string(),
                                    (dir / "out.jsonl").string()));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("read 3 documents"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("14 bands x 9 rows"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("removed 1 near-duplicates in 1 clusters, kept 2"), std::string::npos) << r.output;
  EXPECT_EQ(ids(dir / "out.jsonl"), (std::vector<int64_t>{0, 1}));
  r = test::run_r1(
      fmt::format("data dedup --input {} --output {}", (dir / "in.jsonl").string(), (dir / "out.jsonl").string()));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("pass --overwrite"), std::string::npos) << r.output;
  r = test::run_r1(fmt::format("data dedup --input {} --output {} --shingle letters", (dir / "in.jsonl").string(),
                               (dir / "o2.jsonl").string()));
  EXPECT_EQ(r.status, 2) << r.output;
  r = test::run_r1("data dedup --help");
  EXPECT_EQ(r.status, 0);
  for (const char* option : {"--threshold", "--num-perm", "--bands", "--rows", "--shingle", "--ngram", "--report"})
    EXPECT_NE(r.output.find(option), std::string::npos) << option;
}

}  // namespace
}  // namespace r1::data
