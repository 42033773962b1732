// FileKeyStore: keys are created once and reused (also by another process
// racing to create them), erasure leaves a tombstone so no key comes back,
// damaged key files are clear errors, never a wrong key.
#include "core/key_store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using testing::TempDir;

// Runs child(p) for p in [0, processes) in forked processes at once; each
// child exits with what child(p) returns, and every one must exit 0.
void RunInChildProcesses(int processes, const std::function<int(int)>& child) {
  std::vector<pid_t> children;
  for (int p = 0; p < processes; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) ::_exit(child(p));
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
}

std::unique_ptr<FileKeyStore> OpenStore(const std::string& dir) {
  auto store = FileKeyStore::Open(dir);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

std::string Hex(const EmployeeKey& key) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char b : key) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

TEST(FileKeyStoreTest, CreatesOnceReusesAcrossInstancesAndErasesForGood) {
  TempDir dir;
  const std::string keys_dir = dir.path() + "/keys";
  auto store = OpenStore(keys_dir);
  ASSERT_NE(store, nullptr);

  Result<KeyLookup> absent = store->Lookup("emp-1");
  ASSERT_TRUE(absent.ok());
  EXPECT_EQ(absent->state, KeyLookup::kAbsent);
  EXPECT_FALSE(std::filesystem::exists(store->KeyPath("emp-1")));  // Lookup never creates

  Result<KeyLookup> first = store->GetOrCreate("emp-1");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->state, KeyLookup::kPresent);
  Result<KeyLookup> again = store->GetOrCreate("emp-1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->key, first->key);
  EXPECT_EQ(std::filesystem::file_size(store->KeyPath("emp-1")), 37u);

  Result<KeyLookup> other = store->GetOrCreate("emp-2");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->key, first->key);

  // Another instance (another process) reads the same key from disk.
  auto reopened = OpenStore(keys_dir);
  Result<KeyLookup> read = reopened->Lookup("emp-1");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->state, KeyLookup::kPresent);
  EXPECT_EQ(read->key, first->key);

  // Erasure through the other instance: the key file is gone, a tombstone
  // stays, and neither instance ever hands out a key for emp-1 again.
  ASSERT_TRUE(reopened->Erase("emp-1").ok());
  EXPECT_FALSE(std::filesystem::exists(store->KeyPath("emp-1")));
  EXPECT_TRUE(std::filesystem::exists(store->TombstonePath("emp-1")));
  for (KeyStore* s : {static_cast<KeyStore*>(store.get()), static_cast<KeyStore*>(reopened.get())}) {
    Result<KeyLookup> lookup = s->Lookup("emp-1");
    ASSERT_TRUE(lookup.ok());
    EXPECT_EQ(lookup->state, KeyLookup::kErased);
  }
  Result<KeyLookup> recreate = reopened->GetOrCreate("emp-1");
  ASSERT_TRUE(recreate.ok());
  EXPECT_EQ(recreate->state, KeyLookup::kErased);
  EXPECT_FALSE(std::filesystem::exists(store->KeyPath("emp-1")));
  // Idempotent, also for an employee that never had a key.
  EXPECT_TRUE(reopened->Erase("emp-1").ok());
  EXPECT_TRUE(reopened->Erase("emp-never").ok());
  EXPECT_EQ(reopened->GetOrCreate("emp-never")->state, KeyLookup::kErased);
  // emp-2 is untouched.
  EXPECT_EQ(reopened->Lookup("emp-2")->key, other->key);
}

TEST(FileKeyStoreTest, EraseClearsThisInstancesCache) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store->GetOrCreate("emp-1").ok());  // cached now
  ASSERT_TRUE(store->Erase("emp-1").ok());
  EXPECT_EQ(store->GetOrCreate("emp-1")->state, KeyLookup::kErased);
}

TEST(FileKeyStoreTest, ACrashBetweenTombstoneAndUnlinkReadsAsErased) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store->GetOrCreate("emp-1").ok());
  std::ofstream(store->TombstonePath("emp-1")) << "erased\n";  // tombstone written, key still there
  EXPECT_EQ(OpenStore(dir.path())->Lookup("emp-1")->state, KeyLookup::kErased);
  ASSERT_TRUE(store->Erase("emp-1").ok());  // finishes the job
  EXPECT_FALSE(std::filesystem::exists(store->KeyPath("emp-1")));
}

