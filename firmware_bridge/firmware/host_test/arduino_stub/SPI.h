// Declarations only (see Arduino.h here): SPIClass as the sketch uses it.
#ifndef TOOLHUT_STUB_SPI_H
#define TOOLHUT_STUB_SPI_H

class SPIClass {
 public:
  void begin();
};

extern SPIClass SPI;

#endif  // TOOLHUT_STUB_SPI_H
