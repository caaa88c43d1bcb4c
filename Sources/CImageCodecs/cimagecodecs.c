// C wrappers over libpng and libjpeg-turbo. Both libraries report errors by longjmp; that must not
// cross Swift frames, so every setjmp/longjmp pair lives here and failures come back as codes.
//
// State that changes between setjmp and a possible longjmp (buffers allocated while decoding) is kept
// in a heap struct whose pointer is fixed before setjmp, so the error path can always free it.
#include "cimagecodecs.h"

#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

int cic_version(void) { return 2; }

void cic_free(void *p) { free(p); }

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/// Checks the size limits before anything is allocated for the pixels.
static int check_dimensions(long width, long height, char *err, size_t errlen) {
    if (width <= 0 || height <= 0) {
        set_err(err, errlen, "image has zero size (%ldx%ld)", width, height);
        return CIC_ERR_DIMENSIONS;
    }
    if (width > CIC_MAX_SIDE || height > CIC_MAX_SIDE || width * height > CIC_MAX_PIXELS) {
        set_err(err, errlen, "image size %ldx%ld exceeds the limit (%d per side, %ld pixels)", width, height,
                CIC_MAX_SIDE, (long)CIC_MAX_PIXELS);
        return CIC_ERR_DIMENSIONS;
    }
    return CIC_OK;
}

// MARK: - PNG

typedef struct {
    char *err;
    size_t errlen;
} png_err_ctx;

typedef struct {
    const uint8_t *data;
    size_t size, pos;
} png_mem_reader;

typedef struct {
    uint8_t *data;
    size_t size, cap;
} png_mem_writer;

typedef struct {
    uint8_t *pixels;
    png_bytep *rows;
} png_decode_state;

static void png_error_fn(png_structp png, png_const_charp msg) {
    png_err_ctx *e = (png_err_ctx *)png_get_error_ptr(png);
    if (e) set_err(e->err, e->errlen, "PNG: %s", msg);
    png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; // warnings (e.g. bad ancillary chunks) do not stop decoding
}

static void png_read_mem(png_structp png, png_bytep out, size_t n) {
    png_mem_reader *r = (png_mem_reader *)png_get_io_ptr(png);
    if (n > r->size - r->pos) png_error(png, "unexpected end of data (truncated file)");
    memcpy(out, r->data + r->pos, n);
    r->pos += n;
}

static void png_write_mem(png_structp png, png_bytep in, size_t n) {
    png_mem_writer *w = (png_mem_writer *)png_get_io_ptr(png);
    if (w->size + n > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 65536;
        while (cap < w->size + n) cap *= 2;
        uint8_t *grown = (uint8_t *)realloc(w->data, cap);
        if (!grown) png_error(png, "out of memory while encoding");
        w->data = grown;
        w->cap = cap;
    }
    memcpy(w->data + w->size, in, n);
    w->size += n;
}

static void png_flush_mem(png_structp png) { (void)png; }

int cic_png_decode(const uint8_t *data, size_t size, uint8_t **out_rgb, int *out_width, int *out_height,
                   char *err, size_t errlen) {
    if (!data || !out_rgb || !out_width || !out_height) {
        set_err(err, errlen, "NULL argument");
        return CIC_ERR_ARGUMENT;
    }
    *out_rgb = NULL;
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        set_err(err, errlen, "not a PNG file (bad signature)");
        return CIC_ERR_CORRUPT;
    }
    png_err_ctx ectx = {err, errlen};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ectx, png_error_fn, png_warning_fn);
    if (!png) {
        set_err(err, errlen, "cannot create PNG reader");
        return CIC_ERR_MEMORY;
    }
    png_infop info = png_create_info_struct(png);
    png_decode_state *st = (png_decode_state *)calloc(1, sizeof(png_decode_state));
    png_mem_reader *reader = (png_mem_reader *)calloc(1, sizeof(png_mem_reader));
    if (!info || !st || !reader) {
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        free(st);
        free(reader);
        set_err(err, errlen, "out of memory");
        return CIC_ERR_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        free(st->pixels);
        free(st->rows);
        free(st);
        free(reader);
        png_destroy_read_struct(&png, &info, NULL);
        return CIC_ERR_CORRUPT;
    }
    reader->data = data;
    reader->size = size;
    png_set_read_fn(png, reader, png_read_mem);
    png_read_info(png, info);

    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, NULL, NULL, NULL);
    int rc = check_dimensions((long)width, (long)height, err, errlen);
    if (rc != CIC_OK) {
        free(st);
        free(reader);
        png_destroy_read_struct(&png, &info, NULL);
        return rc;
    }
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16) png_set_scale_16(png);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    if (color_type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)width * 3) png_error(png, "unexpected row layout after conversion");

    st->pixels = (uint8_t *)malloc((size_t)width * height * 3);
    st->rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!st->pixels || !st->rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) st->rows[y] = st->pixels + (size_t)y * width * 3;
    png_read_image(png, st->rows);
    // png_read_end is skipped on purpose: trailing chunks after the pixel data are not needed.

    *out_rgb = st->pixels;
    *out_width = (int)width;
    *out_height = (int)height;
    free(st->rows);
    free(st);
    free(reader);
    png_destroy_read_struct(&png, &info, NULL);
    return CIC_OK;
}

