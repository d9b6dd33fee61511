#include "outlet/decoder/netflow/templates.h"

#include <iterator>

namespace akvo::decoder {

DomainState::Stored DomainState::storeTemplate(uint16_t id, const Template& t,
                                               TemplateBudget& budget) {
  const size_t bytes = templateBytes(t);
  auto it = templates.find(id);
  if (it == templates.end()) {
    if (templates.size() >= kMaxTemplatesPerDomain) return Stored::kTooManyIds;
    if (!budget.fits(0, bytes)) return Stored::kNoRoom;
    templates.emplace(id, t);
    budget.used += bytes;
    return Stored::kStored;
  }
  if (!budget.fits(templateBytes(it->second), bytes)) {
    eraseTemplate(it, budget);
    return Stored::kNoRoom;
  }
  budget.used -= templateBytes(it->second);
  it->second = Template(t);  // a fresh copy: the old definition's capacity goes with it
  budget.used += bytes;
  return Stored::kStored;
}

DomainState::Templates::iterator DomainState::eraseTemplate(Templates::iterator it,
                                                            TemplateBudget& budget) {
  budget.used -= templateBytes(it->second);
  return templates.erase(it);
}

void DomainState::eraseTemplate(uint16_t id, TemplateBudget& budget) {
  if (auto it = templates.find(id); it != templates.end()) eraseTemplate(it, budget);
}

void DomainState::eraseTemplates(bool options, TemplateBudget& budget) {
  for (auto it = templates.begin(); it != templates.end();)
    it = it->second.options == options ? eraseTemplate(it, budget) : std::next(it);
}

}  // namespace akvo::decoder
