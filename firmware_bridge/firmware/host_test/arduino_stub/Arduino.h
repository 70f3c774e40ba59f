// Declarations only: the subset of the Arduino core API that toolhut_controller.ino uses,
// with the real signatures, so g++ can check the sketch compiles (-fsyntax-only). There are
// deliberately no definitions: nothing here can link, run, or pretend to be hardware.
#ifndef TOOLHUT_STUB_ARDUINO_H
#define TOOLHUT_STUB_ARDUINO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint8_t byte;

#define HIGH 0x1
#define LOW 0x0
#define INPUT 0x0
#define OUTPUT 0x1
#define INPUT_PULLUP 0x2
#define SERIAL_8N1 0x800001c

void pinMode(uint8_t pin, uint8_t mode);
void digitalWrite(uint8_t pin, uint8_t val);
int digitalRead(uint8_t pin);
unsigned long millis(void);

class HardwareSerial {
 public:
  void begin(unsigned long baud);
  void begin(unsigned long baud, uint32_t config, int8_t rxPin, int8_t txPin);
  int available(void);
  int read(void);
  size_t write(uint8_t byte);
};

extern HardwareSerial Serial;
#if defined(ESP32)
extern HardwareSerial Serial2;
#endif

#endif  // TOOLHUT_STUB_ARDUINO_H
