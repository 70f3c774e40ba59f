// Checks the firmware codec (wire.cpp) against the Python codec's test vectors.
//
// Reads lines from stdin, written by tests/firmware_bridge/test_firmware_codec.py from
// firmware_bridge/test_vectors.json and from Python's FrameDecoder:
//
//   valid  NAME SEQ WIRE_HEX CANON    encode CANON -> WIRE_HEX; decode WIRE_HEX -> CANON
//   reject NAME WIRE_HEX COUNTER EXPECT  decode yields no frame, bumps COUNTER, and the
//                                        whole outcome (naks, all counters) is EXPECT
//   stream NAME HEX EXPECT            decode HEX (any bytes) -> EXPECT, as Python did
//
// CANON is one frame as TYPE/SEQ/field/... (texts and bytes as upper-case hex, numbers in
// decimal, e.g. FEEDBACK/11/1/E5B7B2); EXPECT is the decoder's outcome as items joined
// by ';': each frame's CANON, "reject/SEQ/REASON" for each Nak due, then
// "stats/frames,garbage_bytes,bad_crc,oversize,malformed,unknown_type".
//
// The type names and payload layouts are this file's own (via wire.h), not Python's, so a
// drift on either side shows up as a failed line. Prints one line per check and a final
// "N passed, M failed"; exit status 0 only if nothing failed.
#include <stdio.h>
#include <string.h>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "../toolhut_controller/wire.h"
#include "check.h"

namespace {

typedef std::vector<uint8_t> Bytes;

struct TypeName {
  uint8_t type;
  const char* name;
};
const TypeName TYPE_NAMES[] = {
    {wire::HELLO, "HELLO"},         {wire::HEARTBEAT, "HEARTBEAT"},
    {wire::ACK, "ACK"},             {wire::NAK, "NAK"},
    {wire::CARD_READ, "CARD_READ"}, {wire::QR_SCAN, "QR_SCAN"},
    {wire::DOOR_CHANGED, "DOOR_CHANGED"}, {wire::ALARM, "ALARM"},
    {wire::UNLOCK, "UNLOCK"},       {wire::FEEDBACK, "FEEDBACK"},
};

const char* type_name(uint8_t type) {
  for (const TypeName& t : TYPE_NAMES) {
    if (t.type == type) return t.name;
  }
  return "?";
}

bool type_code(const std::string& name, uint8_t* type) {
  for (const TypeName& t : TYPE_NAMES) {
    if (name == t.name) {
      *type = t.type;
      return true;
    }
  }
  return false;
}

std::string hex(const uint8_t* data, size_t len) {
  static const char DIGITS[] = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < len; ++i) {
    out += DIGITS[data[i] >> 4];
    out += DIGITS[data[i] & 0x0F];
  }
  return out;
}

bool unhex(const std::string& text, Bytes* out) {
  if (text.size() % 2 != 0) return false;
  out->clear();
  for (size_t i = 0; i < text.size(); i += 2) {
    unsigned value = 0;
    if (sscanf(text.c_str() + i, "%2x", &value) != 1) return false;
    out->push_back(static_cast<uint8_t>(value));
  }
  return true;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, sep)) parts.push_back(part);
  if (!text.empty() && text[text.size() - 1] == sep) parts.push_back("");
  return parts;
}

std::string num(unsigned long value) { return std::to_string(value); }

// One decoded frame in CANON form, through the typed readers of wire.h.
std::string canon(const wire::Frame& f) {
  std::string out = std::string(type_name(f.type)) + "/" + num(f.seq) + "/";
  uint16_t u16 = 0;
  uint32_t u32 = 0;
  uint8_t u8 = 0;
  bool flag = false;
  const uint8_t* text = 0;
  size_t text_len = 0;
  switch (f.type) {
    case wire::HELLO:
    case wire::CARD_READ:
    case wire::QR_SCAN:
      return out + hex(f.payload, f.length);
    case wire::HEARTBEAT:
      return wire::parse_heartbeat(f, &u32) ? out + num(u32) : "unparsed";
    case wire::ACK:
      return wire::parse_ack(f, &u16) ? out + num(u16) : "unparsed";
    case wire::NAK:
      return wire::parse_nak(f, &u16, &u8) ? out + num(u16) + "/" + num(u8) : "unparsed";
    case wire::DOOR_CHANGED:
      return wire::parse_door(f, &flag) ? out + (flag ? "1" : "0") : "unparsed";
    case wire::ALARM:
      return wire::parse_alarm(f, &u8, &flag) ? out + num(u8) + "/" + (flag ? "1" : "0")
                                              : "unparsed";
    case wire::UNLOCK:
      return wire::parse_unlock(f, &u16) ? out + num(u16) : "unparsed";
    case wire::FEEDBACK:
      return wire::parse_feedback(f, &u8, &text, &text_len)
                 ? out + num(u8) + "/" + hex(text, text_len)
                 : "unparsed";
    default:
      return "unknown";
  }
}