int cic_png_encode(const uint8_t *rgb, int width, int height, uint8_t **out_data, size_t *out_size,
                   char *err, size_t errlen) {
    if (!rgb || !out_data || !out_size) {
        set_err(err, errlen, "NULL argument");
        return CIC_ERR_ARGUMENT;
    }
    *out_data = NULL;
    *out_size = 0;
    int rc = check_dimensions(width, height, err, errlen);
    if (rc != CIC_OK) return rc;
    png_err_ctx ectx = {err, errlen};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ectx, png_error_fn, png_warning_fn);
    if (!png) {
        set_err(err, errlen, "cannot create PNG writer");
        return CIC_ERR_MEMORY;
    }
    png_infop info = png_create_info_struct(png);
    png_mem_writer *writer = (png_mem_writer *)calloc(1, sizeof(png_mem_writer));
    if (!info || !writer) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        free(writer);
        set_err(err, errlen, "out of memory");
        return CIC_ERR_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        free(writer->data);
        free(writer);
        png_destroy_write_struct(&png, &info);
        return CIC_ERR_CORRUPT;
    }
    png_set_write_fn(png, writer, png_write_mem, png_flush_mem);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * width * 3));
    png_write_end(png, NULL);

    *out_data = writer->data;
    *out_size = writer->size;
    free(writer);
    png_destroy_write_struct(&png, &info);
    return CIC_OK;
}

// MARK: - JPEG

typedef struct {
    struct jpeg_error_mgr pub; // must be first: libjpeg hands back a pointer to it
    jmp_buf jmp;
    char *err;
    size_t errlen;
} jpeg_err_ctx;

static void jpeg_error_exit_fn(j_common_ptr cinfo) {
    jpeg_err_ctx *e = (jpeg_err_ctx *)cinfo->err;
    char msg[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, msg);
    set_err(e->err, e->errlen, "JPEG: %s", msg);
    longjmp(e->jmp, 1);
}

/// Silences libjpeg's stderr output. A truncated file is only a warning for libjpeg (it pads the
/// rest of the image with grey); we treat it as an error so corrupt files never pass as images.
static void jpeg_emit_message_fn(j_common_ptr cinfo, int level) {
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_error_exit_fn(cinfo);
}

static void jpeg_output_message_fn(j_common_ptr cinfo) { (void)cinfo; }

static void install_jpeg_errors(jpeg_err_ctx *e, char *err, size_t errlen) {
    jpeg_std_error(&e->pub);
    e->pub.error_exit = jpeg_error_exit_fn;
    e->pub.emit_message = jpeg_emit_message_fn;
    e->pub.output_message = jpeg_output_message_fn;
    e->err = err;
    e->errlen = errlen;
}

typedef struct {
    struct jpeg_decompress_struct cinfo;
    jpeg_err_ctx errors;
    uint8_t *pixels;
    uint8_t *cmyk_row;
} jpeg_decode_state;

