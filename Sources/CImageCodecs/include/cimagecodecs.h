// C wrappers over libpng and libjpeg-turbo (their setjmp-based error handling cannot cross into Swift).
//
// Every function returns CIC_OK (0) or a negative CIC_ERR_* code and, on failure, writes a
// NUL-terminated message into `err` (at most `errlen` bytes). Decoders always produce 8-bit RGB,
// interleaved, row-major, tightly packed (stride = 3 * width); buffers they return are released with
// cic_free. Dimensions are checked against CIC_MAX_SIDE / CIC_MAX_PIXELS before any pixel allocation.
#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H
#include <stddef.h>
#include <stdint.h>

#define CIC_MAX_SIDE 16384
#define CIC_MAX_PIXELS (1L << 28)

enum {
    CIC_OK = 0,
    CIC_ERR_CORRUPT = -1,    // not decodable: truncated, bad signature, libpng/libjpeg error
    CIC_ERR_DIMENSIONS = -2, // zero or absurd width/height
    CIC_ERR_MEMORY = -3,     // allocation failed
    CIC_ERR_ARGUMENT = -4,   // NULL pointer, bad quality, ...
};

int cic_version(void);

/// Decodes a PNG (any bit depth, palette, grayscale, alpha, interlaced) to 8-bit RGB. Alpha is dropped
/// and 16-bit samples are scaled (not truncated) to 8 bits.
int cic_png_decode(const uint8_t *data, size_t size, uint8_t **out_rgb, int *out_width, int *out_height,
                   char *err, size_t errlen);

/// Decodes a baseline or progressive JPEG (YCbCr, grayscale, CMYK/YCCK) to 8-bit RGB.
int cic_jpeg_decode(const uint8_t *data, size_t size, uint8_t **out_rgb, int *out_width, int *out_height,
                    char *err, size_t errlen);

/// Encodes 8-bit RGB as a PNG in memory (8-bit RGB, non-interlaced, default zlib level).
int cic_png_encode(const uint8_t *rgb, int width, int height, uint8_t **out_data, size_t *out_size,
                   char *err, size_t errlen);

/// Encodes 8-bit RGB as a baseline JPEG in memory with the given quality (1...100, 4:2:0 chroma).
int cic_jpeg_encode(const uint8_t *rgb, int width, int height, int quality, uint8_t **out_data,
                    size_t *out_size, char *err, size_t errlen);

void cic_free(void *p);

#endif
