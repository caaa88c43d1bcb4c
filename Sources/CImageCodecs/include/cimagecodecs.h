// C wrappers over libpng and libjpeg-turbo (their setjmp-based error handling cannot cross into Swift).
#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H
#include <stddef.h>
#include <stdint.h>
int cic_version(void);
#endif
