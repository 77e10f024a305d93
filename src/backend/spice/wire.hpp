#pragma once
// The messages between the spice backend and its worker processes over a
// local stream socket: length-prefixed frames holding a request (deck, analysis
// command, seed) or a reply (a Run), and the worker's greeting (the engine
// version). Both ends are the same build on the same machine, so numbers go
// as raw bytes.
#include <string>
#include <vector>

#include "backend/spice/engine.hpp"

namespace eqsim::backend::spice {

struct Request {
  std::vector<std::string> deck;
  std::string command;  // "tran ...", "op", "dc ..."
  unsigned long long seed = 1;
};

std::string encode(const Request& q);
std::string encode(const Run& r);
// Decoders return false on a malformed or short message.
bool decode(const std::string& bytes, Request& q);
bool decode(const std::string& bytes, Run& r);

enum class FrameStatus { ok, closed, timed_out, malformed };

// Writes one frame; false when the other end is gone (never raises SIGPIPE).
bool write_frame(int fd, const std::string& payload);
// Reads one frame, waiting at most timeout_s seconds in all (< 0: no limit).
// Frames longer than max_frame_bytes are malformed.
FrameStatus read_frame(int fd, std::string& payload, double timeout_s = -1);

}  // namespace eqsim::backend::spice