// CANON back into type, seq and payload bytes, laid out here (not by Python).
bool build(const std::string& text, uint8_t* type, uint16_t* seq, Bytes* payload) {
  std::vector<std::string> f = split(text, '/');
  if (f.size() < 3 || !type_code(f[0], type)) return false;
  *seq = static_cast<uint16_t>(std::stoul(f[1]));
  payload->clear();
  uint8_t buf[4];
  switch (*type) {
    case wire::HELLO:
    case wire::CARD_READ:
    case wire::QR_SCAN:
      return unhex(f[2], payload);
    case wire::HEARTBEAT:
      wire::put_u32(buf, static_cast<uint32_t>(std::stoul(f[2])));
      payload->assign(buf, buf + 4);
      return true;
    case wire::ACK:
    case wire::UNLOCK:
      wire::put_u16(buf, static_cast<uint16_t>(std::stoul(f[2])));
      payload->assign(buf, buf + 2);
      return true;
    case wire::NAK:
      if (f.size() != 4) return false;
      wire::put_u16(buf, static_cast<uint16_t>(std::stoul(f[2])));
      buf[2] = static_cast<uint8_t>(std::stoul(f[3]));
      payload->assign(buf, buf + 3);
      return true;
    case wire::DOOR_CHANGED:
      payload->push_back(static_cast<uint8_t>(std::stoul(f[2])));
      return true;
    case wire::ALARM:
      if (f.size() != 4) return false;
      payload->push_back(static_cast<uint8_t>(std::stoul(f[2])));
      payload->push_back(static_cast<uint8_t>(std::stoul(f[3])));
      return true;
    case wire::FEEDBACK: {
      if (f.size() != 4) return false;
      Bytes text_bytes;
      if (!unhex(f[3], &text_bytes)) return false;
      payload->push_back(static_cast<uint8_t>(std::stoul(f[2])));
      payload->insert(payload->end(), text_bytes.begin(), text_bytes.end());
      return true;
    }
    default:
      return false;
  }
}

// Feeds bytes one at a time, as the UART delivers them, into a fresh decoder.
std::string decode_all(const Bytes& data, wire::DecoderStats* stats_out = 0) {
  wire::Decoder decoder;
  std::string out;
  for (uint8_t byte : data) {
    wire::Decoder::Result r = decoder.feed(byte);
    if (r == wire::Decoder::FRAME) {
      out += canon(decoder.frame()) + ";";
    } else if (r == wire::Decoder::REJECT) {
      out += "reject/" + num(decoder.reject_seq()) + "/" + num(decoder.reject_reason()) + ";";
    }
  }
  const wire::DecoderStats& s = decoder.stats();
  out += "stats/" + num(s.frames) + "," + num(s.garbage_bytes) + "," + num(s.bad_crc) + "," +
         num(s.oversize) + "," + num(s.malformed) + "," + num(s.unknown_type);
  if (stats_out) *stats_out = s;
  return out;
}

uint32_t counter(const wire::DecoderStats& s, const std::string& name, bool* known) {
  *known = true;
  if (name == "garbage_bytes") return s.garbage_bytes;
  if (name == "bad_crc") return s.bad_crc;
  if (name == "oversize") return s.oversize;
  if (name == "malformed") return s.malformed;
  if (name == "unknown_type") return s.unknown_type;
  *known = false;
  return 0;
}

void check_valid(Tally* t, const std::string& name, const std::string& seq_text,
                 const std::string& wire_hex, const std::string& canon_text) {
  uint8_t type = 0;
  uint16_t seq = 0;
  Bytes payload;
  if (!t->check(build(canon_text, &type, &seq, &payload) && num(seq) == seq_text,
                name + ": fields parse", canon_text)) {
    return;
  }
  uint8_t out[wire::MAX_FRAME_BYTES];
  size_t n = wire::encode_frame(type, seq, payload.data(), payload.size(), out, sizeof out);
  std::string got = hex(out, n);
  t->check(n > 0 && got == wire_hex, name + ": encode", "got " + got);
  t->check(wire::payload_valid(type, payload.data(), payload.size()),
           name + ": payload_valid");

  Bytes bytes;
  unhex(wire_hex, &bytes);
  std::string decoded = decode_all(bytes);
  std::string want = canon_text + ";stats/1,0,0,0,0,0";
  t->check(decoded == want, name + ": decode", "got " + decoded);

  // Line noise with no zero in it, right before the frame: the frame's leading 00 ends
  // the noise, which is counted as garbage, and the frame still decodes.
  Bytes noisy;
  const uint8_t noise[] = {0x13, 0x37, 0xFF, 0x01, 0x42};
  noisy.assign(noise, noise + sizeof noise);
  noisy.insert(noisy.end(), bytes.begin(), bytes.end());
  decoded = decode_all(noisy);
  t->check(decoded == canon_text + ";stats/1,5,0,0,0,0", name + ": decode after noise",
           "got " + decoded);
}

