// Serial wire v1 reliability layer; see link.h and docs/serial-protocol.md.
#include "link.h"

#include <string.h>

namespace wire {

Link::Link(ByteSink sink, void* ctx, uint16_t ack_timeout_ms, uint8_t retries)
    : sink_(sink),
      ctx_(ctx),
      ack_timeout_ms_(ack_timeout_ms),
      retries_(retries),
      decoder_(),
      queue_(),
      head_(0),
      used_(0),
      inflight_(false),
      inflight_seq_(0),
      inflight_retries_(0),
      sent_at_ms_(0),
      next_seq_(1),
      have_last_(false),
      last_type_(0),
      last_seq_(0),
      last_len_(0),
      last_payload_(),
      stats_() {}

bool Link::send(uint8_t type, const uint8_t* payload, size_t len) {
  bool ok = type != ACK && type != NAK && payload_valid(type, payload, len) &&
            RECORD_HEADER + len <= QUEUE_BYTES - used_;
  if (!ok) {
    ++stats_.dropped;
    return false;
  }
  size_t tail = (head_ + used_) % QUEUE_BYTES;
  queue_[tail] = type;
  queue_[(tail + 1) % QUEUE_BYTES] = static_cast<uint8_t>(len);
  for (size_t i = 0; i < len; ++i) queue_[(tail + RECORD_HEADER + i) % QUEUE_BYTES] = payload[i];
  used_ += RECORD_HEADER + len;
  return true;
}

bool Link::receive(uint8_t byte) {
  switch (decoder_.feed(byte)) {
    case Decoder::FRAME: {
      bool deliver = false;
      handle(decoder_.frame(), &deliver);
      return deliver;
    }
    case Decoder::REJECT: {
      uint8_t nak[3];
      put_u16(nak, decoder_.reject_seq());
      nak[2] = decoder_.reject_reason();
      answer(NAK, 0, nak, sizeof nak);
      return false;
    }
    default:
      return false;
  }
}

void Link::handle(const Frame& f, bool* deliver) {
  uint16_t seq = 0;
  uint8_t reason = 0;
  if (parse_ack(f, &seq)) {
    settle(seq, true);
    return;
  }
  if (parse_nak(f, &seq, &reason)) {
    settle(seq, false);
    return;
  }
  uint8_t ack[2];
  put_u16(ack, f.seq);
  answer(ACK, 0, ack, sizeof ack);
  // Same seq and same content: a retransmission whose Ack was lost. Comparing content
  // too means a gateway that restarted (its seq begins at 1 again) is heard at once.
  if (is_duplicate(f)) {
    ++stats_.duplicates;
    return;
  }
  remember(f);
  ++stats_.received;
  *deliver = true;
}

void Link::settle(uint16_t seq, bool acked) {
  // An answer for a seq not in flight (late, or a second Ack) is ignored, as in link.py.
  if (!inflight_ || seq != inflight_seq_) return;
  if (!acked) ++stats_.nakked;  // a Nak ends the frame at once: no retry
  pop_head();
}

void Link::poll(uint32_t now_ms) {
  if (inflight_) {
    if (static_cast<uint32_t>(now_ms - sent_at_ms_) < ack_timeout_ms_) return;
    if (inflight_retries_ < retries_) {
      ++inflight_retries_;
      ++stats_.retransmits;
      transmit_head();  // identical bytes: same seq, same payload
      sent_at_ms_ = now_ms;
      return;
    }
    ++stats_.gave_up;
    pop_head();  // and go on with the next frame right away
  }
  if (used_ == 0) return;
  inflight_ = true;
  inflight_seq_ = take_seq();
  inflight_retries_ = 0;
  ++stats_.sent;
  transmit_head();
  sent_at_ms_ = now_ms;
}

void Link::transmit_head() {
  size_t len = queue_at(1);
  size_t start = (head_ + RECORD_HEADER) % QUEUE_BYTES;
  // The payload may wrap around the end of the ring: hand it over in two pieces.
  size_t first = len < QUEUE_BYTES - start ? len : QUEUE_BYTES - start;
  Payload p = {queue_ + start, first, queue_, len - first};
  write_frame(queue_at(0), inflight_seq_, p, sink_, ctx_);
}

void Link::pop_head() {
  size_t size = RECORD_HEADER + queue_at(1);
  head_ = (head_ + size) % QUEUE_BYTES;
  used_ -= size;
  inflight_ = false;
}

void Link::answer(uint8_t type, uint16_t seq, const uint8_t* payload, size_t len) {
  Payload p = {payload, len, 0, 0};
  write_frame(type, seq, p, sink_, ctx_);
}

uint16_t Link::take_seq() {
  uint16_t seq = next_seq_;
  next_seq_ = seq == MAX_SEQ ? 1 : static_cast<uint16_t>(seq + 1);  // 0 is for Ack/Nak
  return seq;
}

bool Link::is_duplicate(const Frame& f) const {
  // A Hello is never a duplicate: a gateway that restarted sends a Hello byte-identical to
  // its last one, and it must still be answered.
  return f.type != HELLO && have_last_ && f.seq == last_seq_ && f.type == last_type_ && f.length == last_len_ &&
         memcmp(f.payload, last_payload_, f.length) == 0;
}

void Link::remember(const Frame& f) {
  have_last_ = true;
  last_type_ = f.type;
  last_seq_ = f.seq;
  last_len_ = f.length;
  memcpy(last_payload_, f.payload, f.length);
}

}  // namespace wire
