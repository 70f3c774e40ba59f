// Declarations only (see Arduino.h here): the AVR core's SoftwareSerial as the sketch uses it.
#ifndef TOOLHUT_STUB_SOFTWARESERIAL_H
#define TOOLHUT_STUB_SOFTWARESERIAL_H

#include <Arduino.h>

class SoftwareSerial {
 public:
  SoftwareSerial(uint8_t receivePin, uint8_t transmitPin, bool inverse_logic = false);
  void begin(long speed);
  int available();
  int read();
};

#endif  // TOOLHUT_STUB_SOFTWARESERIAL_H