void check_reject(Tally* t, const std::string& name, const std::string& wire_hex,
                  const std::string& counter_name, const std::string& expect) {
  Bytes bytes;
  if (!t->check(unhex(wire_hex, &bytes), name + ": hex")) return;
  wire::DecoderStats stats;
  std::string got = decode_all(bytes, &stats);
  bool known = false;
  uint32_t bumped = counter(stats, counter_name, &known);
  t->check(known && bumped > 0 && stats.frames == 0, name + ": rejected as " + counter_name,
           "got " + got);
  t->check(got == expect, name + ": same outcome as Python", "got " + got + " want " + expect);
}

void check_stream(Tally* t, const std::string& name, const std::string& data_hex,
                  const std::string& expect) {
  Bytes bytes;
  if (!t->check(unhex(data_hex, &bytes), name + ": hex")) return;
  std::string got = decode_all(bytes);
  t->check(got == expect, name + ": same outcome as Python", "got " + got + " want " + expect);
}

// Checks that need no vectors: the CRC check value and the size limits.
void check_builtin(Tally* t) {
  const char* digits = "123456789";
  t->check(wire::crc16(reinterpret_cast<const uint8_t*>(digits), 9) == 0x29B1,
           "builtin: crc16 check value 0x29B1");

  uint8_t payload[wire::MAX_PAYLOAD + 1];
  memset(payload, 'x', sizeof payload);
  uint8_t out[wire::MAX_FRAME_BYTES];
  size_t longest = wire::encode_frame(wire::QR_SCAN, 0x0101, payload, wire::MAX_PAYLOAD, out,
                                      sizeof out);
  t->check(longest > 0 && longest <= wire::MAX_FRAME_BYTES,
           "builtin: longest QR frame fits MAX_FRAME_BYTES", "got " + num(longest));
  t->check(wire::encode_frame(wire::QR_SCAN, 1, payload, sizeof payload, out, sizeof out) == 0,
           "builtin: 256-byte payload refused");
  t->check(wire::encode_frame(wire::QR_SCAN, 1, payload, 10, out, 5) == 0,
           "builtin: too small an output buffer refused");

  // More than MAX_COBS bytes without a delimiter: dropped up to the next 00 and counted
  // once; the frame after it decodes.
  Bytes stream(wire::MAX_COBS + 40, 0x55);
  uint8_t ack[2] = {0x01, 0x00};
  size_t n = wire::encode_frame(wire::ACK, 0, ack, 2, out, sizeof out);
  stream.insert(stream.end(), out, out + n);
  std::string got = decode_all(stream);
  t->check(got == "ACK/0/256;stats/1,0,0,1,0,0", "builtin: oversize run skipped",
           "got " + got);

  // Exactly MAX_COBS bytes is not oversize (here it decodes to zeros: a bad CRC).
  Bytes edge(wire::MAX_COBS, 0x01);
  edge.push_back(0);
  wire::DecoderStats edge_stats;
  got = decode_all(edge, &edge_stats);
  t->check(edge_stats.oversize == 0 && edge_stats.bad_crc == 1,
           "builtin: MAX_COBS bytes is not oversize", "got " + got);
  edge.insert(edge.begin(), 0x01);
  got = decode_all(edge, &edge_stats);
  t->check(edge_stats.oversize == 1 && edge_stats.bad_crc == 0,
           "builtin: MAX_COBS + 1 bytes is oversize", "got " + got);

  const uint8_t bad_utf8[][4] = {{0xC0, 0x80}, {0xED, 0xA0, 0x80}, {0xF4, 0x90, 0x80, 0x80},
                                 {0xE5, 0xB7}};
  const size_t lens[] = {2, 3, 4, 2};
  bool all_refused = true;
  for (size_t i = 0; i < 4; ++i) all_refused &= !wire::utf8_valid(bad_utf8[i], lens[i]);
  t->check(all_refused, "builtin: overlong, surrogate, >U+10FFFF, cut-short UTF-8 refused");

  const uint8_t control[][3] = {{'a', 0x00, 'b'}, {'a', 0x1B, 'b'}, {'a', 0x7F, 'b'},
                                {'a', 0xC2, 0x85}, {'a', 0xC2, 0x9F}};
  bool controls_refused = true;
  for (size_t i = 0; i < 5; ++i) controls_refused &= !wire::text_valid(control[i], 3);
  const uint8_t fine[] = {'a', 0xC2, 0xA0, 0xE7, 0x94, 0xB5};  // NBSP and a CJK character
  t->check(controls_refused && wire::text_valid(fine, sizeof fine),
           "builtin: text with C0, DEL or C1 controls refused; NBSP and CJK kept");
}

}  // namespace

int main() {
  Tally t;
  check_builtin(&t);
  std::string line;
  int vectors = 0;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    std::vector<std::string> f = split(line, ' ');
    if (f[0] == "valid" && f.size() == 5) {
      check_valid(&t, f[1], f[2], f[3], f[4]);
      ++vectors;
    } else if (f[0] == "reject" && f.size() == 5) {
      check_reject(&t, f[1], f[2], f[3], f[4]);
      ++vectors;
    } else if (f[0] == "stream" && f.size() == 4) {
      check_stream(&t, f[1], f[2], f[3]);
    } else {
      t.check(false, "input line", line.substr(0, 80));
    }
  }
  printf("vectors checked: %d\n", vectors);
  return t.finish();
}
