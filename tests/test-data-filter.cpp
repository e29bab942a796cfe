// Tests for `r1 data filter` (r1/data.h): every rule of the Gopher repetition, Gopher quality, C4 and FineWeb
// filters on hand-made documents just under and just over its threshold (a value equal to a threshold passes, as
// in datatrove), the words and sentences the rules count, CLD2 language identification on en / zh / fr / de / ja /
// ko sentences with global and per-language thresholds, and the CLI end to end: kept and rejected files (text
// and JSONL), --explain on stdout and as JSONL, the per-rule summary, refusing to overwrite.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "r1/data.h"
#include "r1/error.h"
#include "test-helpers.h"

namespace r1::data {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using test::TempDir;

// Every rule off; a test turns on the one it checks.
QualityFilterOptions none_of(std::vector<std::string> filters) {
  QualityFilterOptions o;
  o.filters = std::move(filters);
  o.dup_line_frac = o.dup_para_frac = o.dup_line_char_frac = o.dup_para_char_frac = 0;
  o.top_n_grams.clear();
  o.dup_n_grams.clear();
  o.min_doc_words = o.max_doc_words = 0;
  o.min_avg_word_length = o.max_avg_word_length = 0;
  o.max_symbol_word_ratio = o.max_bullet_lines_ratio = o.max_ellipsis_lines_ratio = 0;
  o.max_non_alpha_words_ratio = 0;
  o.min_stop_words = 0;
  o.remove_citations = o.filter_no_terminal_punct = false;
  o.min_num_sentences = o.min_words_per_line = o.max_word_length = -1;
  o.filter_lorem_ipsum = o.filter_javascript = o.filter_curly_bracket = o.filter_policy = false;
  o.line_punct_thr = 0;
  o.short_line_thr = 1;
  o.char_duplicates_ratio = 1;
  o.new_line_ratio = 1e9;
  return o;
}

std::string lines(const std::vector<std::string>& ls) {
  std::string out;
  for (size_t i = 0; i < ls.size(); ++i) out += (i ? "\n" : "") + ls[i];
  return out;
}

std::string repeat_lines(const std::string& line, int n) { return lines(std::vector<std::string>(size_t(n), line)); }

void expect_keep(const std::string& text, const QualityFilterOptions& o) {
  FilterVerdict v = filter_document(text, o);
  EXPECT_TRUE(v.keep) << v.explain() << "\n---\n" << text;
}

FilterVerdict expect_drop(const std::string& text, const QualityFilterOptions& o, const std::string& rule) {
  FilterVerdict v = filter_document(text, o);
  EXPECT_FALSE(v.keep) << "expected " << rule << "\n---\n" << text;
  EXPECT_EQ(v.rule, rule) << v.explain();
  return v;
}

// ---- Words and sentences -------------------------------------------------------------------------------------------

TEST(DataFilterWords, PunctuationIsSplitOffAndHanCharactersAreWords) {
  EXPECT_EQ(split_words("Hello, world! It's (really) fine..."),
            (std::vector<std::string>{"Hello", ",", "world", "!", "It's", "(", "really", ")", "fine", "..."}));
  EXPECT_EQ(split_words("#tag - a.b.c"), (std::vector<std::string>{"#", "tag", "-", "a.b.c"}));
  EXPECT_EQ(split_words("我爱北京 ok。"), (std::vector<std::string>{"我", "爱", "北", "京", "ok", "。"}));
  EXPECT_TRUE(split_words(" \n\t ").empty());
}

TEST(DataFilterWords, SentencesEndAtTerminalPunctuationBeforeSpace) {
  EXPECT_EQ(split_sentences("One here. Two there! \"Three?\" Four"),
            (std::vector<std::string>{"One here.", "Two there!", "\"Three?\"", "Four"}));
  EXPECT_EQ(split_sentences("3.14 is pi. Ok"), (std::vector<std::string>{"3.14 is pi.", "Ok"}));
  EXPECT_EQ(split_sentences("第一句。第二句！"), (std::vector<std::string>{"第一句。", "第二句！"}));
}

// ---- Gopher quality
// --------------------------------------------------------------------------------------------------

TEST(DataFilterGopherQuality, WordCountBounds) {
  QualityFilterOptions o = none_of({"gopher-quality"});
  o.min_doc_words = 5;
  expect_keep("alpha beta gamma delta epsilon", o);
  FilterVerdict v = expect_drop("alpha beta gamma delta .", o, "gopher_short_doc");  // "." is no word
  EXPECT_EQ(v.value, 4);
  EXPECT_EQ(v.threshold, 5);
  EXPECT_EQ(v.parameter, "min_doc_words");
  EXPECT_EQ(v.explain(), "gopher_short_doc: words 4 < min_doc_words 5");
  o.min_doc_words = 0;
  o.max_doc_words = 5;
  expect_keep("alpha beta gamma delta epsilon !", o);
  expect_drop("alpha beta gamma delta epsilon zeta", o, "gopher_long_doc");
}

TEST(DataFilterGopherQuality, MeanWordLength) {
  QualityFilterOptions o = none_of({"gopher-quality"});
  o.min_avg_word_length = 3;
  expect_keep("abc abc", o);
  FilterVerdict v = expect_drop("abc ab", o, "gopher_below_avg_threshold");
  EXPECT_DOUBLE_EQ(v.value, 2.5);
  o.min_avg_word_length = 0;
  o.max_avg_word_length = 10;
  expect_keep("abcdefghij abcdefghij", o);
  expect_drop("abcdefghij abcdefghijk", o, "gopher_above_avg_threshold");
}

TEST(DataFilterGopherQuality, HashAndEllipsisPerWord) {
  QualityFilterOptions o = none_of({"gopher-quality"});
  o.max_symbol_word_ratio = 0.1;
  expect_keep("a b c d e f g h i #", o);  // 1 / 10
  FilterVerdict v = expect_drop("a b c d e f g h #", o, "gopher_too_many_hashes");
  EXPECT_NEAR(v.value, 1.0 / 9, 1e-12);
  expect_keep("a b c d e f g h i ...", o);
  expect_drop("a b c d e f g h \u2026", o, "gopher_too_many_ellipsis");
}

TEST(DataFilterGopherQuality, BulletAndEllipsisLines) {
  QualityFilterOptions o = none_of({"gopher-quality"});
  o.max_bullet_lines_ratio = 0.9;
  expect_keep(repeat_lines("- item", 9) + "\nplain line", o);  // 9 / 10
  expect_drop(repeat_lines("  \u2022 item", 10), o, "gopher_too_many_bullets");
  o.max_bullet_lines_ratio = 0;
  o.max_ellipsis_lines_ratio = 0.3;
  expect_keep(repeat_lines("and so on...", 3) + "\n" + repeat_lines("done.", 7), o);  // 3 / 10
  FilterVerdict v = expect_drop(repeat_lines("and so on\u2026  ", 4) + "\n" + repeat_lines("done.", 6), o,
                                "gopher_too_many_end_ellipsis");
  EXPECT_DOUBLE_EQ(v.value, 0.4);
}

TEST(DataFilterGopherQuality, WordsWithLettersAndStopWords) {
  QualityFilterOptions o = none_of({"gopher-quality"});
  o.max_non_alpha_words_ratio = 0.8;
  expect_keep("a b c d 1", o);  // 4 / 5
  EXPECT_DOUBLE_EQ(expect_drop("a b c 1 2", o, "gopher_below_alpha_threshold").value, 0.6);
  expect_keep("a b c d .", o);                                  // punctuation counts as a word here: 4 / 5
  expect_drop("a b c . .", o, "gopher_below_alpha_threshold");  // 3 / 5
  o.max_non_alpha_words_ratio = 0;
  o.min_stop_words = 2;
  expect_keep("the cat and the dog", o);
  EXPECT_EQ(expect_drop("the cat sat", o, "gopher_enough_stop_words").value, 1);
  expect_drop("The cat And dog", o, "gopher_enough_stop_words");      // case-sensitive, as datatrove
  o.stop_words = {"the", "supercalifragilisticexpialidocious-ness"};  // any length counts (40 characters)
  expect_keep("the supercalifragilisticexpialidocious-ness of it", o);
}

// ---- Gopher repetition
// -----------------------------------------------------------------------------------------------

TEST(DataFilterGopherRepetition, DuplicateLinesAndParagraphs) {
  QualityFilterOptions o = none_of({"gopher-repetition"});
  o.dup_line_frac = 0.3;
  const std::string unique7 = lines({"u1", "u2", "u3", "u4", "u5", "u6", "u7"});
  expect_keep(unique7 + "\nrep\nrep\nrep", o);                                           // 10 lines, 2 duplicates
  expect_keep(lines({"u1", "u2", "u3", "u4", "u5", "u6"}) + "\nrep\nrep\nrep\nrep", o);  // 3 / 10
  FilterVerdict v =
      expect_drop(lines({"u1", "u2", "u3", "u4", "u5"}) + "\nrep\nrep\nrep\nrep\nrep", o, "dup_line_frac");
  EXPECT_DOUBLE_EQ(v.value, 0.4);
  o.dup_line_frac = 0;
  o.dup_para_frac = 0.3;
  const std::string p = "para one\n\npara two\n\npara three\n\npara four\n\npara five\n\npara six\n\n";
  expect_keep(p + "same\n\nsame\n\nsame\n\nsame", o);  // 10 paragraphs, 3 duplicates
  expect_drop("para one\n\npara two\n\npara three\n\npara four\n\npara five\n\n" + repeat_lines("same\n", 5), o,
              "dup_para_frac");
}

TEST(DataFilterGopherRepetition, DuplicateLineCharacters) {
  QualityFilterOptions o = none_of({"gopher-repetition"});
  o.dup_line_char_frac = 0.2;
  // 10 duplicated characters in a 50-character text: 0.2 exactly, kept; in 49 characters: dropped.
  const std::string twice = "0123456789\n0123456789\n";
  expect_keep(twice + std::string(28, 'x'), o);
  FilterVerdict v = expect_drop(twice + std::string(27, 'x'), o, "dup_line_char_frac");
  EXPECT_NEAR(v.value, 10.0 / 49, 1e-12);
  o.dup_line_char_frac = 0;
  o.dup_para_char_frac = 0.2;
  const std::string paras = "0123456789\n\n0123456789\n\n";
  expect_keep(paras + std::string(26, 'x'), o);  // 10 / 50
  expect_drop(paras + std::string(25, 'x'), o, "dup_para_char_frac");
}

TEST(DataFilterGopherRepetition, TopAndDuplicatedNGrams) {
  QualityFilterOptions o = none_of({"gopher-repetition"});
  // "aa b" and "c ddd" both occur twice; the first wins the tie: 4 characters x 2 = 8 of 21.
  const std::string text = "aa b aa b c ddd c ddd";
  o.top_n_grams = {{2, 8.0 / 21}};
  expect_keep(text, o);
  o.top_n_grams = {{2, 8.0 / 21 - 1e-9}};
  FilterVerdict v = expect_drop(text, o, "top_2_gram");
  EXPECT_NEAR(v.value, 8.0 / 21, 1e-12);
  o.top_n_grams = {{9, 0.0}};  // fewer words than n: the rule does not apply
  expect_keep(text, o);
  o.top_n_grams.clear();
  // "a b c d e a b c d e": the second "abcde" repeats 5 characters of 19.
  o.dup_n_grams = {{5, 5.0 / 19}};
  expect_keep("a b c d e a b c d e", o);
  o.dup_n_grams = {{6, 0.0}, {5, 5.0 / 19 - 1e-9}};
  v = expect_drop("a b c d e a b c d e", o, "duplicated_5_n_grams");
  EXPECT_EQ(v.parameter, "dup_n_grams");
  EXPECT_EQ(v.explain(), "duplicated_5_n_grams: duplicated 5-gram characters / characters 0.2632 > dup_n_grams 0.2632");
}

// ---- C4
// ----------------------------------------------------------------------------------------------------------------

TEST(DataFilterC4, SentencesAndLineRules) {
  QualityFilterOptions o = none_of({"c4"});
  o.min_num_sentences = 5;
  const std::string four = repeat_lines("This is fine.", 4);
  expect_keep(four + "\nOne more line.", o);
  FilterVerdict v = expect_drop(four, o, "too_few_sentences");
  EXPECT_EQ(v.value, 4);
  expect_keep(four + " And a fifth.", o);  // two sentences on one line count twice

  o = none_of({"c4"});
  o.filter_no_terminal_punct = true;
  o.min_words_per_line = 3;
  o.max_word_length = 10;
  o.remove_citations = true;
  o.filter_javascript = o.filter_policy = true;
  FilterStats stats;
  v = filter_document(lines({"A heading without a stop", "Paris is a large city.[12]", "Too short.", "It trails off...",
                             "Please enable JavaScript to view this page.", "Read our privacy policy here.",
                             "A supercalifragilistic word here.", "Kept as the last line!"}),
                      o, &stats);
  ASSERT_TRUE(v.keep) << v.explain();
  EXPECT_TRUE(v.modified);
  EXPECT_EQ(v.text, "Paris is a large city.\nKept as the last line!");
  EXPECT_EQ(
      stats.lines_removed,
      (std::map<std::string, uint64_t>{
          {"no_terminal_punct", 2}, {"too_few_words", 1}, {"javascript", 1}, {"policy", 1}, {"too_long_word", 1}}));
}

// datatrove's CITATION_REGEX is r"\[\d*]|..." on str, so \d is any Unicode decimal digit; its phrase checks run on
// line.lower(), which turns the KELVIN SIGN into an ASCII "k".
TEST(DataFilterC4, CitationDigitsAndLowerCaseAreUnicodeAsInPython) {
  QualityFilterOptions o = none_of({"c4"});
  o.remove_citations = o.filter_no_terminal_punct = true;
  FilterVerdict v = filter_document(
      lines({"Full-width digits.[\uFF11\uFF12]", "Arabic-Indic digits.[\u0663]", "Letters stay.[x]"}), o);
  ASSERT_TRUE(v.keep) << v.explain();
  EXPECT_EQ(v.text, "Full-width digits.\nArabic-Indic digits.");
  o = none_of({"c4"});
  o.filter_policy = true;
  FilterStats stats;
  v = filter_document(lines({"This site uses coo\u212Aies to track you.", "A plain line stays."}), o, &stats);
  ASSERT_TRUE(v.keep) << v.explain();
  EXPECT_EQ(v.text, "A plain line stays.");
  EXPECT_EQ(stats.lines_removed, (std::map<std::string, uint64_t>{{"policy", 1}}));
  o = none_of({"c4"});
  o.filter_lorem_ipsum = true;
  expect_keep("Lorem \u0130psum dolor sit amet stays.", o);  // lower-cased: "lorem i\u0307psum"
}

TEST(DataFilterC4, LoremIpsumAndCurlyBracketDropTheDocument) {
  QualityFilterOptions o = none_of({"c4"});
  o.filter_lorem_ipsum = o.filter_curly_bracket = true;
  expect_keep("A normal line of text.", o);
  FilterVerdict v = expect_drop("Some text.\nLorem Ipsum dolor sit amet.", o, "lorem_ipsum");
  EXPECT_EQ(v.explain(), "lorem_ipsum: a line contains \"lorem ipsum\" (filter_lorem_ipsum)");
  expect_drop("function f() { return 1; }", o, "curly_bracket");
  o.min_num_sentences = -1;
  o.filter_no_terminal_punct = true;
  expect_drop("no punctuation at all", o, "empty");  // every line removed
}

// ---- FineWeb
// ----------------------------------------------------------------------------------------------------------

TEST(DataFilterFineWeb, LinePunctuationShortLinesDuplicatesAndLists) {
  QualityFilterOptions o = none_of({"fineweb"});
  o.line_punct_thr = 0.12;
  expect_keep(repeat_lines("no stop here", 7) + "\nends here.", o);  // 1 / 8 = 0.125
  FilterVerdict v = expect_drop(repeat_lines("no stop here", 8) + "\nends here.", o, "line_punct_ratio");
  EXPECT_NEAR(v.value, 1.0 / 9, 1e-12);
  o.line_punct_exclude_zero = true;
  expect_keep(repeat_lines("no stop here", 3), o);
  o = none_of({"fineweb"});
  o.short_line_thr = 0.67;
  const std::string long_line(31, 'x');
  expect_keep(lines({"short", "short too", long_line}), o);  // 2 / 3
  expect_drop(lines({"short", "short too", "and short", long_line}), o, "short_line_ratio");
  o = none_of({"fineweb"});
  o.char_duplicates_ratio = 0.01;
  const std::string body(196, 'y');
  expect_keep(lines({"ab", "ab", body}), o);  // 2 duplicated of 200 characters
  expect_drop(lines({"abc", "abc", body}), o, "char_dup_ratio");
  o = none_of({"fineweb"});
  o.new_line_ratio = 0.3;
  expect_keep("a b c d e f g\nh\ni\nj", o);  // 3 line breaks / 10 words
  EXPECT_NEAR(expect_drop("a b c d e f\ng\nh\ni", o, "list_ratio").value, 3.0 / 9, 1e-12);
  expect_drop("   \n \n", none_of({"fineweb"}), "empty");
}

// ---- Language identification
// ------------------------------------------------------------------------------------------

TEST(DataFilterLanguage, IdentifiesEnglishChineseFrenchGermanJapaneseKorean) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"en", "Water boils at one hundred degrees Celsius at sea level."},
      {"zh", "今天天气很好，我们去公园散步吧。这是一个简单的中文句子。"},
      {"zh-Hant", "他說這是繁體中文的句子，我們應該怎麼處理呢？"},
      {"fr", "L'eau bout à cent degrés Celsius au niveau de la mer."},
      {"de", "Wasser kocht auf Meereshöhe bei hundert Grad Celsius."},
      {"ja", "今日はいい天気ですね。公園に散歩に行きましょう。"},
      {"ko", "오늘은 날씨가 좋네요. 공원에 산책하러 갑시다."}};
  for (const auto& [code, text] : cases) {
    LanguageGuess g = identify_language(text);
    EXPECT_EQ(g.language, code) << text;
    EXPECT_TRUE(g.reliable) << text;
    EXPECT_GT(g.score, 0.9) << text;
    EXPECT_DOUBLE_EQ(language_score(g, code), g.score);
  }
  EXPECT_DOUBLE_EQ(language_score(identify_language(cases[2].second), "zh"),
                   identify_language(cases[2].second).score);  // zh counts Traditional too
  EXPECT_EQ(identify_language("").language, "un");
  EXPECT_EQ(identify_language("12345 !!! ###").score, 0);
  EXPECT_EQ(identify_language("asdkj qwe zxcmn poiuy").score, 0);  // unreliable: 0 for every language
  EXPECT_EQ(canonical_language("EN", "--languages"), "en");
  EXPECT_EQ(canonical_language("zh-Hant", "--languages"), "zh-Hant");
  R1_EXPECT_THROW_WITH(canonical_language("klingon", "--languages"), UsageError, "--languages: 'klingon'");
  EXPECT_NE(language_identifier_version().find("CLD2"), std::string::npos);
}

