// The controller's own decisions; see hut_logic.h.
#include "hut_logic.h"

namespace hut {

namespace {
// millis() wraps after 49.7 days; unsigned differences stay right across the wrap.
uint32_t since(uint32_t now_ms, uint32_t then_ms) { return now_ms - then_ms; }
}  // namespace

DoorGuard::DoorGuard(uint32_t held_open_ms, uint16_t debounce_ms)
    : held_open_ms_(held_open_ms),
      debounce_ms_(debounce_ms),
      released_(false),
      release_start_ms_(0),
      release_ms_(0),
      door_open_(false),
      raw_(false),
      raw_since_ms_(0),
      opened_at_ms_(0),
      forced_active_(false),
      held_active_(false) {}

void DoorGuard::begin(uint32_t now_ms, bool door_open) {
  door_open_ = raw_ = door_open;
  raw_since_ms_ = opened_at_ms_ = now_ms;
}

void DoorGuard::unlock(uint32_t now_ms, uint16_t pulse_ms) {
  if (lock_released(now_ms)) {
    uint32_t left = release_ms_ - since(now_ms, release_start_ms_);
    if (left > pulse_ms) return;  // the running pulse already lasts longer
  }
  released_ = true;
  release_start_ms_ = now_ms;
  release_ms_ = pulse_ms;
}

bool DoorGuard::lock_released(uint32_t now_ms) const {
  return released_ && since(now_ms, release_start_ms_) < release_ms_;
}

uint8_t DoorGuard::state_report() const {
  uint8_t events = door_open_ ? EV_DOOR_OPENED : EV_DOOR_CLOSED;
  if (forced_active_) events |= EV_FORCED_RAISED;
  if (held_active_) events |= EV_HELD_RAISED;
  return events;
}

uint8_t DoorGuard::update(uint32_t now_ms, bool raw_door_open) {
  uint8_t events = 0;
  if (released_ && !lock_released(now_ms)) released_ = false;  // pulse over: relocked

  if (raw_door_open != raw_) {  // the reed bounced or moved: start the debounce again
    raw_ = raw_door_open;
    raw_since_ms_ = now_ms;
  }
  if (raw_ != door_open_ && since(now_ms, raw_since_ms_) >= debounce_ms_) {
    door_open_ = raw_;
    if (door_open_) {
      events |= EV_DOOR_OPENED;
      opened_at_ms_ = now_ms;
      // Judged at the moment the reed settled open; the debounce (tens of ms) is far
      // shorter than any unlock pulse, so a legitimate entry is never flagged.
      if (!released_ && !forced_active_) {
        forced_active_ = true;
        events |= EV_FORCED_RAISED;
      }
    } else {
      events |= EV_DOOR_CLOSED;
      if (forced_active_) events |= EV_FORCED_CLEARED;
      if (held_active_) events |= EV_HELD_CLEARED;
      forced_active_ = held_active_ = false;
    }
  }
  if (door_open_ && !held_active_ && since(now_ms, opened_at_ms_) >= held_open_ms_) {
    held_active_ = true;
    events |= EV_HELD_RAISED;
  }
  return events;
}

ScanBuffer::ScanBuffer(uint16_t idle_end_ms)
    : idle_end_ms_(idle_end_ms),
      text_(),
      len_(0),
      ready_len_(0),
      overflow_(false),
      last_byte_ms_(0),
      dropped_(0) {}

ScanBuffer::Result ScanBuffer::feed(uint8_t byte, uint32_t now_ms) {
  last_byte_ms_ = now_ms;
  if (byte == '\r' || byte == '\n') return finish();
  if (len_ < sizeof text_) {
    text_[len_++] = byte;
  } else {
    overflow_ = true;  // keep swallowing until the scan ends, then drop it all
  }
  return NOTHING;
}

ScanBuffer::Result ScanBuffer::poll(uint32_t now_ms) {
  if ((len_ == 0 && !overflow_) || since(now_ms, last_byte_ms_) < idle_end_ms_) {
    return NOTHING;
  }
  return finish();
}

ScanBuffer::Result ScanBuffer::finish() {
  // The LF of a CR LF pair, or a stray terminator: no scan, and the last one stays readable.
  if (len_ == 0 && !overflow_) return NOTHING;
  bool ok = !overflow_ && wire::text_valid(text_, len_);
  ready_len_ = ok ? len_ : 0;
  len_ = 0;
  overflow_ = false;
  if (!ok) {
    ++dropped_;
    return DROPPED;
  }
  return READY;
}

}  // namespace hut
