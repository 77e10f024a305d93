#pragma once
// How a circuit goes to ngspice: the netlist lines of one relaxation (options,
// elements, noise sources, .ic), in one of two forms.
#include <string>
#include <vector>

#include "backend/backend.hpp"

namespace eqsim::backend::spice {

enum class DeckForm {
  // Canonical transconductors (circuit::match_transconductance) rewritten into
  // elements ngspice evaluates cheaply, the rest as written: k*V(n) (and
  // k*(V(n)-o)) as a G element (and a constant current -k*o); k*tanh(V(n)/s) as
  // a G element of k/s reading a node that holds s*tanh(V(n)/s), one per input
  // node and scale (a B-source into 1 ohm), shared by every transconductor that
  // reads n. The node equations are the circuit's own, and so is each Newton step's
  // linearisation (eliminating the shared node gives back the B-source's); only the
  // convergence test differs (ngspice checks the shared node, not each device's
  // current), so trajectories agree within Newton's tolerance (9e-9 V mid-transient
  // on a small generated network) and settled voltages to about 1e-11 V (test_spice).
  // ngspice evaluates one parse tree per shared node instead of one per device, and
  // its sparse LU orders the matrix with less fill. tanh devices with an input
  // offset (mismatch) stay B-sources. Measured (bench_backends, 100 tau, idle machine):
  // the FlowEqProp netlist (99,393 elements) 83.3 s as written, 21.9 s compiled (3.8x),
  // 1.5e-12 V apart; a 64-12-8 one 2.2x.
  compiled,
  // Every element as written: one B-source per transconductor.
  as_written,
};

// The netlist lines handed to ngspice for c under opt: options, elements (in
// `form`), trrandom noise sources for noisy runs, no .tran (the backend issues the command).
std::vector<std::string> spice_deck(const circuit::Circuit& c, const RelaxOptions& opt,
                                    DeckForm form = DeckForm::compiled);

}  // namespace eqsim::backend::spice
