// Tool hut controller: RC522 card reader, UART QR scanner, door reed switch, lock relay
// and buzzer, talking serial wire v1 (docs/serial-protocol.md) to the hut gateway.
//
// This file is hardware glue only. The wire (wire.cpp), the link with its acks and
// retries (link.cpp) and the lock/door/scan decisions (hut_logic.cpp) are portable C++
// that the host tests compile with g++; see ../README.md.
//
// Boards: ESP32 DevKit (recommended) or Arduino Nano (ATmega328P). Library: MFRC522
// (miguelbalboa/rfid). Written as plain C++ (functions defined before use), so it does
// not depend on the Arduino IDE generating prototypes.
#include <Arduino.h>
#include <MFRC522.h>
#include <SPI.h>

#include "hut_logic.h"
#include "link.h"
#include "wire.h"

#if defined(ESP32)
// SPI for the RC522 on the VSPI defaults: SCK 18, MISO 19, MOSI 23.
const uint8_t PIN_RC522_SS = 5;
const uint8_t PIN_RC522_RST = 22;
const uint8_t PIN_QR_RX = 16;  // ESP32 RX2 <- scanner TX
const uint8_t PIN_QR_TX = 17;  // ESP32 TX2 -> scanner RX (unused, wired for set-up codes)
const uint8_t PIN_REED = 27;
const uint8_t PIN_RELAY = 26;
const uint8_t PIN_BUZZER = 25;
#define QR_SERIAL Serial2
#elif defined(__AVR__)
#include <SoftwareSerial.h>
#include <avr/wdt.h>
// SPI for the RC522 on the Nano's hardware pins: SCK 13, MISO 12, MOSI 11.
const uint8_t PIN_RC522_SS = 10;
const uint8_t PIN_RC522_RST = 9;
const uint8_t PIN_QR_RX = 4;  // Nano D4 <- scanner TX
const uint8_t PIN_QR_TX = 5;
const uint8_t PIN_REED = 2;
const uint8_t PIN_RELAY = 7;
const uint8_t PIN_BUZZER = 6;
// The only hardware UART goes to the gateway; the scanner gets a software one.
SoftwareSerial qrSerial(PIN_QR_RX, PIN_QR_TX);
#define QR_SERIAL qrSerial
#else
#error "Board not supported: add its pins above (ESP32 and AVR are)."
#endif

const char FIRMWARE[] = "toolhut-ctl-1.0.0";  // sent in Hello: 1..64 bytes of UTF-8
const uint32_t HOST_BAUD = 115200;
const uint32_t QR_BAUD = 9600;  // the common factory setting of UART QR modules
const uint32_t HEARTBEAT_MS = 2000;  // as the emulator; the gateway's dead-timeout is a few of these
const uint32_t HELD_OPEN_MS = 60000;
const uint32_t CARD_POLL_MS = 50;  // each RC522 poll is a few SPI transactions: not every pass
const uint32_t CARD_REPEAT_MS = 1500;  // a card left on the reader is one tap, not many
// Relay module input level that releases the lock. With a fail-secure strike (locked when
// unpowered), a reset, brown-out or cut wire leaves the door locked.
const uint8_t RELAY_RELEASE = HIGH;
const uint8_t RELAY_ENGAGE = LOW;

MFRC522 rfid(PIN_RC522_SS, PIN_RC522_RST);

void write_host_byte(void*, uint8_t byte) { Serial.write(byte); }

wire::Link hostLink(write_host_byte, 0);
hut::DoorGuard door(HELD_OPEN_MS);
hut::ScanBuffer scan;

// Uptime in whole seconds, counted so it keeps rising past millis()'s 49-day wrap: the
// gateway reads an uptime that goes backwards as a reboot.
uint32_t uptimeS = 0;
uint32_t uptimeMarkMs = 0;
uint32_t lastHeartbeatMs = 0;
uint32_t lastCardPollMs = 0;
uint32_t lastCardMs = 0;
uint8_t lastUid[wire::MAX_UID];
uint8_t lastUidLen = 0;

// -- buzzer: short patterns played from the loop, never with delay() ------------------------

// On/off step lengths in ms; a pattern ends at its first 0.
const uint16_t BEEP_OK_PATTERN[] = {120, 0};
const uint16_t BEEP_ERROR_PATTERN[] = {80, 80, 80, 80, 80, 0};

