// docs/reliability.md names, in its bad-input inventory and fault scenarios
// tables, the test that proves each row (`Suite.Name`). This test fails when
// a named test does not exist in tests/ (renamed or deleted), so the tables
// cannot point at nothing, and when the inventory falls under 40 classes
// (the floor of issue 6).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

namespace jiritsu {
namespace {

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The text between "<!-- name:begin" and "<!-- name:end -->".
std::string Block(const std::string& doc, const std::string& name) {
  const size_t begin = doc.find("<!-- " + name + ":begin");
  const size_t end = doc.find("<!-- " + name + ":end -->");
  if (begin == std::string::npos || end == std::string::npos || end < begin) return "";
  return doc.substr(begin, end - begin);
}

bool IsIdentifier(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// Every "Suite.Name" in backticks whose parts both start upper-case.
std::set<std::string> NamedTests(const std::string& block) {
  std::set<std::string> names;
  size_t pos = 0;
  while ((pos = block.find('`', pos)) != std::string::npos) {
    const size_t end = block.find('`', pos + 1);
    if (end == std::string::npos) break;
    const std::string_view quoted(block.data() + pos + 1, end - pos - 1);
    pos = end + 1;
    const size_t dot = quoted.find('.');
    if (dot == std::string_view::npos) continue;
    const std::string_view suite = quoted.substr(0, dot), name = quoted.substr(dot + 1);
    if (IsIdentifier(suite) && IsIdentifier(name) && std::isupper(static_cast<unsigned char>(suite[0])) &&
        std::isupper(static_cast<unsigned char>(name[0]))) {
      names.insert(std::string(quoted));
    }
  }
  return names;
}

// "Suite.Name" of every TEST / TEST_F / TEST_P under tests/.
std::set<std::string> DefinedTests() {
  std::set<std::string> defined;
  const std::filesystem::path root = std::filesystem::path(JIRITSU_SOURCE_DIR) / "tests";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".cc") continue;
    const std::string text = ReadAll(entry.path());
    size_t pos = 0;
    while ((pos = text.find("TEST", pos)) != std::string::npos) {
      size_t open = pos + 4;
      if (text.compare(open, 2, "_F") == 0 || text.compare(open, 2, "_P") == 0) open += 2;
      pos = open;
      if (open >= text.size() || text[open] != '(') continue;
      const size_t close = text.find(')', open);
      if (close == std::string::npos) break;
      std::string args = text.substr(open + 1, close - open - 1);
      args.erase(std::remove_if(args.begin(), args.end(), [](unsigned char c) { return std::isspace(c); }),
                 args.end());
      const size_t comma = args.find(',');
      if (comma == std::string::npos || args.find(',', comma + 1) != std::string::npos) continue;
      if (IsIdentifier(args.substr(0, comma)) && IsIdentifier(args.substr(comma + 1))) {
        defined.insert(args.substr(0, comma) + "." + args.substr(comma + 1));
      }
    }
  }
  return defined;
}

TEST(ReliabilityDoc, DocTableNamesExistingTests) {
  const std::string doc = ReadAll(std::filesystem::path(JIRITSU_SOURCE_DIR) / "docs" / "reliability.md");
  const std::set<std::string> defined = DefinedTests();
  ASSERT_GT(defined.size(), 100u);
  for (const char* table : {"bad-input", "faults"}) {
    const std::string block = Block(doc, table);
    ASSERT_FALSE(block.empty()) << "no " << table << " block in docs/reliability.md";
    const std::set<std::string> named = NamedTests(block);
    EXPECT_GT(named.size(), 10u) << table;
    for (const std::string& name : named) {
      EXPECT_TRUE(defined.count(name)) << "docs/reliability.md (" << table << ") names " << name
                                       << ", which is not a test in tests/";
    }
  }
}

TEST(ReliabilityDoc, InventoryHasAtLeastFortyClasses) {
  const std::string block =
      Block(ReadAll(std::filesystem::path(JIRITSU_SOURCE_DIR) / "docs" / "reliability.md"), "bad-input");
  std::istringstream lines(block);
  std::string line;
  int rows = 0;
  // "| 12 | ... | `Suite.Name` |": a numbered row that names a test.
  while (std::getline(lines, line)) {
    if (line.size() < 4 || line.rfind("| ", 0) != 0 || !std::isdigit(static_cast<unsigned char>(line[2]))) continue;
    const size_t last = line.rfind(" | ");
    if (last != std::string::npos && !NamedTests(line.substr(last)).empty()) ++rows;
  }
  EXPECT_GE(rows, 40);
  std::printf("[reliability doc] %d bad-input classes, each with a test\n", rows);
}

}  // namespace
}  // namespace jiritsu