TEST(FileKeyStoreTest, DamagedKeyFileIsCorruptionNamingTheFileNeverAWrongKey) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store->GetOrCreate("emp-1").ok());
  const std::string path = store->KeyPath("emp-1");
  std::filesystem::resize_file(path, 20);  // truncated
  auto fresh = OpenStore(dir.path());
  Result<KeyLookup> lookup = fresh->Lookup("emp-1");
  ASSERT_FALSE(lookup.ok());
  EXPECT_EQ(lookup.status().code(), StatusCode::kCorruption);
  EXPECT_NE(lookup.status().message().find(path), std::string::npos) << lookup.status().ToString();
  EXPECT_NE(lookup.status().message().find("20 bytes"), std::string::npos);
  // GetOrCreate does not paper over it with a new key either.
  Result<KeyLookup> created = fresh->GetOrCreate("emp-1");
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(std::filesystem::file_size(path), 20u);
  // Wrong magic, right size.
  std::ofstream(path, std::ios::binary | std::ios::trunc) << std::string(37, 'x');
  EXPECT_EQ(fresh->Lookup("emp-1").status().code(), StatusCode::kCorruption);
}

TEST(FileKeyStoreTest, RejectsIdsThatAreNotEmployeeIds) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  for (const std::string& bad : {std::string("../etc"), std::string(""), std::string("a/b"),
                                 std::string(129, 'a'), std::string("a b")}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(store->GetOrCreate(bad).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store->Lookup(bad).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store->Erase(bad).code(), StatusCode::kInvalidArgument);
  }
  // "." and ".." are valid ids: prefixed, they are ordinary file names.
  EXPECT_EQ(store->GetOrCreate("..")->state, KeyLookup::kPresent);
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/k-.."));
}

TEST(FileKeyStoreTest, UnusableDirectoryIsAnIoError) {
  TempDir dir;
  const std::string file = dir.path() + "/not-a-dir";
  std::ofstream(file) << "x";
  Result<std::unique_ptr<FileKeyStore>> store = FileKeyStore::Open(file);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kIOError);
  EXPECT_NE(store.status().message().find(file), std::string::npos);
}

// Several processes creating keys for the same employees at once agree on
// one key per employee (link(2) never replaces an existing key).
TEST(FileKeyStoreTest, ConcurrentProcessesAgreeOnOneKeyPerEmployee) {
  TempDir dir;
  constexpr int kProcesses = 4;
  constexpr int kEmployees = 40;
  RunInChildProcesses(kProcesses, [&](int p) {
    auto opened = FileKeyStore::Open(dir.path());
    if (!opened.ok()) return 2;
    std::ofstream out(dir.path() + "/seen-" + std::to_string(p));
    for (int e = 0; e < kEmployees; ++e) {
      // Each process walks the employees in a different order.
      const int employee = (e * (p + 1) + p) % kEmployees;
      Result<KeyLookup> key = (*opened)->GetOrCreate("emp-" + std::to_string(employee));
      if (!key.ok() || key->state != KeyLookup::kPresent) return 3;
      out << employee << " " << Hex(key->key) << "\n";
    }
    out.close();
    return out ? 0 : 4;
  });
  auto store = OpenStore(dir.path());
  int lines = 0;
  for (int p = 0; p < kProcesses; ++p) {
    std::ifstream in(dir.path() + "/seen-" + std::to_string(p));
    int employee = 0;
    std::string hex;
    while (in >> employee >> hex) {
      ++lines;
      Result<KeyLookup> stored = store->Lookup("emp-" + std::to_string(employee));
      ASSERT_TRUE(stored.ok());
      EXPECT_EQ(Hex(stored->key), hex) << "process " << p << " employee " << employee;
    }
  }
  EXPECT_EQ(lines, kProcesses * kEmployees);
  // No temporary file left behind.
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".tmp-")) << entry.path();
  }
}

std::vector<std::string_view> Views(const std::vector<std::string>& ids) {
  return std::vector<std::string_view>(ids.begin(), ids.end());
}

