// Sealing personal fields: round trip, the associated data binds a value to
// its employee, event and field, any change is a clear error (never
// plaintext garbage), and erased employees' fields are sealed for nobody.
#include "core/personal_data.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "schemas/catalog.h"
#include "schemas/codec.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using testing::TempDir;

EmployeeKey KeyOf(unsigned char fill) {
  EmployeeKey key;
  key.fill(fill);
  return key;
}

const SealContext kContext{"emp-1", "/hr/system", "hire-1", "display_name"};

TEST(SealTextTest, RoundTripsAndEverySealIsFresh) {
  const EmployeeKey key = KeyOf(7);
  const std::string text = "山田 花子";
  Result<std::string> sealed = SealText(key, kContext, text);
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  EXPECT_TRUE(IsWellFormedSealed(*sealed)) << *sealed;
  EXPECT_EQ(sealed->find("山田"), std::string::npos);
  Result<std::string> opened = OpenSealedText(key, kContext, *sealed);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, text);
  // Synthetic nonce: the same key, context and text seal to the same bytes
  // (re-ingestion is byte-identical); any other context, text or key does not.
  EXPECT_EQ(*SealText(key, kContext, text), *sealed);
  EXPECT_NE(*SealText(key, SealContext{"emp-1", "/hr/system", "hire-2", "display_name"}, text),
            *sealed);
  EXPECT_NE(*SealText(key, kContext, text + "."), *sealed);
  EXPECT_NE(*SealText(KeyOf(8), kContext, text), *sealed);
  EXPECT_NE(sealed->substr(0, 40), SealText(key, kContext, "other")->substr(0, 40));  // nonce differs
  EXPECT_EQ(SealText(key, kContext, "").status().code(), StatusCode::kInvalidArgument);
  // The longest text the schema allows fits the sealed-value limit.
  std::string longest;
  for (size_t i = 0; i < kMaxTextChars; ++i) longest += "\xF0\x9F\x98\x80";  // 4-byte emoji
  Result<std::string> big = SealText(key, kContext, longest);
  ASSERT_TRUE(big.ok());
  EXPECT_TRUE(IsWellFormedSealed(*big));
  EXPECT_LE(big->size(), kMaxSealedChars);
}

TEST(SealTextTest, WrongContextKeyOrBytesDoNotAuthenticate) {
  const EmployeeKey key = KeyOf(7);
  const std::string sealed = *SealText(key, kContext, "secret note");
  const auto expect_corruption = [&](const EmployeeKey& k, const SealContext& c,
                                     const std::string& value, const char* what) {
    Result<std::string> opened = OpenSealedText(k, c, value);
    ASSERT_FALSE(opened.ok()) << what << " opened as: " << *opened;
    EXPECT_EQ(opened.status().code(), StatusCode::kCorruption) << what;
    EXPECT_NE(opened.status().message().find("does not authenticate"), std::string::npos);
  };
  expect_corruption(KeyOf(8), kContext, sealed, "other key");
  expect_corruption(key, SealContext{"emp-2", kContext.source, kContext.id, kContext.field}, sealed,
                    "other employee");
  expect_corruption(key, SealContext{kContext.employee, "/other", kContext.id, kContext.field},
                    sealed, "other source");
  expect_corruption(key, SealContext{kContext.employee, kContext.source, "hire-2", kContext.field},
                    sealed, "other event");
  expect_corruption(key, SealContext{kContext.employee, kContext.source, kContext.id, "notes"},
                    sealed, "other field");
  // Every base64 character of the payload changed in turn (still well formed).
  for (size_t i = kSealedPrefix.size(); i + 2 < sealed.size(); i += 7) {
    std::string tampered = sealed;
    tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
    expect_corruption(key, kContext, tampered, "changed byte");
  }
  // Not a sealed value at all.
  EXPECT_EQ(OpenSealedText(key, kContext, "plain").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenSealedText(key, kContext, "jiritsu-enc:v1:AAAA").status().code(),
            StatusCode::kInvalidArgument);
}

Event HiredEvent(const std::string& employee, const std::string& name) {
  Event event;
  event.type = EventType::kEmployeeHired;
  event.id = "hire-" + employee;
  event.source = "/hr/system";
  event.subject = employee;
  event.time_us = 1'700'000'000'000'000;
  event.data = EmployeeHired{"ou-1", std::nullopt, "", name};
  return event;
}

