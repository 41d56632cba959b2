// Must not compile: a 3-layer teacher cut into 2 distillation blocks.
#include <slmrec/distill/block_map.hpp>

constexpr auto map = slmrec::distill::make_block_map<slmrec::depth<3>, slmrec::depth<2>, slmrec::distill::blocks<2>>();