TEST(FileKeyStoreTest, GetOrCreateManyGivesTheKeysGetOrCreateAndLookupGiveLater) {
  TempDir dir;
  auto store = OpenStore(dir.path() + "/keys");
  ASSERT_NE(store, nullptr);
  Result<KeyLookup> earlier = store->GetOrCreate("emp-3");  // one key exists already
  ASSERT_TRUE(earlier.ok());
  std::vector<std::string> ids;
  for (int e = 0; e < 30; ++e) ids.push_back("emp-" + std::to_string(e));
  ids.push_back("emp-7");  // twice in the batch
  Result<std::vector<KeyLookup>> batch = store->GetOrCreateMany(Views(ids));
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->size(), ids.size());
  auto fresh = OpenStore(dir.path() + "/keys");  // nothing cached: reads the files
  std::set<std::string> distinct;
  for (size_t i = 0; i < ids.size(); ++i) {
    SCOPED_TRACE(ids[i]);
    ASSERT_EQ((*batch)[i].state, KeyLookup::kPresent);
    distinct.insert(Hex((*batch)[i].key));
    EXPECT_EQ(Hex(fresh->Lookup(ids[i])->key), Hex((*batch)[i].key));
    EXPECT_EQ(Hex(fresh->GetOrCreate(ids[i])->key), Hex((*batch)[i].key));
    EXPECT_EQ(Hex(store->GetOrCreate(ids[i])->key), Hex((*batch)[i].key));
    EXPECT_EQ(std::filesystem::file_size(store->KeyPath(ids[i])), 37u);
  }
  EXPECT_EQ(Hex((*batch)[3].key), Hex(earlier->key));  // the existing key, not a new one
  EXPECT_EQ(Hex((*batch)[7].key), Hex(batch->back().key));
  EXPECT_EQ(distinct.size(), 30u);
  // An empty batch is nothing to do.
  Result<std::vector<KeyLookup>> none = store->GetOrCreateMany({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  for (const auto& entry : std::filesystem::directory_iterator(dir.path() + "/keys")) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".tmp-")) << entry.path();
  }
}

TEST(FileKeyStoreTest, GetOrCreateManyGivesErasedEmployeesNoKey) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store->GetOrCreate("emp-1").ok());
  ASSERT_TRUE(store->Erase("emp-1").ok());        // had a key
  ASSERT_TRUE(OpenStore(dir.path())->Erase("emp-2").ok());  // never had one
  const std::vector<std::string> ids = {"emp-0", "emp-1", "emp-2", "emp-3"};
  auto uncached = OpenStore(dir.path());
  for (FileKeyStore* s : {store.get(), uncached.get()}) {
    Result<std::vector<KeyLookup>> batch = s->GetOrCreateMany(Views(ids));
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    EXPECT_EQ((*batch)[0].state, KeyLookup::kPresent);
    EXPECT_EQ((*batch)[1].state, KeyLookup::kErased);
    EXPECT_EQ((*batch)[1].key, EmployeeKey{});
    EXPECT_EQ((*batch)[2].state, KeyLookup::kErased);
    EXPECT_EQ((*batch)[3].state, KeyLookup::kPresent);
    EXPECT_FALSE(std::filesystem::exists(s->KeyPath("emp-1")));
    EXPECT_FALSE(std::filesystem::exists(s->KeyPath("emp-2")));
  }
}

TEST(FileKeyStoreTest, GetOrCreateManyWithABadIdCreatesNothing) {
  TempDir dir;
  auto store = OpenStore(dir.path() + "/keys");
  const std::vector<std::string> ids = {"emp-1", "a/b", "emp-2"};
  Result<std::vector<KeyLookup>> batch = store->GetOrCreateMany(Views(ids));
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(batch.status().message().find("\"a/b\""), std::string::npos) << batch.status().ToString();
  EXPECT_NE(batch.status().message().find("id 2 of a batch of 3"), std::string::npos)
      << batch.status().ToString();
  // Checked before anything is written: not even the directory exists.
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/keys"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/keys/a"));
  EXPECT_EQ(store->Lookup("emp-1")->state, KeyLookup::kAbsent);
  EXPECT_EQ(store->Lookup("emp-2")->state, KeyLookup::kAbsent);
}