TEST(DataFilterLanguage, ThresholdsGlobalAndPerLanguage) {
  const std::string en = "Water boils at one hundred degrees Celsius at sea level.";
  const std::string fr = "L'eau bout à cent degrés Celsius au niveau de la mer.";
  const std::string mixed = "This sentence is English. 这句话是中文的，而且比较长一些，包含更多的汉字内容。";
  QualityFilterOptions o = none_of({"language"});
  expect_keep(en, o);  // no languages: the best one must pass 0.65
  expect_keep(fr, o);
  o.languages = {"en", "de"};
  expect_keep(en, o);
  FilterVerdict v = expect_drop(fr, o, "language");
  EXPECT_EQ(v.language, "fr");
  EXPECT_EQ(v.comparison, "<=");
  EXPECT_NE(v.explain().find("(detected fr 0.98)"), std::string::npos) << v.explain();
  const LanguageGuess g = identify_language(mixed);
  EXPECT_EQ(g.language, "zh");
  const double zh = language_score(g, "zh"), en_share = language_score(g, "en");
  EXPECT_GT(zh, 0.65);
  EXPECT_LT(en_share, 0.65);
  EXPECT_GT(en_share, 0.1);
  o.languages = {"zh"};
  expect_keep(mixed, o);
  o.language_threshold = zh;  // not above its own score
  expect_drop(mixed, o, "language");
  o.language_thresholds["zh"] = zh - 0.01;  // a per-language override wins
  expect_keep(mixed, o);
  o = none_of({"language"});
  o.languages = {"en"};
  expect_drop(mixed, o, "language");
  o.language_thresholds["en"] = en_share - 0.01;
  expect_keep(mixed, o);
  o.language_thresholds["en"] = 0.99;
  expect_drop(en, o, "language");
}

