#include "processors/journal_tail.h"

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
    auto stored = DecodeStoredEvent(it->value());
    if (!stored.ok()) {
      return stored.status().WithContext("journal tail of employee " + std::string(employee));
    }
    ApplyEvent(reference, stored->event, stored->position,
               std::string(it->key().substr(prefix.size())), state);
    ++folded;
  }
  JIRITSU_RETURN_IF_ERROR(it->status().WithContext("journal tail of employee " + std::string(employee)));
  return folded;
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