TEST(FileKeyStoreTest, GetOrCreateManyInAnUnusableDirectoryIsAnIoErrorNamingIt) {
  TempDir dir;
  // Below a regular file: the directory cannot be created (also as root).
  std::ofstream(dir.path() + "/file") << "x";
  const std::string below_file = dir.path() + "/file/keys";
  auto store = OpenStore(below_file);
  ASSERT_NE(store, nullptr);
  const std::vector<std::string> ids = {"emp-1", "emp-2"};
  Result<std::vector<KeyLookup>> batch = store->GetOrCreateMany(Views(ids));
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), StatusCode::kIOError);
  EXPECT_NE(batch.status().message().find(below_file), std::string::npos)
      << batch.status().ToString();
  if (::geteuid() == 0) return;  // root writes into a read-only directory anyway
  // An existing directory without write permission.
  const std::string read_only = dir.path() + "/read-only";
  std::filesystem::create_directories(read_only);
  std::filesystem::permissions(read_only, std::filesystem::perms::owner_read |
                                              std::filesystem::perms::owner_exec);
  auto locked = OpenStore(read_only);
  Result<std::vector<KeyLookup>> refused = locked->GetOrCreateMany(Views(ids));
  std::filesystem::permissions(read_only, std::filesystem::perms::owner_all);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kIOError);
  EXPECT_NE(refused.status().message().find(read_only), std::string::npos)
      << refused.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(locked->KeyPath("emp-1")));
}

// Several processes creating overlapping batches of keys at once agree on
// one key per employee, also with processes creating them one at a time.
TEST(FileKeyStoreTest, ConcurrentBatchesAgreeOnOneKeyPerEmployee) {
  TempDir dir;
  constexpr int kProcesses = 4;
  constexpr int kEmployees = 60;
  RunInChildProcesses(kProcesses, [&](int p) {
    auto opened = FileKeyStore::Open(dir.path());
    if (!opened.ok()) return 2;
    std::ofstream out(dir.path() + "/seen-" + std::to_string(p));
    // Overlapping batches of 20 in a different order per process; the
    // last process goes one id at a time.
    std::vector<std::string> ids;
    for (int e = 0; e < kEmployees; ++e) {
      ids.push_back("emp-" + std::to_string((e * (p + 1) + p) % kEmployees));
    }
    const size_t step = p == kProcesses - 1 ? 1 : 20;
    for (size_t from = 0; from < ids.size(); from += step) {
      std::vector<std::string> part(ids.begin() + from,
                                    ids.begin() + std::min(ids.size(), from + step + step / 2));
      std::vector<KeyLookup> keys;
      if (step == 1) {
        Result<KeyLookup> one = (*opened)->GetOrCreate(part.front());
        if (!one.ok()) return 3;
        keys.push_back(*one);
      } else {
        Result<std::vector<KeyLookup>> many = (*opened)->GetOrCreateMany(Views(part));
        if (!many.ok()) return 3;
        keys = std::move(many).value();
      }
      for (size_t i = 0; i < keys.size(); ++i) {
        if (keys[i].state != KeyLookup::kPresent) return 4;
        out << part[i] << " " << Hex(keys[i].key) << "\n";
      }
    }
    out.close();
    return out ? 0 : 5;
  });
  auto store = OpenStore(dir.path());
  std::set<std::string> employees;
  for (int p = 0; p < kProcesses; ++p) {
    std::ifstream in(dir.path() + "/seen-" + std::to_string(p));
    std::string employee;
    std::string hex;
    int lines = 0;
    while (in >> employee >> hex) {
      ++lines;
      employees.insert(employee);
      Result<KeyLookup> stored = store->Lookup(employee);
      ASSERT_TRUE(stored.ok());
      EXPECT_EQ(Hex(stored->key), hex) << "process " << p << " employee " << employee;
    }
    EXPECT_GE(lines, kEmployees) << "process " << p;
  }
  EXPECT_EQ(employees.size(), static_cast<size_t>(kEmployees));
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".tmp-")) << entry.path();
  }
}

}  // namespace
}  // namespace jiritsu