const uint16_t* beepPattern = 0;
uint8_t beepStep = 0;
uint32_t beepStepStartMs = 0;

void beep(uint8_t kind, uint32_t now) {
  if (kind == wire::BEEP_OK) {
    beepPattern = BEEP_OK_PATTERN;
  } else if (kind == wire::BEEP_ERROR) {
    beepPattern = BEEP_ERROR_PATTERN;
  } else {
    return;
  }
  beepStep = 0;
  beepStepStartMs = now;
  digitalWrite(PIN_BUZZER, HIGH);
}

void update_buzzer(uint32_t now) {
  if (beepPattern == 0 || now - beepStepStartMs < beepPattern[beepStep]) return;
  ++beepStep;
  beepStepStartMs = now;
  if (beepPattern[beepStep] == 0) {
    beepPattern = 0;
    digitalWrite(PIN_BUZZER, LOW);
    return;
  }
  digitalWrite(PIN_BUZZER, (beepStep % 2 == 0) ? HIGH : LOW);  // even steps sound
}

// -- frames to the gateway ------------------------------------------------------------------

void send_hello() {
  hostLink.send(wire::HELLO, reinterpret_cast<const uint8_t*>(FIRMWARE), sizeof FIRMWARE - 1);
}

void send_door(bool open) {
  uint8_t payload = open ? 1 : 0;
  hostLink.send(wire::DOOR_CHANGED, &payload, 1);
}

void send_alarm(uint8_t kind, bool active) {
  uint8_t payload[2] = {kind, static_cast<uint8_t>(active ? 1 : 0)};
  hostLink.send(wire::ALARM, payload, sizeof payload);
}

void send_heartbeat() {
  uint8_t payload[4];
  wire::put_u32(payload, uptimeS);
  hostLink.send(wire::HEARTBEAT, payload, sizeof payload);
}

// Door and alarm events (hut::DoorEvent bits) as frames, in the order of the bits: a door
// change before the alarms it causes or clears.
void send_door_events(uint8_t ev) {
  if (ev & hut::EV_DOOR_OPENED) send_door(true);
  if (ev & hut::EV_DOOR_CLOSED) send_door(false);
  if (ev & hut::EV_FORCED_RAISED) send_alarm(wire::ALARM_FORCED_OPEN, true);
  if (ev & hut::EV_HELD_RAISED) send_alarm(wire::ALARM_HELD_OPEN, true);
  if (ev & hut::EV_FORCED_CLEARED) send_alarm(wire::ALARM_FORCED_OPEN, false);
  if (ev & hut::EV_HELD_CLEARED) send_alarm(wire::ALARM_HELD_OPEN, false);
}

// Hello, then which alarms stand and where the door is (DoorGuard::state_report): after a
// boot, and to every gateway that (re)opens the port. The door's frame comes last: it ends
// the report, so a gateway that waits for it has the alarms too.
void say_hello() {
  uint8_t report = door.state_report();
  send_hello();
  send_door_events(report & (hut::EV_FORCED_RAISED | hut::EV_HELD_RAISED));
  send_door(door.door_open());
}

// -- frames from the gateway ----------------------------------------------------------------

// The link has already acked the frame (and dropped duplicates) before this runs.
void handle_frame(const wire::Frame& frame, uint32_t now) {
  uint16_t pulse_ms = 0;
  uint8_t beep_kind = 0;
  const uint8_t* text = 0;
  size_t text_len = 0;
  if (frame.type == wire::HELLO) {
    say_hello();  // the gateway (re)opened the port: tell it who we are and the door
  } else if (wire::parse_unlock(frame, &pulse_ms)) {
    door.unlock(now, pulse_ms);
    digitalWrite(PIN_RELAY, RELAY_RELEASE);  // at once; the loop relocks on the timer
  } else if (wire::parse_feedback(frame, &beep_kind, &text, &text_len)) {
    beep(beep_kind, now);
    // No display fitted on the reference board: the text is accepted and not shown.
    (void)text;
    (void)text_len;
  }
  // Other types are controller -> gateway; a gateway sending them gets its Ack and no more.
}

// -- inputs ------------------------------------------------------------------------------------

bool read_door_open() {
  // Reed to GND with the internal pull-up: closed door (magnet near) reads LOW. A cut
  // wire reads as open, which raises an alarm rather than hiding.
  return digitalRead(PIN_REED) == HIGH;
}

