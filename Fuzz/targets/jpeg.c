// fuzz-c-sources: Sources/CImageCodecs/cimagecodecs.c
// fuzz-c-libs: -lpng16 -ljpeg
// The JPEG decoder wrapper (libjpeg-turbo through setjmp): any bytes decode to an image within the size limits
// or fail with a message; what decodes re-encodes (quality 90) to a JPEG of the same size.
#include <stdlib.h>

#include "cimagecodecs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *rgb = NULL;
    int w = 0, h = 0;
    char err[256];
    err[0] = 0;
    int rc = cic_jpeg_decode(data, size, &rgb, &w, &h, err, sizeof err);
    if (rc != CIC_OK) {
        if (rgb != NULL || err[0] == 0) abort();
        return 0;
    }
    if (w <= 0 || h <= 0 || w > CIC_MAX_SIDE || h > CIC_MAX_SIDE) abort();
    uint8_t *jpg = NULL;
    size_t n = 0;
    if (cic_jpeg_encode(rgb, w, h, 90, &jpg, &n, err, sizeof err) != CIC_OK) abort();
    uint8_t *again = NULL;
    int w2 = 0, h2 = 0;
    if (cic_jpeg_decode(jpg, n, &again, &w2, &h2, err, sizeof err) != CIC_OK || w2 != w || h2 != h) abort();
    cic_free(again);
    cic_free(jpg);
    cic_free(rgb);
    return 0;
}
