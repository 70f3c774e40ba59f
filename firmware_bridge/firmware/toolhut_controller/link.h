// Serial wire v1 reliability layer for the hut controller: sequence numbers, acks,
// retransmission, duplicate suppression. The C++ twin of firmware_bridge/link.py.
//
// Portable like wire.h (no Arduino headers, no heap). Time comes in as a millis() value
// passed to poll(), so the host tests move the clock instead of sleeping.
#ifndef TOOLHUT_LINK_H
#define TOOLHUT_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

// Bytes of send queue (records of type, length, payload). An AVR has 2 KB of RAM in all;
// 320 bytes still hold one maximum-length QR scan plus a few small frames behind it.
#ifndef WIRE_LINK_QUEUE_BYTES
#if defined(__AVR__)
#define WIRE_LINK_QUEUE_BYTES 320
#else
#define WIRE_LINK_QUEUE_BYTES 1024
#endif
#endif

namespace wire {

const uint16_t DEFAULT_ACK_TIMEOUT_MS = 50;  // link.py: ack_timeout=0.05
const uint8_t DEFAULT_RETRIES = 3;            // link.py: retries=3, four transmissions in all

// Counters as in link.LinkStats, plus `dropped` (send() refused: queue full or bad frame),
// which link.py reports by resolving the future False instead.
struct LinkStats {
  uint32_t sent;         // frames sent for the first time (acks and naks not counted)
  uint32_t retransmits;
  uint32_t gave_up;
  uint32_t nakked;       // our frames the peer refused
  uint32_t received;     // frames delivered to the application
  uint32_t duplicates;
  uint32_t dropped;
};

// Stop-and-wait: at most one unacknowledged frame in flight, the rest queued in order.
// Single-threaded by design: the sketch's loop() calls receive() for every byte read and
// poll() on every pass; each frame goes to the sink whole, so an Ack never lands inside
// another frame's bytes.
class Link {
 public:
  Link(ByteSink sink, void* ctx, uint16_t ack_timeout_ms = DEFAULT_ACK_TIMEOUT_MS,
       uint8_t retries = DEFAULT_RETRIES);

  // Queues a frame for reliable delivery. False (and counted `dropped`) for Ack/Nak (the
  // link sends those itself), a payload that fails payload_valid(), or a full queue.
  bool send(uint8_t type, const uint8_t* payload, size_t len);

  // One received byte. Acks/naks every good frame at once, before it is handled. True
  // when frame() holds a new frame for the application (not an Ack/Nak, not a duplicate);
  // it stays valid until the next receive().
  bool receive(uint8_t byte);
  const Frame& frame() const { return decoder_.frame(); }

  // Transmits the next queued frame, retransmits on ack timeout, gives up after the
  // retries. Call often; `now_ms` may wrap around (unsigned arithmetic).
  void poll(uint32_t now_ms);

  bool idle() const { return used_ == 0; }  // nothing in flight, nothing queued
  bool in_flight() const { return inflight_; }
  uint16_t in_flight_seq() const { return inflight_ ? inflight_seq_ : 0; }
  const LinkStats& stats() const { return stats_; }
  const DecoderStats& decoder_stats() const { return decoder_.stats(); }

 private:
  static const size_t QUEUE_BYTES = WIRE_LINK_QUEUE_BYTES;
  static const size_t RECORD_HEADER = 2;  // type, length

  void handle(const Frame& f, bool* deliver);
  void settle(uint16_t seq, bool acked);
  void answer(uint8_t type, uint16_t seq, const uint8_t* payload, size_t len);
  void transmit_head();
  void pop_head();
  uint8_t queue_at(size_t offset) const { return queue_[(head_ + offset) % QUEUE_BYTES]; }
  uint16_t take_seq();
  bool is_duplicate(const Frame& f) const;
  void remember(const Frame& f);

  ByteSink sink_;
  void* ctx_;
  uint16_t ack_timeout_ms_;
  uint8_t retries_;
  Decoder decoder_;

  uint8_t queue_[QUEUE_BYTES];  // ring of records; the head record is the one in flight
  size_t head_;
  size_t used_;
  bool inflight_;
  uint16_t inflight_seq_;
  uint8_t inflight_retries_;
  uint32_t sent_at_ms_;
  uint16_t next_seq_;

  // The last frame delivered, for duplicate suppression (same seq AND same content).
  bool have_last_;
  uint8_t last_type_;
  uint16_t last_seq_;
  uint8_t last_len_;
  uint8_t last_payload_[MAX_PAYLOAD];

  LinkStats stats_;
};

}  // namespace wire

#endif  // TOOLHUT_LINK_H
