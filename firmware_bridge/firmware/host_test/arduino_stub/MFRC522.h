// Declarations only (see Arduino.h here): the part of miguelbalboa/rfid's MFRC522 class
// the sketch uses, with that library's signatures and Uid layout.
#ifndef TOOLHUT_STUB_MFRC522_H
#define TOOLHUT_STUB_MFRC522_H

#include <Arduino.h>

class MFRC522 {
 public:
  enum StatusCode : byte { STATUS_OK };
  typedef struct {
    byte size;  // 4, 7 or 10
    byte uidByte[10];
    byte sak;
  } Uid;

  MFRC522(byte chipSelectPin, byte resetPowerDownPin);
  void PCD_Init();
  virtual bool PICC_IsNewCardPresent();
  virtual bool PICC_ReadCardSerial();
  virtual StatusCode PICC_HaltA();

  Uid uid;
};

#endif  // TOOLHUT_STUB_MFRC522_H