TEST(DataFilterOptions, ValidationNamesTheOption) {
  QualityFilterOptions o;
  o.filters = {"gopher"};
  R1_EXPECT_THROW_WITH(validate(o), UsageError, "unknown filter 'gopher'");
  o = QualityFilterOptions();
  o.dup_line_frac = 1.5;
  R1_EXPECT_THROW_WITH(validate(o), UsageError, "--dup-line-frac");
  o = QualityFilterOptions();
  o.top_n_grams = {{0, 0.1}};
  R1_EXPECT_THROW_WITH(validate(o), UsageError, "--top-n-grams");
  o = QualityFilterOptions();
  o.filters = {"c4"};
  o.languages = {"en"};
  R1_EXPECT_THROW_WITH(validate(o), UsageError, "the language filter is not among --filters");
  EXPECT_NO_THROW(validate(QualityFilterOptions()));
}

TEST(DataFilterDefaults, AGoodEnglishParagraphPassesEveryFilter) {
  const std::string doc =
      "The river runs through the old town and past the market square. Every morning the traders set up their "
      "stalls with fresh bread, cheese and vegetables from the farms in the valley.\n"
      "Visitors often stop at the bridge to watch the boats. In summer the water is calm and the light is soft, "
      "which makes it a favourite place for painters and photographers.\n"
      "The town council has worked for years to keep the banks clean. Volunteers collect litter on the first "
      "Saturday of each month, and schools take part with their pupils.\n"
      "Local historians say that the first bridge was built of wood more than five hundred years ago. It was "
      "replaced by a stone bridge after a flood destroyed it.";
  FilterVerdict v = filter_document(doc, QualityFilterOptions());
  EXPECT_TRUE(v.keep) << v.explain();
  EXPECT_FALSE(v.modified);
  EXPECT_EQ(v.language, "en");
}

