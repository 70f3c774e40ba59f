// Declarations only (see ../Arduino.h): avr-libc's watchdog calls, as functions.
#ifndef TOOLHUT_STUB_AVR_WDT_H
#define TOOLHUT_STUB_AVR_WDT_H

#include <stdint.h>

#define WDTO_2S 7
void wdt_enable(uint8_t timeout);
void wdt_reset(void);

#endif  // TOOLHUT_STUB_AVR_WDT_H