void poll_door(uint32_t now) {
  uint8_t ev = door.update(now, read_door_open());
  send_door_events(ev);
  if (ev & (hut::EV_FORCED_RAISED | hut::EV_HELD_RAISED)) beep(wire::BEEP_ERROR, now);
}

void poll_scanner(uint32_t now) {
  hut::ScanBuffer::Result r = scan.poll(now);
  // Bounded per pass so a chattering scanner cannot starve the host link.
  for (uint16_t n = 0; r == hut::ScanBuffer::NOTHING && n < 64 && QR_SERIAL.available() > 0;
       ++n) {
    r = scan.feed(static_cast<uint8_t>(QR_SERIAL.read()), now);
  }
  if (r == hut::ScanBuffer::READY) {
    if (!hostLink.send(wire::QR_SCAN, scan.text(), scan.length())) beep(wire::BEEP_ERROR, now);
  } else if (r == hut::ScanBuffer::DROPPED) {
    beep(wire::BEEP_ERROR, now);  // too long or not UTF-8: never sent cut short
  }
}

void poll_card(uint32_t now) {
  if (now - lastCardPollMs < CARD_POLL_MS) return;
  lastCardPollMs = now;
  if (!rfid.PICC_IsNewCardPresent() || !rfid.PICC_ReadCardSerial()) return;
  uint8_t len = rfid.uid.size;
  if (len < wire::MIN_UID || len > wire::MAX_UID) return;  // a misread; the next poll retries
  bool repeat = len == lastUidLen && memcmp(rfid.uid.uidByte, lastUid, len) == 0 &&
                now - lastCardMs < CARD_REPEAT_MS;
  lastCardMs = now;
  rfid.PICC_HaltA();
  if (repeat) return;
  memcpy(lastUid, rfid.uid.uidByte, len);
  lastUidLen = len;
  hostLink.send(wire::CARD_READ, lastUid, len);
}

void count_uptime(uint32_t now) {
  while (now - uptimeMarkMs >= 1000) {
    uptimeMarkMs += 1000;
    ++uptimeS;
  }
}

// -- Arduino entry points -------------------------------------------------------------------

void setup() {
  // Lock first: whatever happens later in setup, the door stays locked.
  pinMode(PIN_RELAY, OUTPUT);
  digitalWrite(PIN_RELAY, RELAY_ENGAGE);
  pinMode(PIN_BUZZER, OUTPUT);
  digitalWrite(PIN_BUZZER, LOW);
  pinMode(PIN_REED, INPUT_PULLUP);

  Serial.begin(HOST_BAUD);
#if defined(ESP32)
  QR_SERIAL.begin(QR_BAUD, SERIAL_8N1, PIN_QR_RX, PIN_QR_TX);
#else
  QR_SERIAL.begin(QR_BAUD);
  wdt_enable(WDTO_2S);  // a hung loop resets the board, and a reset leaves the lock engaged
#endif
  SPI.begin();
  rfid.PCD_Init();

  uint32_t now = millis();
  uptimeMarkMs = lastHeartbeatMs = now;
  door.begin(now, read_door_open());
  say_hello();
}

void loop() {
  uint32_t now = millis();
#if defined(__AVR__)
  wdt_reset();
#endif
  count_uptime(now);

  // Bounded per pass: at 115200 baud this drains a whole frame, and the lock timer below
  // still runs every pass.
  for (uint16_t n = 0; n < 300 && Serial.available() > 0; ++n) {
    if (hostLink.receive(static_cast<uint8_t>(Serial.read()))) handle_frame(hostLink.frame(), now);
  }

  // Fail-secure: the relay follows the controller's own pulse timer, every pass, no
  // matter whether the gateway is still there.
  digitalWrite(PIN_RELAY, door.lock_released(now) ? RELAY_RELEASE : RELAY_ENGAGE);

  poll_door(now);
  poll_scanner(now);
  poll_card(now);

  if (now - lastHeartbeatMs >= HEARTBEAT_MS) {
    lastHeartbeatMs = now;
    // Only when the link is idle: a gateway that is down would otherwise fill the queue
    // with heartbeats and crowd out the card reads and alarms behind them.
    if (hostLink.idle()) send_heartbeat();
  }
  hostLink.poll(now);
  update_buzzer(now);
}