TEST(SealPersonalFieldsTest, SealsOnceUnderTheSubjectsKeyAndRevealsOnRead) {
  TempDir dir;
  auto keys = FileKeyStore::Open(dir.path());
  ASSERT_TRUE(keys.ok());
  Event event = HiredEvent("emp-1", "Hanako Yamada");
  ASSERT_TRUE(SealPersonalFields(keys->get(), &event).ok());
  const std::string sealed = event.As<EmployeeHired>().display_name;
  ASSERT_TRUE(IsWellFormedSealed(sealed)) << sealed;
  EXPECT_EQ(event.As<EmployeeHired>().org_unit_id, "ou-1");  // ids stay in clear
  // The sealed event is a valid event (what the processors decode from the log).
  Result<Event> decoded = DecodeJsonEvent(EncodeJsonEvent(event));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, event);
  // Sealing again (a re-submitted dead letter) keeps the value.
  ASSERT_TRUE(SealPersonalFields(keys->get(), &event).ok());
  EXPECT_EQ(event.As<EmployeeHired>().display_name, sealed);

  const SealContext context{"emp-1", event.source, event.id, "display_name"};
  RevealedText shown = RevealPersonalText(*(*keys)->Lookup("emp-1"), false, context, sealed);
  EXPECT_EQ(shown.state, RevealedText::kOpened);
  EXPECT_EQ(shown.text, "Hanako Yamada");
  // Erased in the views: nothing is shown even while the key still exists.
  EXPECT_EQ(RevealPersonalText(*(*keys)->Lookup("emp-1"), true, context, sealed).state,
            RevealedText::kErased);
  // No key store entry here: unavailable, not erased.
  EXPECT_EQ(RevealPersonalText(KeyLookup{}, false, context, sealed).state,
            RevealedText::kKeyMissing);
  // Plaintext from a producer that bypassed ingestion is shown as is...
  EXPECT_EQ(RevealPersonalText(KeyLookup{}, false, context, "clear name").text, "clear name");
  // ...until the employee is erased.
  ASSERT_TRUE((*keys)->Erase("emp-1").ok());
  EXPECT_EQ(RevealPersonalText(*(*keys)->Lookup("emp-1"), false, context, sealed).state,
            RevealedText::kErased);
  EXPECT_EQ(RevealPersonalText(*(*keys)->Lookup("emp-1"), false, context, "clear name").state,
            RevealedText::kErased);
  // Damaged sealed value with the key present: undecryptable, no text.
  Event other = HiredEvent("emp-2", "Taro");
  ASSERT_TRUE(SealPersonalFields(keys->get(), &other).ok());
  std::string damaged = other.As<EmployeeHired>().display_name;
  damaged[damaged.size() / 2] = damaged[damaged.size() / 2] == 'A' ? 'B' : 'A';
  RevealedText bad = RevealPersonalText(*(*keys)->Lookup("emp-2"), false,
                                        SealContext{"emp-2", other.source, other.id, "display_name"},
                                        damaged);
  EXPECT_EQ(bad.state, RevealedText::kUndecryptable);
  EXPECT_TRUE(bad.text.empty());
}

TEST(SealPersonalFieldsTest, ErasedEmployeesFieldsAreStoredAsErasedWithoutANewKey) {
  TempDir dir;
  auto keys = FileKeyStore::Open(dir.path());
  ASSERT_TRUE((*keys)->Erase("emp-9").ok());
  Event event = HiredEvent("emp-9", "Rehired Person");
  ASSERT_TRUE(SealPersonalFields(keys->get(), &event).ok());
  const std::string sealed = event.As<EmployeeHired>().display_name;
  EXPECT_TRUE(IsWellFormedSealed(sealed));
  EXPECT_EQ(sealed.find("Rehired"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists((*keys)->KeyPath("emp-9")));
  EXPECT_EQ((*keys)->Lookup("emp-9")->state, KeyLookup::kErased);
}

TEST(SealPersonalFieldsTest, EventsWithoutPersonalTextCreateNoKey) {
  TempDir dir;
  auto keys = FileKeyStore::Open(dir.path());
  Event event = HiredEvent("emp-3", "x");
  event.type = EventType::kEmployeeLeft;
  event.data = EmployeeLeft{""};  // empty reason: nothing to seal
  ASSERT_TRUE(SealPersonalFields(keys->get(), &event).ok());
  EXPECT_EQ((*keys)->Lookup("emp-3")->state, KeyLookup::kAbsent);
  // Every personal field of a declaration amendment is sealed.
  event.type = EventType::kDeclarationAmended;
  event.data = DeclarationAmended{"d-1", std::string("evidence text"), 3, std::string("wish")};
  ASSERT_TRUE(SealPersonalFields(keys->get(), &event).ok());
  const auto& amended = event.As<DeclarationAmended>();
  EXPECT_TRUE(IsWellFormedSealed(*amended.evidence));
  EXPECT_TRUE(IsWellFormedSealed(*amended.career_wish));
  EXPECT_EQ(amended.practice_months, 3);
  EXPECT_EQ(amended.declaration_id, "d-1");
}

// With the key fetched beforehand (a batch's GetOrCreateMany), sealing gives
// the bytes SealPersonalFields gives; without an entry it refuses.
TEST(SealPersonalFieldsTest, WithAFetchedKeySealsAsTheStoreWouldAndNeverWithoutOne) {
  TempDir dir;
  auto keys = FileKeyStore::Open(dir.path());
  ASSERT_TRUE(keys.ok());
  Event by_store = HiredEvent("emp-1", "Hanako Yamada");
  Event fetched = by_store;
  EXPECT_TRUE(NeedsEmployeeKey(&fetched));
  ASSERT_TRUE(SealPersonalFields(keys->get(), &by_store).ok());
  const std::string_view one[] = {"emp-1"};
  Result<std::vector<KeyLookup>> lookups = (*keys)->GetOrCreateMany(one);
  ASSERT_TRUE(lookups.ok());
  ASSERT_TRUE(SealPersonalFieldsWith(lookups->front(), &fetched).ok());
  EXPECT_EQ(fetched, by_store);
  EXPECT_FALSE(NeedsEmployeeKey(&fetched));  // sealed now

  Event unsealed = HiredEvent("emp-2", "Taro Sato");
  const Event before = unsealed;
  const Status refused = SealPersonalFieldsWith(KeyLookup{}, &unsealed);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("emp-2"), std::string::npos) << refused.ToString();
  EXPECT_EQ(unsealed, before);  // unchanged
  // An erased entry seals as erased: nothing readable is left.
  ASSERT_TRUE(SealPersonalFieldsWith(KeyLookup{KeyLookup::kErased, {}}, &unsealed).ok());
  EXPECT_TRUE(IsWellFormedSealed(unsealed.As<EmployeeHired>().display_name));
  EXPECT_FALSE(OpenSealedText(EmployeeKey{},
                              SealContext{"emp-2", unsealed.source, unsealed.id, "display_name"},
                              unsealed.As<EmployeeHired>().display_name)
                   .ok());
}

}  // namespace
}  // namespace jiritsu
