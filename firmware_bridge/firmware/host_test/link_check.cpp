// Drives the portable link state machine (link.cpp) and the controller's own decisions
// (hut_logic.cpp) with a clock the test moves, and checks what goes on the wire.
// Prints one line per check and a final "N passed, M failed"; exit 0 only if all passed.
#include <stdio.h>
#include <string.h>

#include <string>
#include <vector>

#include "../toolhut_controller/hut_logic.h"
#include "../toolhut_controller/link.h"
#include "../toolhut_controller/wire.h"
#include "check.h"

namespace {

typedef std::vector<uint8_t> Bytes;

// What the link wrote, as a UART would have carried it.
struct Wire {
  Bytes bytes;
  static void sink(void* ctx, uint8_t byte) { static_cast<Wire*>(ctx)->bytes.push_back(byte); }
  void clear() { bytes.clear(); }
};

// The frames in some written bytes, decoded by a separate decoder (the peer's view).
struct Seen {
  uint8_t type;
  uint16_t seq;
  Bytes payload;
};

std::vector<Seen> frames_in(const Bytes& bytes) {
  wire::Decoder decoder;
  std::vector<Seen> out;
  for (uint8_t b : bytes) {
    if (decoder.feed(b) == wire::Decoder::FRAME) {
      const wire::Frame& f = decoder.frame();
      Seen s = {f.type, f.seq, Bytes(f.payload, f.payload + f.length)};
      out.push_back(s);
    }
  }
  return out;
}

Bytes encode(uint8_t type, uint16_t seq, const Bytes& payload) {
  uint8_t out[wire::MAX_FRAME_BYTES];
  size_t n = wire::encode_frame(type, seq, payload.data(), payload.size(), out, sizeof out);
  return Bytes(out, out + n);
}

Bytes u16(uint16_t v) {
  uint8_t b[2];
  wire::put_u16(b, v);
  return Bytes(b, b + 2);
}

// Feeds bytes to the link; returns how many frames it delivered to the application.
int deliver(wire::Link* link, const Bytes& bytes, std::vector<Seen>* got = 0) {
  int delivered = 0;
  for (uint8_t b : bytes) {
    if (link->receive(b)) {
      ++delivered;
      if (got) {
        const wire::Frame& f = link->frame();
        Seen s = {f.type, f.seq, Bytes(f.payload, f.payload + f.length)};
        got->push_back(s);
      }
    }
  }
  return delivered;
}

bool is_answer(const std::vector<Seen>& seen, uint8_t type, uint16_t acked_seq) {
  return seen.size() == 1 && seen[0].type == type && seen[0].seq == 0 &&
         wire::get_u16(seen[0].payload.data()) == acked_seq;
}

const uint8_t CARD[] = {0x04, 0xA1, 0xB2, 0xC3};

void retransmit_and_give_up(Tally* t) {
  Wire w;
  wire::Link link(Wire::sink, &w);
  link.send(wire::CARD_READ, CARD, sizeof CARD);
  link.send(wire::DOOR_CHANGED, reinterpret_cast<const uint8_t*>("\x01"), 1);
  uint32_t now = 1000;
  link.poll(now);
  Bytes first = w.bytes;
  std::vector<Seen> seen = frames_in(first);
  t->check(seen.size() == 1 && seen[0].type == wire::CARD_READ && seen[0].seq == 1,
           "link: first frame goes out with seq 1");
  t->check(first == encode(wire::CARD_READ, 1, Bytes(CARD, CARD + 4)),
           "link: sent bytes equal encode_frame");
  w.clear();
  link.poll(now + 49);
  t->check(w.bytes.empty(), "link: nothing resent before the 50 ms ack timeout");
  link.poll(now + 50);
  t->check(w.bytes == first, "link: identical bytes resent at 50 ms");
  w.clear();
  link.poll(now + 100);
  link.poll(now + 150);
  t->check(w.bytes.size() == 2 * first.size() && link.stats().retransmits == 3,
           "link: 3 retries in all (4 transmissions)");
  w.clear();
  link.poll(now + 200);
  seen = frames_in(w.bytes);
  t->check(link.stats().gave_up == 1, "link: gives up after the last retry times out");
  t->check(seen.size() == 1 && seen[0].type == wire::DOOR_CHANGED && seen[0].seq == 2,
           "link: goes on with the next queued frame at once, seq 2");
  w.clear();
  deliver(&link, encode(wire::ACK, 0, u16(1)));
  t->check(link.in_flight() && link.in_flight_seq() == 2 && w.bytes.empty(),
           "link: a late Ack for a given-up seq is ignored and not answered");
  deliver(&link, encode(wire::ACK, 0, u16(2)));
  link.poll(now + 300);
  t->check(!link.in_flight() && link.idle() && w.bytes.empty(),
           "link: Ack of the frame in flight settles it; no resend after");
}

void nak_ends_frame(Tally* t) {
  Wire w;
  wire::Link link(Wire::sink, &w);
  link.send(wire::CARD_READ, CARD, sizeof CARD);
  link.poll(0);
  Bytes nak = u16(1);
  nak.push_back(wire::NAK_BUSY);
  deliver(&link, encode(wire::NAK, 0, nak));
  w.clear();
  link.poll(100);
  t->check(link.idle() && w.bytes.empty() && link.stats().nakked == 1 &&
               link.stats().retransmits == 0,
           "link: a Nak ends the frame at once, no retry");
}

void acks_and_duplicates(Tally* t) {
  Wire w;
  wire::Link link(Wire::sink, &w);
  Bytes unlock = encode(wire::UNLOCK, 5, u16(5000));
  t->check(deliver(&link, unlock) == 1, "link: new Unlock delivered");
  t->check(is_answer(frames_in(w.bytes), wire::ACK, 5), "link: Ack(5) sent for it");
  w.clear();
  t->check(deliver(&link, unlock) == 0 && link.stats().duplicates == 1,
           "link: same seq and content again: not delivered, counted duplicate");
  t->check(is_answer(frames_in(w.bytes), wire::ACK, 5), "link: the duplicate is acked again");
  w.clear();
  t->check(deliver(&link, encode(wire::UNLOCK, 5, u16(3000))) == 1,
           "link: same seq, other content (peer restarted): delivered");
  t->check(deliver(&link, encode(wire::UNLOCK, 6, u16(3000))) == 1,
           "link: same content, next seq: delivered");
  t->check(link.stats().received == 3, "link: received counts deliveries only");
  w.clear();
  // Garbage between frames changes nothing about duplicate detection.
  Bytes noisy = {0x11, 0x22};
  Bytes again = encode(wire::UNLOCK, 6, u16(3000));
  noisy.insert(noisy.end(), again.begin(), again.end());
  t->check(deliver(&link, noisy) == 0 && link.stats().duplicates == 2,
           "link: duplicate behind line noise still suppressed");
  // A restarted gateway's first Hello can equal its last one byte for byte: still answered.
  const char host[] = "host-0.1.0";
  Bytes hello = encode(wire::HELLO, 1, Bytes(host, host + sizeof host - 1));
  t->check(deliver(&link, hello) == 1 && deliver(&link, hello) == 1 &&
               link.stats().duplicates == 2,
           "link: a repeated Hello is delivered again, never counted duplicate");
}

void naks_for_bad_frames(Tally* t) {
  Wire w;
  wire::Link link(Wire::sink, &w);
  // Unknown type 0x7F with a good CRC: Nak UNKNOWN_TYPE with its seq.
  Bytes unknown = encode(0x7F, 4, Bytes(1, 0x01));
  t->check(deliver(&link, unknown) == 0, "link: unknown type not delivered");
  std::vector<Seen> seen = frames_in(w.bytes);
  t->check(seen.size() == 1 && seen[0].type == wire::NAK &&
               wire::get_u16(seen[0].payload.data()) == 4 &&
               seen[0].payload[2] == wire::NAK_UNKNOWN_TYPE,
           "link: Nak(4, UNKNOWN_TYPE) sent");
  w.clear();
  deliver(&link, encode(wire::UNLOCK, 9, u16(0)));  // pulse 0 is out of range
  seen = frames_in(w.bytes);
  t->check(seen.size() == 1 && seen[0].type == wire::NAK &&
               wire::get_u16(seen[0].payload.data()) == 9 &&
               seen[0].payload[2] == wire::NAK_BAD_PAYLOAD,
           "link: Nak(9, BAD_PAYLOAD) for Unlock(0)");
  w.clear();
  deliver(&link, encode(wire::ACK, 0, Bytes(3, 0x01)));  // an Ack with 3 bytes
  t->check(w.bytes.empty() && link.decoder_stats().malformed == 2,
           "link: a malformed Ack is counted, never answered");
  Bytes bad_crc = encode(wire::UNLOCK, 10, u16(500));
  bad_crc[bad_crc.size() - 2] ^= 0x01;
  deliver(&link, bad_crc);
  t->check(w.bytes.empty() && link.decoder_stats().bad_crc == 1,
           "link: bad CRC: no answer (seq not trustworthy)");
}

void refuses_what_it_must_not_send(Tally* t) {
  Wire w;
  wire::Link link(Wire::sink, &w);
  uint8_t ack[2] = {0, 1};
  bool ok = !link.send(wire::ACK, ack, 2);
  uint8_t bad_utf8[2] = {0xE5, 0xB7};
  ok &= !link.send(wire::QR_SCAN, bad_utf8, 2);
  ok &= !link.send(wire::CARD_READ, CARD, 3);
  t->check(ok && link.stats().dropped == 3 && link.idle(),
           "link: refuses Ack/Nak, bad UTF-8, short UID");

  // Fill the queue with maximum-length scans until it refuses one.
  uint8_t scan[wire::MAX_PAYLOAD];
  memset(scan, 'q', sizeof scan);
  size_t queued = 0;
  while (link.send(wire::QR_SCAN, scan, sizeof scan)) ++queued;
  t->check(queued == WIRE_LINK_QUEUE_BYTES / (2 + wire::MAX_PAYLOAD) &&
               link.stats().dropped == 4,
           "link: a full queue refuses (counted dropped), never overwrites",
           "queued " + std::to_string(queued));
}

void ring_wrap_keeps_bytes(Tally* t) {
  // Frames of awkward sizes go round the ring many times; each must arrive intact.
  Wire w;
  wire::Link link(Wire::sink, &w);
  uint32_t now = 0;
  bool ok = true;
  for (int i = 0; i < 200 && ok; ++i) {
    size_t len = 1 + (static_cast<size_t>(i) * 37) % wire::MAX_PAYLOAD;
    Bytes text(len, static_cast<uint8_t>('a' + i % 26));
    ok &= link.send(wire::QR_SCAN, text.data(), len);
    w.clear();
    link.poll(now += 1);
    std::vector<Seen> seen = frames_in(w.bytes);
    ok &= seen.size() == 1 && seen[0].payload == text &&
          seen[0].seq == static_cast<uint16_t>(i + 1);
    ok &= w.bytes == encode(wire::QR_SCAN, static_cast<uint16_t>(i + 1), text);
    deliver(&link, encode(wire::ACK, 0, u16(static_cast<uint16_t>(i + 1))));
  }
  t->check(ok && link.idle(), "link: 200 frames through the ring arrive byte-exact");
}

void seq_wraps_to_one(Tally* t) {
  Wire w;
  wire::Link link(Wire::sink, &w);
  uint8_t open = 1;
  uint16_t last = 0;
  for (uint32_t i = 0; i < 65536; ++i) {  // seq 1..65535, then 1 again
    link.send(wire::DOOR_CHANGED, &open, 1);
    link.poll(i);
    last = link.in_flight_seq();
    if (i == 65534 && last != 65535) break;
    deliver(&link, encode(wire::ACK, 0, u16(last)));
  }
  t->check(last == 1 && link.stats().sent == 65536, "link: seq 65535 is followed by 1, never 0",
           "last seq " + std::to_string(last));
}

void millis_wraparound(Tally* t) {
  Wire w;
  wire::Link link(Wire::sink, &w);
  link.send(wire::CARD_READ, CARD, sizeof CARD);
  link.poll(0xFFFFFFF0u);
  w.clear();
  link.poll(0x00000010u);  // 32 ms later, across the wrap
  bool quiet = w.bytes.empty();
  link.poll(0x00000022u);  // 50 ms later
  t->check(quiet && !w.bytes.empty() && link.stats().retransmits == 1,
           "link: ack timeout measured correctly across the millis() wrap");
}

// -- hut logic -------------------------------------------------------------------------

void door_guard(Tally* t) {
  hut::DoorGuard g(60000, 30);
  g.begin(0, false);
  uint32_t now = 1000;
  g.unlock(now, 5000);
  t->check(g.lock_released(now) && g.lock_released(now + 4999) && !g.lock_released(now + 5000),
           "door: lock released for exactly the pulse, then relocked on its own timer");
  uint8_t ev = g.update(now + 1000, true);
  t->check(ev == 0, "door: a reed change is not believed before the debounce");
  ev = g.update(now + 1030, true);
  t->check(ev == hut::EV_DOOR_OPENED, "door: opened during the pulse: no forced-open alarm");
  ev = g.update(now + 1030 + 59999, true);
  t->check(ev == 0 && !g.lock_released(now + 60000), "door: no held-open alarm before 60 s");
  ev = g.update(now + 1030 + 60000, true);
  t->check(ev == hut::EV_HELD_RAISED, "door: held-open raised at 60 s");
  t->check(g.update(now + 1030 + 90000, true) == 0, "door: raised once, not repeated");
  g.update(now + 100000, false);
  ev = g.update(now + 100030, false);
  t->check(ev == (hut::EV_DOOR_CLOSED | hut::EV_HELD_CLEARED),
           "door: closing clears held-open");

  now = 200000;
  g.update(now, true);
  ev = g.update(now + 30, true);
  t->check(ev == (hut::EV_DOOR_OPENED | hut::EV_FORCED_RAISED),
           "door: opened while locked: forced-open raised");
  g.update(now + 40, false);  // a bounce shorter than the debounce
  ev = g.update(now + 50, true);
  t->check(ev == 0 && g.door_open(), "door: a bounce does not close the door");
  g.update(now + 1000, false);
  ev = g.update(now + 1030, false);
  t->check(ev == (hut::EV_DOOR_CLOSED | hut::EV_FORCED_CLEARED),
           "door: closing clears forced-open");

  hut::DoorGuard r(60000, 30);
  r.begin(0, false);
  t->check(r.state_report() == hut::EV_DOOR_CLOSED, "door: report at hello: closed");
  r.update(10, true);
  r.update(40, true);  // opened while locked: forced open
  t->check(r.state_report() == (hut::EV_DOOR_OPENED | hut::EV_FORCED_RAISED),
           "door: report at hello: open, and the forced-open alarm still raised");
  r.update(40 + 60000, true);
  uint8_t before = r.state_report();
  t->check(before == (hut::EV_DOOR_OPENED | hut::EV_FORCED_RAISED | hut::EV_HELD_RAISED) &&
               r.update(40 + 60001, true) == 0,
           "door: report at hello: both alarms; reporting raises nothing again");
  hut::DoorGuard b(60000, 30);
  b.begin(0, true);
  t->check(b.state_report() == hut::EV_DOOR_OPENED, "door: open at boot: reported open, no alarm");

  hut::DoorGuard h(60000, 30);
  h.begin(0, false);
  h.unlock(0, 5000);
  h.unlock(1000, 1000);  // shorter than what is left: keeps the longer pulse
  bool kept = h.lock_released(4999);
  h.unlock(4000, 3000);  // longer than what is left: extends
  t->check(kept && h.lock_released(6999) && !h.lock_released(7000),
           "door: a second Unlock never shortens the running pulse");

  hut::DoorGuard w(60000, 30);
  w.begin(0xFFFFFF00u, false);
  w.unlock(0xFFFFFF00u, 1000);
  t->check(w.lock_released(0x000002E7u) && !w.lock_released(0x000002E8u),
           "door: pulse timed correctly across the millis() wrap");
}

hut::ScanBuffer::Result feed_text(hut::ScanBuffer* s, const std::string& text, uint32_t now) {
  hut::ScanBuffer::Result last = hut::ScanBuffer::NOTHING;
  for (char c : text) {
    hut::ScanBuffer::Result r = s->feed(static_cast<uint8_t>(c), now);
    if (r != hut::ScanBuffer::NOTHING) last = r;
  }
  return last;
}

void scan_buffer(Tally* t) {
  hut::ScanBuffer s(100);
  hut::ScanBuffer::Result r = feed_text(&s, "item:42\r\n", 0);
  t->check(r == hut::ScanBuffer::READY && s.length() == 7 &&
               memcmp(s.text(), "item:42", 7) == 0,
           "scan: CR LF ends a scan; the LF adds no empty scan");
  std::string longest(255, 'x');
  t->check(feed_text(&s, longest + "\n", 10) == hut::ScanBuffer::READY && s.length() == 255,
           "scan: 255 bytes is sent whole");
  t->check(feed_text(&s, longest + "y\n", 20) == hut::ScanBuffer::DROPPED && s.dropped() == 1,
           "scan: 256 bytes is dropped, not truncated");
  t->check(feed_text(&s, "ok\n", 30) == hut::ScanBuffer::READY && s.length() == 2,
           "scan: the next scan after a drop is whole");
  t->check(feed_text(&s, "\xE7\x94\n", 40) == hut::ScanBuffer::DROPPED,
           "scan: cut-off UTF-8 is dropped");
  t->check(feed_text(&s, std::string("T0\x00" "01\n", 6), 42) == hut::ScanBuffer::DROPPED &&
               feed_text(&s, "T\xC2\x85" "1\n", 44) == hut::ScanBuffer::DROPPED &&
               feed_text(&s, "T\t1\n", 46) == hut::ScanBuffer::DROPPED,
           "scan: a label with a control character (NUL, C1 NEL, tab) is dropped");
  feed_text(&s, "A-17", 50);
  t->check(s.poll(149) == hut::ScanBuffer::NOTHING && s.poll(150) == hut::ScanBuffer::READY &&
               s.length() == 4,
           "scan: without a suffix, 100 ms of silence ends the scan");
}

}  // namespace

int main() {
  Tally t;
  retransmit_and_give_up(&t);
  nak_ends_frame(&t);
  acks_and_duplicates(&t);
  naks_for_bad_frames(&t);
  refuses_what_it_must_not_send(&t);
  ring_wrap_keeps_bytes(&t);
  seq_wraps_to_one(&t);
  millis_wraparound(&t);
  door_guard(&t);
  scan_buffer(&t);
  return t.finish();
}
