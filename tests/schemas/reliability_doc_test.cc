// docs/reliability.md names, in its bad-input inventory and fault scenarios
// tables, the test that proves each row (`Suite.Name`). This test fails when
// a named test does not exist in tests/ (renamed or deleted), so the tables
// cannot point at nothing, and when the inventory falls under 40 classes
// (the floor of issue 6).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>
#include <string>

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

// Every "Suite.Name" in backticks whose parts both start upper-case.
std::set<std::string> NamedTests(const std::string& block) {
  std::set<std::string> names;
  const std::regex pattern("`([A-Z][A-Za-z0-9_]*\\.[A-Z][A-Za-z0-9_]*)`");
  for (auto it = std::sregex_iterator(block.begin(), block.end(), pattern); it != std::sregex_iterator(); ++it) {
    names.insert((*it)[1].str());
  }
  return names;
}

// "Suite.Name" of every TEST / TEST_F / TEST_P under tests/.
std::set<std::string> DefinedTests() {
  std::set<std::string> defined;
  const std::regex pattern("TEST(?:_F|_P)?\\(\\s*([A-Za-z0-9_]+)\\s*,\\s*([A-Za-z0-9_]+)\\s*\\)");
  const std::filesystem::path root = std::filesystem::path(JIRITSU_SOURCE_DIR) / "tests";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".cc") continue;
    const std::string text = ReadAll(entry.path());
    for (auto it = std::sregex_iterator(text.begin(), text.end(), pattern); it != std::sregex_iterator(); ++it) {
      defined.insert((*it)[1].str() + "." + (*it)[2].str());
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
  const std::regex row("^\\| [0-9]+ \\|.*\\| `[A-Z].*` \\|$");
  while (std::getline(lines, line)) rows += std::regex_match(line, row) ? 1 : 0;
  EXPECT_GE(rows, 40);
  std::printf("[reliability doc] %d bad-input classes, each with a test\n", rows);
}

}  // namespace
}  // namespace jiritsu
