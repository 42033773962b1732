#include "processors/journal_tail.h"

#include <memory>
#include <optional>
#include <string>

#include "processors/employee_fold.h"
#include "processors/jiritsu_projector.h"
#include "processors/rows.h"
#include "processors/stored_event.h"

namespace jiritsu::processors {

Result<size_t> FoldJournalTail(const StateStore& store, const ReferenceTable& reference,
                               std::string_view employee, EmployeeState* state) {
  auto journal = store.NewIterator(kJournalFamily);
  return FoldJournalTail(journal.get(), reference, employee, state);
}

Result<size_t> FoldJournalTail(StateIterator* it, const ReferenceTable& reference,
                               std::string_view employee, EmployeeState* state) {
  const std::string prefix = std::string(employee) + '\0';
  if (state->events_folded == 0) {
    it->Seek(prefix);
  } else {
    const std::string last = prefix + state->last_sort_key;
    it->Seek(last);
    if (it->Valid() && it->key() == last) it->Next();
  }
  size_t folded = 0;
  for (; it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view sort_key = it->key().substr(prefix.size());
    auto stored = DecodeJournalRow(employee, sort_key, it->value());
    if (!stored.ok()) {
      return stored.status().WithContext("journal tail of employee " + std::string(employee));
    }
    ApplyEvent(reference, stored->event, stored->position, sort_key, state);
    ++folded;
  }
  JIRITSU_RETURN_IF_ERROR(it->status().WithContext("journal tail of employee " + std::string(employee)));
  return folded;
}

Result<RowReader> ViewRowsOf(const StateStore& store) {
  auto reference = std::make_shared<ReferenceTable>();
  JIRITSU_RETURN_IF_ERROR(reference->Load(store));
  const std::string state_prefix = EmployeeStateKey("");
  const std::string waiting_prefix = FactsWaitingKey("");
  // One journal iterator for every state read (each fold seeks it): a new
  // iterator per state was one per employee of the store.
  std::shared_ptr<StateIterator> journal = store.NewIterator(kJournalFamily);
  return RowReader([reference, journal, state_prefix, waiting_prefix](
                       std::string_view family, std::string_view key,
                       std::string_view value) -> Result<std::optional<std::string>> {
    if (family != kEmployeeFamily) return std::optional<std::string>(value);
    if (key.starts_with(waiting_prefix)) return std::optional<std::string>();
    if (!key.starts_with(state_prefix) || value.empty() ||
        static_cast<uint8_t>(value[0]) != kEmployeeStateFormat) {
      return std::optional<std::string>(value);
    }
    auto state = DecodeEmployeeState(value);
    if (!state.ok()) return state.status().WithContext("state " + std::string(key));
    const std::string_view employee = key.substr(state_prefix.size());
    JIRITSU_ASSIGN_OR_RETURN(const size_t tail,
                             FoldJournalTail(journal.get(), *reference, employee, &*state));
    if (tail == 0) return std::optional<std::string>(value);
    return std::optional<std::string>(EncodeEmployeeState(*state));
  });
}

Result<EmployeeState> LoadEmployeeState(const StateStore& store, const ReferenceTable& reference,
                                        std::string_view employee) {
  std::string bytes;
  JIRITSU_RETURN_IF_ERROR(store.Get(kEmployeeFamily, EmployeeStateKey(employee), &bytes));
  auto state = DecodeEmployeeState(bytes);
  if (!state.ok()) return state.status().WithContext("state of employee " + std::string(employee));
  JIRITSU_RETURN_IF_ERROR(FoldJournalTail(store, reference, employee, &*state).status());
  return state;
}

}  // namespace jiritsu::processors