int cic_jpeg_decode(const uint8_t *data, size_t size, uint8_t **out_rgb, int *out_width, int *out_height,
                    char *err, size_t errlen) {
    if (!data || !out_rgb || !out_width || !out_height) {
        set_err(err, errlen, "NULL argument");
        return CIC_ERR_ARGUMENT;
    }
    *out_rgb = NULL;
    if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) {
        set_err(err, errlen, "not a JPEG file (bad signature)");
        return CIC_ERR_CORRUPT;
    }
    jpeg_decode_state *st = (jpeg_decode_state *)calloc(1, sizeof(jpeg_decode_state));
    if (!st) {
        set_err(err, errlen, "out of memory");
        return CIC_ERR_MEMORY;
    }
    install_jpeg_errors(&st->errors, err, errlen);
    st->cinfo.err = &st->errors.pub;
    if (setjmp(st->errors.jmp)) {
        jpeg_destroy_decompress(&st->cinfo);
        free(st->pixels);
        free(st->cmyk_row);
        free(st);
        return CIC_ERR_CORRUPT;
    }
    jpeg_create_decompress(&st->cinfo);
    jpeg_mem_src(&st->cinfo, data, (unsigned long)size);
    jpeg_read_header(&st->cinfo, TRUE);
    long width = (long)st->cinfo.image_width, height = (long)st->cinfo.image_height;
    int rc = check_dimensions(width, height, err, errlen);
    if (rc != CIC_OK) {
        jpeg_destroy_decompress(&st->cinfo);
        free(st);
        return rc;
    }
    int cmyk = st->cinfo.jpeg_color_space == JCS_CMYK || st->cinfo.jpeg_color_space == JCS_YCCK;
    st->cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&st->cinfo);
    int comps = st->cinfo.output_components;
    if ((cmyk && comps != 4) || (!cmyk && comps != 3)) ERREXIT(&st->cinfo, JERR_CONVERSION_NOTIMPL);
    st->pixels = (uint8_t *)malloc((size_t)width * height * 3);
    if (cmyk) st->cmyk_row = (uint8_t *)malloc((size_t)width * 4);
    if (!st->pixels || (cmyk && !st->cmyk_row)) ERREXIT1(&st->cinfo, JERR_OUT_OF_MEMORY, 0);
    // Adobe writes CMYK inverted (0 = full ink); plain CMYK files are not.
    int inverted = st->cinfo.saw_Adobe_marker;
    while (st->cinfo.output_scanline < st->cinfo.output_height) {
        uint8_t *row = st->pixels + (size_t)st->cinfo.output_scanline * width * 3;
        JSAMPROW target = cmyk ? st->cmyk_row : row;
        if (jpeg_read_scanlines(&st->cinfo, &target, 1) != 1) ERREXIT(&st->cinfo, JERR_INPUT_EOF);
        if (cmyk) {
            for (long x = 0; x < width; x++) {
                const uint8_t *p = st->cmyk_row + x * 4;
                int c = p[0], m = p[1], yy = p[2], k = p[3];
                if (!inverted) {
                    c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k;
                }
                row[x * 3 + 0] = (uint8_t)((c * k + 127) / 255);
                row[x * 3 + 1] = (uint8_t)((m * k + 127) / 255);
                row[x * 3 + 2] = (uint8_t)((yy * k + 127) / 255);
            }
        }
    }
    jpeg_finish_decompress(&st->cinfo);
    jpeg_destroy_decompress(&st->cinfo);
    *out_rgb = st->pixels;
    *out_width = (int)width;
    *out_height = (int)height;
    free(st->cmyk_row);
    free(st);
    return CIC_OK;
}

typedef struct {
    struct jpeg_compress_struct cinfo;
    jpeg_err_ctx errors;
    unsigned char *buffer; // owned by us once jpeg_mem_dest has allocated it
    unsigned long size;
} jpeg_encode_state;

int cic_jpeg_encode(const uint8_t *rgb, int width, int height, int quality, uint8_t **out_data,
                    size_t *out_size, char *err, size_t errlen) {
    if (!rgb || !out_data || !out_size) {
        set_err(err, errlen, "NULL argument");
        return CIC_ERR_ARGUMENT;
    }
    *out_data = NULL;
    *out_size = 0;
    if (quality < 1 || quality > 100) {
        set_err(err, errlen, "JPEG quality %d is outside 1...100", quality);
        return CIC_ERR_ARGUMENT;
    }
    int rc = check_dimensions(width, height, err, errlen);
    if (rc != CIC_OK) return rc;
    jpeg_encode_state *st = (jpeg_encode_state *)calloc(1, sizeof(jpeg_encode_state));
    if (!st) {
        set_err(err, errlen, "out of memory");
        return CIC_ERR_MEMORY;
    }
    install_jpeg_errors(&st->errors, err, errlen);
    st->cinfo.err = &st->errors.pub;
    if (setjmp(st->errors.jmp)) {
        jpeg_destroy_compress(&st->cinfo);
        free(st->buffer);
        free(st);
        return CIC_ERR_CORRUPT;
    }
    jpeg_create_compress(&st->cinfo);
    jpeg_mem_dest(&st->cinfo, &st->buffer, &st->size);
    st->cinfo.image_width = (JDIMENSION)width;
    st->cinfo.image_height = (JDIMENSION)height;
    st->cinfo.input_components = 3;
    st->cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&st->cinfo);
    jpeg_set_quality(&st->cinfo, quality, TRUE);
    jpeg_start_compress(&st->cinfo, TRUE);
    while (st->cinfo.next_scanline < st->cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)st->cinfo.next_scanline * width * 3);
        jpeg_write_scanlines(&st->cinfo, &row, 1);
    }
    jpeg_finish_compress(&st->cinfo);
    jpeg_destroy_compress(&st->cinfo);
    *out_data = st->buffer;
    *out_size = (size_t)st->size;
    free(st);
    return CIC_OK;
}