// ---- The CLI
// -----------------------------------------------------------------------------------------------------------

TEST(DataFilterCli, KeptRejectedExplainAndSummary) {
  TempDir dir;
  const std::string good =
      "The river runs through the old town and past the market square. Every morning the traders set up their "
      "stalls with fresh bread and vegetables. Visitors stop at the bridge to watch the boats. In summer the water "
      "is calm and the light is soft. It is a favourite place for painters and photographers.";
  test::write_bytes(dir / "in.jsonl",
                    json{{"id", 1}, {"text", good}}.dump() + "\n" +
                        json{{"id", 2}, {"text", "This sentence is much too short to be kept as a document."}}.dump() +
                        "\n\n" +
                        json{{"id", 3},
                             {"text",
                              "L'eau bout à cent degrés Celsius au niveau de la mer, et c'est "
                              "une phrase simple en français."}}
                            .dump() +
                        "\n" + json{{"id", 4}, {"text", "  "}}.dump() + "\n");
  auto r =
      test::run_r1("data filter --input " + (dir / "in.jsonl").string() + " --output " + (dir / "out.jsonl").string() +
                   " --rejected " + (dir / "rejected.jsonl").string() + " --languages en --explain --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto kept = test::read_jsonl(dir / "out.jsonl");
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0], (json{{"id", 1}, {"text", good}}));  // the row as read
  const auto rejected = test::read_jsonl(dir / "rejected.jsonl");
  ASSERT_EQ(rejected.size(), 2u);
  EXPECT_EQ(rejected[0]["id"], 2);
  EXPECT_EQ(rejected[1]["id"], 3);
  // A short document fails Gopher's top 2-gram rule before its word count: its first 2-gram ("This sentence",
  // seen once) is 13 of its 57 characters (datatrove counts a 2-gram seen once too).
  EXPECT_NE(r.output.find("in.jsonl:2: top_2_gram: top 2-gram characters / characters 0.2281 > top_n_grams 0.2"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("in.jsonl:4: language: en score 0 <= language_threshold 0.65 (detected fr"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("read 4 documents"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("kept 1 (25.0%); 1 empty"), std::string::npos) << r.output;
  for (const char* rule : {"top_2_gram", "language"})
    EXPECT_NE(r.output.find(fmt::format("{:<30} {:>10}   25.0%", rule, 1)), std::string::npos) << r.output;

  // An existing output is refused; --overwrite replaces it. --explain FILE.jsonl writes records.
  r = test::run_r1("data filter --input " + (dir / "in.jsonl").string() + " --output " + (dir / "out.jsonl").string() +
                   " --quiet");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("exists; pass --overwrite"), std::string::npos) << r.output;
  r = test::run_r1("data filter --input " + (dir / "in.jsonl").string() + " --output " + (dir / "out.jsonl").string() +
                   " --overwrite --filters gopher-quality --min-doc-words 13 --min-stop-words 0 --explain " +
                   (dir / "why.jsonl").string() + " --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(test::read_jsonl(dir / "out.jsonl").size(), 2u);  // French passes without the language filter
  const auto why = test::read_jsonl(dir / "why.jsonl");
  ASSERT_EQ(why.size(), 1u);
  EXPECT_EQ(why[0]["line"], 2);
  EXPECT_EQ(why[0]["rule"], "gopher_short_doc");
  EXPECT_EQ(why[0]["value"], 12);
  EXPECT_EQ(why[0]["threshold"], 13);
  EXPECT_EQ(why[0]["parameter"], "min_doc_words");
  EXPECT_EQ(r.output.find("language "), std::string::npos) << r.output;  // only the filters that ran are listed
}

TEST(DataFilterCli, PlainTextInAndOutAndC4Rewrites) {
  TempDir dir;
  test::write_bytes(dir / "in.txt",
                    "Menu\nThe first sentence is here. The second one follows it.\nA third sentence is written.\n\n"
                    "short block\n\n"
                    "Another block with enough words.\nIt has two lines of text.\n");
  auto r = test::run_r1("data filter --input " + (dir / "in.txt").string() + " --output " + (dir / "out.txt").string() +
                        " --document-separator blank-line --filters c4 " + "--min-num-sentences 2 --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(test::read_bytes(dir / "out.txt"),
            "The first sentence is here. The second one follows it.\nA third sentence is written.\n\n"
            "Another block with enough words.\nIt has two lines of text.\n\n");
  EXPECT_NE(r.output.find("kept 2 (66.7%), 1 shortened by c4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("c4 lines removed: no_terminal_punct 2"), std::string::npos) << r.output;
  // The same documents as JSONL: {field: text}.
  r = test::run_r1("data filter --input " + (dir / "in.txt").string() + " --output " + (dir / "out.jsonl").string() +
                   " --document-separator blank-line --filters c4 --min-num-sentences 2 --field body --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto rows = test::read_jsonl(dir / "out.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1], (json{{"body", "Another block with enough words.\nIt has two lines of text."}}));
  // A multi-line document cannot be written one per line.
  test::write_bytes(dir / "multi.jsonl", json{{"text", "two\nlines"}}.dump() + "\n");
  r = test::run_r1("data filter --input " + (dir / "multi.jsonl").string() + " --output " +
                   (dir / "lines.txt").string() + " --filters none --quiet");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("holds a line break"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "lines.txt"));
  r = test::run_r1("data filter --input " + (dir / "in.txt").string() + " --output " + (dir / "x.txt").string() +
                   " --filters gopher");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("unknown filter 'gopher'"), std::string::npos) << r.output;
  r = test::run_r1("data filter --help");
  EXPECT_EQ(r.status, 0);
  for (const char* option : {"--min-doc-words", "--dup-n-grams", "--filter-no-terminal-punct", "--line-punct-thr",
                             "--language-threshold", "--explain"})
    EXPECT_NE(r.output.find(option), std::string::npos) << option;
}

}  // namespace
}  // namespace r1::data
