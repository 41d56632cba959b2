// Must NOT compile: an 8-layer teacher cannot be cut into 3 blocks.
#include <slmrec/distill/block_map.hpp>

constexpr auto map = slmrec::distill::make_block_map<slmrec::depth<8>, slmrec::depth<2>, slmrec::distill::blocks<3>>();
int main() { return int(map.blocks); }
