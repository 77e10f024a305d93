#include "model/allocator.hpp"

#include <malloc.h>

namespace eqsim::model {

void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 256 << 20);  // blocks below 256 MB come from the heap, which keeps them
  mallopt(M_TRIM_THRESHOLD, 1 << 30);    // and gives back only a free top above 1 GB
}

}  // namespace eqsim::model
