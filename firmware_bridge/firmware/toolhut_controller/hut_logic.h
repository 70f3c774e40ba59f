// The controller's own decisions, kept apart from pins and libraries so they can be
// host-tested: when the lock is released, when the door counts as forced or held open,
// and where one QR scan ends. Portable like wire.h: no Arduino headers, no heap.
#ifndef TOOLHUT_HUT_LOGIC_H
#define TOOLHUT_HUT_LOGIC_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

namespace hut {

// Events DoorGuard::update() reports, as bits. The sketch turns each into a frame, in
// the order of the bits (a door change before the alarms it causes or clears).
enum DoorEvent {
  EV_DOOR_OPENED = 1 << 0,
  EV_DOOR_CLOSED = 1 << 1,
  EV_FORCED_RAISED = 1 << 2,
  EV_HELD_RAISED = 1 << 3,
  EV_FORCED_CLEARED = 1 << 4,
  EV_HELD_CLEARED = 1 << 5,
};

// Lock and door supervision, fail-secure: the lock is
// released only for the pulse the gateway asked for, timed here, so a gateway that dies
// mid-command cannot leave the door open; and the alarms are decided here, so they are
// raised (and queued for the gateway) even while the gateway is dead.
class DoorGuard {
 public:
  static const uint32_t DEFAULT_HELD_OPEN_MS = 60000;
  static const uint16_t DEFAULT_DEBOUNCE_MS = 30;

  explicit DoorGuard(uint32_t held_open_ms = DEFAULT_HELD_OPEN_MS,
                     uint16_t debounce_ms = DEFAULT_DEBOUNCE_MS);

  // The first stable reed reading after boot. No event: an open door at boot was not
  // forced in our sight, but the held-open timer starts.
  void begin(uint32_t now_ms, bool door_open);

  // Releases the lock for pulse_ms from now. A second Unlock while released restarts the
  // pulse from the later command (never shortens it below what that command asked).
  void unlock(uint32_t now_ms, uint16_t pulse_ms);

  // Feed the raw reed reading on every loop pass; returns DoorEvent bits.
  uint8_t update(uint32_t now_ms, bool raw_door_open);

  // Whether the lock relay should be energized now. Recomputed from the clock on every
  // call, so a loop that stalls still relocks as soon as it runs again.
  bool lock_released(uint32_t now_ms) const;
  // What the controller says right after each Hello it sends: where the door is now
  // (EV_DOOR_OPENED or EV_DOOR_CLOSED) and every alarm still raised (EV_*_RAISED), as the
  // same bits update() returns, so the sketch sends them the same way. A gateway that
  // (re)starts thus knows the door without waiting for it to move. Changes nothing.
  uint8_t state_report() const;
  bool door_open() const { return door_open_; }
  bool forced_active() const { return forced_active_; }
  bool held_active() const { return held_active_; }

 private:
  uint32_t held_open_ms_;
  uint16_t debounce_ms_;
  bool released_;
  uint32_t release_start_ms_;
  uint32_t release_ms_;
  bool door_open_;       // debounced
  bool raw_;             // last raw reading
  uint32_t raw_since_ms_;
  uint32_t opened_at_ms_;
  bool forced_active_;
  bool held_active_;
};

// Assembles one QR scan from a UART scanner that ends each scan with CR and/or LF (and,
// for scanners set up without a suffix, with a pause). A scan longer than the wire
// allows (255 bytes) or not valid UTF-8 is dropped whole: never sent truncated.
class ScanBuffer {
 public:
  enum Result { NOTHING, READY, DROPPED };
  static const uint16_t DEFAULT_IDLE_END_MS = 100;

  explicit ScanBuffer(uint16_t idle_end_ms = DEFAULT_IDLE_END_MS);
  Result feed(uint8_t byte, uint32_t now_ms);
  // Ends a scan that has been quiet for idle_end_ms. Call on every loop pass.
  Result poll(uint32_t now_ms);
  // The scan after READY; valid until the next feed().
  const uint8_t* text() const { return text_; }
  size_t length() const { return ready_len_; }
  uint32_t dropped() const { return dropped_; }

 private:
  Result finish();

  uint16_t idle_end_ms_;
  uint8_t text_[wire::MAX_PAYLOAD];
  size_t len_;
  size_t ready_len_;
  bool overflow_;
  uint32_t last_byte_ms_;
  uint32_t dropped_;
};

}  // namespace hut

#endif  // TOOLHUT_HUT_LOGIC_H
