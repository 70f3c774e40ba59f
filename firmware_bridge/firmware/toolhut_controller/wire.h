// Serial wire v1 framing for the hut controller: CRC, COBS, frame encode/decode.
//
// The C++ twin of firmware_bridge/codec.py and frames.py; docs/serial-protocol.md is the
// contract and firmware_bridge/test_vectors.json the proof (tests/firmware_bridge/
// test_firmware_codec.py compiles this file with g++ and checks every vector).
//
// Portable on purpose: no Arduino headers, C++11, no heap, no exceptions, fixed buffers,
// every length checked. The same file builds for an AVR, an ESP32 and the host.
#ifndef TOOLHUT_WIRE_H
#define TOOLHUT_WIRE_H

#include <stddef.h>
#include <stdint.h>

namespace wire {

const uint8_t VERSION = 1;
const size_t HEADER_SIZE = 5;  // version, type, seq_hi, seq_lo, length
const size_t CRC_SIZE = 2;
const size_t MAX_PAYLOAD = 255;  // the length field is one byte
const size_t MAX_RAW = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE;     // 262
const size_t MAX_COBS = MAX_RAW + (MAX_RAW + 253) / 254;         // 264
const size_t MAX_FRAME_BYTES = MAX_COBS + 2;                     // 266, both delimiters
const size_t MIN_RAW = HEADER_SIZE + CRC_SIZE;                   // 7, an empty payload
const uint16_t MAX_SEQ = 0xFFFF;

const size_t MAX_DISPLAY_TEXT = 64;  // bytes of UTF-8 the display can show
const size_t MAX_FIRMWARE_TEXT = 64;
const size_t MIN_UID = 4;  // ISO 14443 UIDs are 4, 7 or 10 bytes
const size_t MAX_UID = 10;

enum FrameType {
  HELLO = 0x01,
  HEARTBEAT = 0x02,
  ACK = 0x03,
  NAK = 0x04,
  CARD_READ = 0x10,
  QR_SCAN = 0x11,
  DOOR_CHANGED = 0x12,
  ALARM = 0x13,
  UNLOCK = 0x20,
  FEEDBACK = 0x21,
};

enum Beep { BEEP_NONE = 0, BEEP_OK = 1, BEEP_ERROR = 2 };

enum AlarmKind { ALARM_FORCED_OPEN = 1, ALARM_HELD_OPEN = 2, ALARM_TAMPER = 3 };

enum NakReason { NAK_UNKNOWN_TYPE = 1, NAK_BAD_PAYLOAD = 2, NAK_BUSY = 3 };

bool is_known_type(uint8_t type);

// CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor.
// Pass the previous result as `crc` to continue over several pieces.
uint16_t crc16(const uint8_t* data, size_t len, uint16_t crc = 0xFFFF);

// Strict UTF-8 as Python's bytes.decode("utf-8") sees it: no overlong forms, no
// surrogates, nothing above U+10FFFF. Texts that fail this would be refused by the gateway.
bool utf8_valid(const uint8_t* data, size_t len);

// A text field of a frame: valid UTF-8 with no C0 control, DEL or C1 control (U+0080..
// U+009F) in it, as the gateway's codec requires. A QR label carrying a NUL is refused.
bool text_valid(const uint8_t* data, size_t len);

// COBS of `len` bytes into `out`; returns the encoded length, or 0 if `out_cap` is too small.
size_t cobs_encode(const uint8_t* data, size_t len, uint8_t* out, size_t out_cap);

// Decodes one COBS block (no delimiters). `out` may equal `data` (decoding never writes
// ahead of where it reads). Returns false for invalid COBS or too small an `out`.
bool cobs_decode(const uint8_t* data, size_t len, uint8_t* out, size_t out_cap,
                 size_t* out_len);

// Where bytes go when a frame is written out byte by byte (a UART, a test buffer).
typedef void (*ByteSink)(void* ctx, uint8_t byte);

// A payload in at most two pieces, so a frame can be encoded straight out of a ring
// buffer without copying it together first.
struct Payload {
  const uint8_t* first;
  size_t first_len;
  const uint8_t* second;
  size_t second_len;
};

// Writes 00 COBS(header payload crc) 00 to `sink`; returns the bytes written, 0 (and
// writes nothing) if the payload is longer than MAX_PAYLOAD. Output is identical to
// encode_frame's, so a retransmission is byte-for-byte the same frame.
size_t write_frame(uint8_t type, uint16_t seq, const Payload& payload, ByteSink sink,
                   void* ctx);

// The same into a caller buffer; returns the length, or 0 if it does not fit (a buffer
// of MAX_FRAME_BYTES always fits) or the payload is too long.
size_t encode_frame(uint8_t type, uint16_t seq, const uint8_t* payload, size_t len,
                    uint8_t* out, size_t out_cap);

// Per-type payload rules of docs/serial-protocol.md (sizes, ranges, UTF-8). False for an
// unknown type. Senders check with this too, so the firmware never sends what the
// gateway would have to refuse.
bool payload_valid(uint8_t type, const uint8_t* payload, size_t len);

// A received frame. `payload` points into the decoder's buffer: valid until the next
// feed(). Its length and contents have passed payload_valid().
struct Frame {
  uint8_t type;
  uint16_t seq;
  const uint8_t* payload;
  uint8_t length;
};

// Big-endian helpers for building payloads.
inline void put_u16(uint8_t* out, uint16_t v) {
  out[0] = static_cast<uint8_t>(v >> 8);
  out[1] = static_cast<uint8_t>(v);
}
inline void put_u32(uint8_t* out, uint32_t v) {
  put_u16(out, static_cast<uint16_t>(v >> 16));
  put_u16(out + 2, static_cast<uint16_t>(v));
}
inline uint16_t get_u16(const uint8_t* in) {
  return static_cast<uint16_t>((static_cast<uint16_t>(in[0]) << 8) | in[1]);
}
inline uint32_t get_u32(const uint8_t* in) {
  return (static_cast<uint32_t>(get_u16(in)) << 16) | get_u16(in + 2);
}

// Typed readers for received frames; false if the frame is not of that type or invalid.
bool parse_ack(const Frame& f, uint16_t* seq);
bool parse_nak(const Frame& f, uint16_t* seq, uint8_t* reason);
bool parse_heartbeat(const Frame& f, uint32_t* uptime_s);
bool parse_door(const Frame& f, bool* open);
bool parse_alarm(const Frame& f, uint8_t* kind, bool* active);
bool parse_unlock(const Frame& f, uint16_t* pulse_ms);
bool parse_feedback(const Frame& f, uint8_t* beep, const uint8_t** text, size_t* text_len);

// Same counters, same meaning, as codec.DecoderStats.
struct DecoderStats {
  uint32_t frames;
  uint32_t garbage_bytes;  // bytes between delimiters that were not a frame at all
  uint32_t bad_crc;
  uint32_t oversize;
  uint32_t malformed;  // CRC fine but header or payload wrong (or another version)
  uint32_t unknown_type;
};

// Incremental decoder: one byte in, at most one frame out. Never fails on input; bad
// blocks only bump a counter, exactly as codec.FrameDecoder does.
class Decoder {
 public:
  enum Result {
    NOTHING,  // need more bytes (or a bad block was dropped)
    FRAME,    // frame() holds a valid frame
    REJECT,   // CRC fine but type or payload not understood: answer Nak(reject_seq, reason)
  };

  Decoder();
  Result feed(uint8_t byte);
  const Frame& frame() const { return frame_; }
  uint16_t reject_seq() const { return reject_seq_; }
  uint8_t reject_reason() const { return reject_reason_; }
  const DecoderStats& stats() const { return stats_; }

 private:
  Result parse_block();

  uint8_t buf_[MAX_COBS];  // one COBS block, decoded in place when its 00 arrives
  size_t len_;
  bool skipping_;  // inside an oversize run: drop everything up to the next 00
  Frame frame_;
  uint16_t reject_seq_;
  uint8_t reject_reason_;
  DecoderStats stats_;
};

}  // namespace wire

#endif  // TOOLHUT_WIRE_H
