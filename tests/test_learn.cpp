#include <doctest/doctest.h>
#include "learn/flow.hpp"
TEST_CASE("beta stability bound at lambda=15, alpha=2 is about 0.018") {
  auto s = eqsim::model::floweqprop_spec();
  CHECK(eqsim::learn::max_stable_beta(s) == doctest::Approx(16.0 / 900.0));
}
