// Serial wire v1 framing; see wire.h. Mirrors firmware_bridge/codec.py line for line where
// it can, so a reader can check one against the other.
#include "wire.h"

namespace wire {

bool is_known_type(uint8_t type) {
  switch (type) {
    case HELLO: case HEARTBEAT: case ACK: case NAK: case CARD_READ:
    case QR_SCAN: case DOOR_CHANGED: case ALARM: case UNLOCK: case FEEDBACK:
      return true;
    default:
      return false;
  }
}

uint16_t crc16(const uint8_t* data, size_t len, uint16_t crc) {
  // Bitwise rather than a 512-byte table: an AVR has 2 KB of RAM, and 262 bytes at
  // 115200 baud leave ample time per byte.
  for (size_t i = 0; i < len; ++i) {
    crc = static_cast<uint16_t>(crc ^ (static_cast<uint16_t>(data[i]) << 8));
    for (uint8_t bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

bool utf8_valid(const uint8_t* s, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t extra;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the first continuation byte
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // UTF-16 surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;  // continuation byte first, overlong C0/C1, or F5..FF
    }
    if (len - i <= extra) return false;  // sequence cut short
    if (s[i + 1] < lo || s[i + 1] > hi) return false;
    for (size_t k = 2; k <= extra; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return false;
    }
    i += extra + 1;
  }
  return true;
}

bool text_valid(const uint8_t* s, size_t len) {
  if (!utf8_valid(s, len)) return false;
  for (size_t i = 0; i < len; ++i) {
    if (s[i] < 0x20 || s[i] == 0x7F) return false;
    // U+0080..U+009F are C2 80..C2 9F; valid UTF-8 has no other C2 followed by 80..9F.
    if (s[i] == 0xC2 && i + 1 < len && s[i + 1] <= 0x9F) return false;
  }
  return true;
}

namespace {

// The unencoded frame (header | payload | crc) as one virtual array, so that COBS can
// look ahead for the next zero without the frame ever being copied together.
class RawFrame {
 public:
  RawFrame(uint8_t type, uint16_t seq, const Payload& p) : p_(p) {
    size_t len = p.first_len + p.second_len;
    header_[0] = VERSION;
    header_[1] = type;
    put_u16(header_ + 2, seq);
    header_[4] = static_cast<uint8_t>(len);
    uint16_t crc = crc16(header_, HEADER_SIZE);
    crc = crc16(p.first, p.first_len, crc);
    crc = crc16(p.second, p.second_len, crc);
    put_u16(crc_, crc);
    size_ = HEADER_SIZE + len + CRC_SIZE;
  }
  size_t size() const { return size_; }
  uint8_t at(size_t i) const {
    if (i < HEADER_SIZE) return header_[i];
    i -= HEADER_SIZE;
    if (i < p_.first_len) return p_.first[i];
    i -= p_.first_len;
    if (i < p_.second_len) return p_.second[i];
    return crc_[i - p_.second_len];
  }

 private:
  const Payload& p_;
  uint8_t header_[HEADER_SIZE];
  uint8_t crc_[CRC_SIZE];
  size_t size_;
};

// COBS exactly as codec.cobs_encode: a full 254-byte run is flushed as a 0xFF block at
// once, and a final (possibly empty) block always ends the output.
template <typename Source, typename Emit>
size_t cobs_stream(const Source& src, size_t n, Emit& emit) {
  size_t written = 0;
  size_t i = 0;
  for (;;) {
    size_t j = i;
    while (j < n && src.at(j) != 0 && j - i < 254) ++j;
    emit(static_cast<uint8_t>(j - i + 1));
    for (size_t k = i; k < j; ++k) emit(src.at(k));
    written += 1 + (j - i);
    if (j - i == 254) {  // 0xFF block: no zero follows it
      i = j;
      continue;
    }
    if (j == n) break;
    i = j + 1;  // skip the zero this block stands for
  }
  return written;
}

struct ArraySource {
  const uint8_t* data;
  uint8_t at(size_t i) const { return data[i]; }
};

struct BufferEmit {
  uint8_t* out;
  size_t cap;
  size_t pos;
  bool overflow;
  void operator()(uint8_t b) {
    if (pos < cap) {
      out[pos++] = b;
    } else {
      overflow = true;
    }
  }
};

struct SinkEmit {
  ByteSink sink;
  void* ctx;
  void operator()(uint8_t b) { sink(ctx, b); }
};

void buffer_sink(void* ctx, uint8_t byte) { (*static_cast<BufferEmit*>(ctx))(byte); }

}  // namespace

size_t cobs_encode(const uint8_t* data, size_t len, uint8_t* out, size_t out_cap) {
  ArraySource src = {data};
  BufferEmit emit = {out, out_cap, 0, false};
  cobs_stream(src, len, emit);
  return emit.overflow ? 0 : emit.pos;
}

bool cobs_decode(const uint8_t* data, size_t len, uint8_t* out, size_t out_cap,
                 size_t* out_len) {
  size_t i = 0, o = 0;
  while (i < len) {
    uint8_t code = data[i];
    if (code == 0 || code > len - i) return false;  // i + code > len, without overflow
    // Read data[i+1 .. i+code-1] before writing out[o..]: o <= i, so in place is safe.
    for (size_t k = 1; k < code; ++k) {
      if (o >= out_cap) return false;
      out[o++] = data[i + k];
    }
    i += code;
    if (code != 0xFF && i < len) {
      if (o >= out_cap) return false;
      out[o++] = 0;
    }
  }
  *out_len = o;
  return true;
}

size_t write_frame(uint8_t type, uint16_t seq, const Payload& payload, ByteSink sink,
                   void* ctx) {
  if (payload.first_len + payload.second_len > MAX_PAYLOAD) return 0;
  RawFrame raw(type, seq, payload);
  SinkEmit emit = {sink, ctx};
  emit(0);  // leading delimiter: ends any line noise so it cannot merge into this frame
  size_t n = cobs_stream(raw, raw.size(), emit);
  emit(0);
  return n + 2;
}

size_t encode_frame(uint8_t type, uint16_t seq, const uint8_t* payload, size_t len,
                    uint8_t* out, size_t out_cap) {
  BufferEmit emit = {out, out_cap, 0, false};
  Payload p = {payload, len, 0, 0};
  size_t n = write_frame(type, seq, p, buffer_sink, &emit);
  return (n == 0 || emit.overflow) ? 0 : n;
}

bool payload_valid(uint8_t type, const uint8_t* p, size_t len) {
  switch (type) {
    case HELLO:
      return len >= 1 && len <= MAX_FIRMWARE_TEXT && text_valid(p, len);
    case HEARTBEAT:
      return len == 4;
    case ACK:
      return len == 2;
    case NAK:
      return len == 3 && p[2] >= NAK_UNKNOWN_TYPE && p[2] <= NAK_BUSY;
    case CARD_READ:
      return len >= MIN_UID && len <= MAX_UID;
    case QR_SCAN:
      return len >= 1 && len <= MAX_PAYLOAD && text_valid(p, len);
    case DOOR_CHANGED:
      return len == 1 && p[0] <= 1;
    case ALARM:
      return len == 2 && p[0] >= ALARM_FORCED_OPEN && p[0] <= ALARM_TAMPER && p[1] <= 1;
    case UNLOCK:
      return len == 2 && get_u16(p) >= 1;
    case FEEDBACK:
      return len >= 1 && p[0] <= BEEP_ERROR && len - 1 <= MAX_DISPLAY_TEXT &&
             text_valid(p + 1, len - 1);
    default:
      return false;
  }
}

bool parse_ack(const Frame& f, uint16_t* seq) {
  if (f.type != ACK || !payload_valid(f.type, f.payload, f.length)) return false;
  *seq = get_u16(f.payload);
  return true;
}

bool parse_nak(const Frame& f, uint16_t* seq, uint8_t* reason) {
  if (f.type != NAK || !payload_valid(f.type, f.payload, f.length)) return false;
  *seq = get_u16(f.payload);
  *reason = f.payload[2];
  return true;
}

bool parse_heartbeat(const Frame& f, uint32_t* uptime_s) {
  if (f.type != HEARTBEAT || !payload_valid(f.type, f.payload, f.length)) return false;
  *uptime_s = get_u32(f.payload);
  return true;
}

bool parse_door(const Frame& f, bool* open) {
  if (f.type != DOOR_CHANGED || !payload_valid(f.type, f.payload, f.length)) return false;
  *open = f.payload[0] == 1;
  return true;
}

bool parse_alarm(const Frame& f, uint8_t* kind, bool* active) {
  if (f.type != ALARM || !payload_valid(f.type, f.payload, f.length)) return false;
  *kind = f.payload[0];
  *active = f.payload[1] == 1;
  return true;
}

bool parse_unlock(const Frame& f, uint16_t* pulse_ms) {
  if (f.type != UNLOCK || !payload_valid(f.type, f.payload, f.length)) return false;
  *pulse_ms = get_u16(f.payload);
  return true;
}

bool parse_feedback(const Frame& f, uint8_t* beep, const uint8_t** text, size_t* text_len) {
  if (f.type != FEEDBACK || !payload_valid(f.type, f.payload, f.length)) return false;
  *beep = f.payload[0];
  *text = f.payload + 1;
  *text_len = static_cast<size_t>(f.length) - 1;
  return true;
}

Decoder::Decoder()
    : len_(0), skipping_(false), frame_(), reject_seq_(0), reject_reason_(0), stats_() {}

Decoder::Result Decoder::feed(uint8_t byte) {
  if (byte != 0) {
    if (skipping_) return NOTHING;
    if (len_ == MAX_COBS) {  // one byte more than any frame can be: never a frame
      ++stats_.oversize;
      len_ = 0;
      skipping_ = true;
      return NOTHING;
    }
    buf_[len_++] = byte;
    return NOTHING;
  }
  skipping_ = false;
  if (len_ == 0) return NOTHING;  // back-to-back delimiters: an empty block, ignored
  Result r = parse_block();
  len_ = 0;  // frame_.payload points into buf_ and is overwritten by the next feeds
  return r;
}

Decoder::Result Decoder::parse_block() {
  size_t block_len = len_;
  size_t raw_len = 0;
  if (!cobs_decode(buf_, block_len, buf_, sizeof buf_, &raw_len) || raw_len < MIN_RAW) {
    stats_.garbage_bytes += static_cast<uint32_t>(block_len);
    return NOTHING;
  }
  const uint8_t* raw = buf_;
  size_t body_len = raw_len - CRC_SIZE;
  if (crc16(raw, body_len) != get_u16(raw + body_len)) {
    ++stats_.bad_crc;  // the seq is not trustworthy either: no Nak
    return NOTHING;
  }
  uint8_t type = raw[1];
  uint16_t seq = get_u16(raw + 2);
  size_t length = raw[4];
  if (raw[0] != VERSION || length != body_len - HEADER_SIZE) {
    ++stats_.malformed;
    return NOTHING;
  }
  const uint8_t* payload = raw + HEADER_SIZE;
  if (!is_known_type(type)) {
    ++stats_.unknown_type;
    reject_seq_ = seq;
    reject_reason_ = NAK_UNKNOWN_TYPE;
    return REJECT;
  }
  if (!payload_valid(type, payload, length)) {
    ++stats_.malformed;
    if (type == ACK || type == NAK) return NOTHING;  // never answer an answer
    reject_seq_ = seq;
    reject_reason_ = NAK_BAD_PAYLOAD;
    return REJECT;
  }
  ++stats_.frames;
  frame_.type = type;
  frame_.seq = seq;
  frame_.payload = payload;
  frame_.length = static_cast<uint8_t>(length);
  return FRAME;
}

}  // namespace wire
