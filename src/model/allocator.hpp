#pragma once
// Process-wide allocator policy for batched numerics (called once, first thing in main).

namespace eqsim::model {

// Keeps freed memory in the process for reuse instead of handing it back to the kernel.
// A paper-scale training step allocates and frees matrices of 1 to 26 MB (batched states,
// the 1797 x 1797 OT cost matrix); glibc's defaults map such blocks fresh (mmap above a
// threshold, heap trimming below it), so every reuse paid page faults and zeroing: 2/3 of
// a float32 EP step's time and ~20 % of the OT pairing's on this VM (bench/bench_train).
// With it the resident size stays at its peak instead of falling back between steps.
void keep_freed_memory();

}  // namespace eqsim::model
