// Links the portable firmware parts for an ATmega328P (Arduino Nano) the way the sketch
// holds them, so avr-size can show their static RAM. The Nano has 2048 bytes in all, and
// the Arduino core, SoftwareSerial, MFRC522 and the stack need the rest. Built only by
// the test when avr-g++ is installed; never flashed.
#include "../toolhut_controller/hut_logic.h"
#include "../toolhut_controller/link.h"

namespace {
volatile uint8_t* const UDR0 = reinterpret_cast<volatile uint8_t*>(0xC6);
void uart_sink(void*, uint8_t byte) { *UDR0 = byte; }
}  // namespace

wire::Link hostLink(uart_sink, 0);
hut::DoorGuard door;
hut::ScanBuffer scan;

int main() {
  // Touch every part from a loop the optimizer cannot drop, as the sketch's loop() does.
  uint32_t now = 0;
  for (;;) {
    uint8_t byte = *UDR0;
    uint16_t pulse_ms = 0;
    if (hostLink.receive(byte) && wire::parse_unlock(hostLink.frame(), &pulse_ms)) {
      door.unlock(now, pulse_ms);
    }
    if (scan.feed(byte, now) == hut::ScanBuffer::READY) {
      hostLink.send(wire::QR_SCAN, scan.text(), scan.length());
    }
    *UDR0 = static_cast<uint8_t>(door.update(now, byte & 1) | door.lock_released(now));
    hostLink.poll(now++);
  }
}
