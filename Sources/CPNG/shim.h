// libpng (Debian: libpng-dev).
#include <png.h>
#include <setjmp.h>
#include <string.h>
#include <stdlib.h>

// Kestrel's PNG entry points. libpng reports errors by longjmp to png_jmpbuf; the setjmp lives
// in these `noinline` C functions, so no Swift frame is ever skipped. No colour transforms
// (gamma, tRNS expansion, 16->8) are requested: like Pillow, we keep the raw samples and
// apply Pillow's own mode rules in Swift. Sub-byte samples are unpacked to one byte each
// (raw values, unscaled); 16-bit samples stay big-endian.

enum { KESTREL_PNG_OK = 0, KESTREL_PNG_ERROR = 1, KESTREL_PNG_TRUNCATED = 2 };

typedef struct {
    unsigned int width, height;
    int bit_depth, color_type, interlace, channels;
    int num_palette;
    unsigned char palette[768];
    int has_trns, num_trans;
    unsigned char trans_alpha[256];
    int trans_gray, trans_red, trans_green, trans_blue;  // raw sample values from tRNS
} kestrel_png_info;

typedef struct {
    const unsigned char *data;
    size_t size, pos;
    int truncated;
    char message[200];
} kestrel_png_reader;

static void kestrel_png_read_fn(png_structp png, png_bytep out, size_t n) {
    kestrel_png_reader *r = (kestrel_png_reader *)png_get_io_ptr(png);
    if (r->size - r->pos < n) {
        r->truncated = 1;
        png_error(png, "unexpected end of file");
    }
    memcpy(out, r->data + r->pos, n);
    r->pos += n;
}

static void kestrel_png_error_fn(png_structp png, png_const_charp message) {
    kestrel_png_reader *r = (kestrel_png_reader *)png_get_error_ptr(png);
    strncpy(r->message, message, sizeof r->message - 1);
    r->message[sizeof r->message - 1] = 0;
    png_longjmp(png, 1);
}

static void kestrel_png_warning_fn(png_structp png, png_const_charp message) { (void)png; (void)message; }

/// Reads the header chunks (through IHDR/PLTE/tRNS, up to the first IDAT) and, when `out` is
/// non-null, decodes the rows into it (height * rowbytes, rowbytes = width * channels *
/// (bit_depth == 16 ? 2 : 1)). Returns KESTREL_PNG_*.
__attribute__((noinline)) static int kestrel_png_decode(
    const unsigned char *data, size_t size, kestrel_png_info *info, unsigned char *out, size_t out_size,
    char *msg, size_t cap) {
    kestrel_png_reader reader;
    memset(&reader, 0, sizeof reader);
    reader.data = data;
    reader.size = size;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, kestrel_png_error_fn, kestrel_png_warning_fn);
    if (!png) return KESTREL_PNG_ERROR;
    png_infop pinfo = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    if (!pinfo || setjmp(png_jmpbuf(png))) {
        if (msg && cap) { strncpy(msg, reader.message, cap - 1); msg[cap - 1] = 0; }
        if (rows) free((void *)rows);
        png_destroy_read_struct(&png, pinfo ? &pinfo : NULL, NULL);
        return reader.truncated ? KESTREL_PNG_TRUNCATED : KESTREL_PNG_ERROR;
    }
    png_set_read_fn(png, &reader, kestrel_png_read_fn);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);  // our own pixel limit applies instead
    png_read_info(png, pinfo);
    png_uint_32 w, h;
    int bit_depth, color_type, interlace;
    png_get_IHDR(png, pinfo, &w, &h, &bit_depth, &color_type, &interlace, NULL, NULL);
    info->width = w;
    info->height = h;
    info->bit_depth = bit_depth;
    info->color_type = color_type;
    info->interlace = interlace;
    info->channels = png_get_channels(png, pinfo);
    info->num_palette = 0;
    png_colorp palette;
    int num_palette;
    if (png_get_PLTE(png, pinfo, &palette, &num_palette) & PNG_INFO_PLTE) {
        info->num_palette = num_palette;
        for (int i = 0; i < num_palette && i < 256; i++) {
            info->palette[3 * i] = palette[i].red;
            info->palette[3 * i + 1] = palette[i].green;
            info->palette[3 * i + 2] = palette[i].blue;
        }
    }
    info->has_trns = 0;
    png_bytep trans_alpha;
    int num_trans;
    png_color_16p trans_color;
    if (png_get_tRNS(png, pinfo, &trans_alpha, &num_trans, &trans_color) & PNG_INFO_tRNS) {
        info->has_trns = 1;
        info->num_trans = num_trans;
        if (color_type == PNG_COLOR_TYPE_PALETTE && trans_alpha) {
            for (int i = 0; i < num_trans && i < 256; i++) info->trans_alpha[i] = trans_alpha[i];
        } else if (trans_color) {
            info->trans_gray = trans_color->gray;
            info->trans_red = trans_color->red;
            info->trans_green = trans_color->green;
            info->trans_blue = trans_color->blue;
        }
    }
    if (!out) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return KESTREL_PNG_OK;
    }
    if (bit_depth < 8) png_set_packing(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    size_t rowbytes = png_get_rowbytes(png, pinfo);
    if (rowbytes * (size_t)h > out_size) png_error(png, "output buffer too small");
    rows = (png_bytep *)malloc(sizeof(png_bytep) * (h ? h : 1));
    if (!rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = out + rowbytes * y;
    png_read_image(png, rows);
    // Like Pillow, trailing chunks after the image data are not required (no png_read_end).
    free((void *)rows);
    rows = NULL;
    png_destroy_read_struct(&png, &pinfo, NULL);
    return KESTREL_PNG_OK;
}

/// Encodes 8-bit gray (1), gray+alpha (2), RGB (3) or RGBA (4) pixels, rows top to bottom, as a
/// PNG into `out` (capacity `*size`; on return `*size` holds the bytes written, or the bytes
/// needed when `out` is null or too small). Uses libpng's simplified write API. Returns 0 on
/// success, 1 on error (message copied to `msg`), 3 when `out` is too small.
__attribute__((noinline)) static int kestrel_png_encode(
    const unsigned char *pixels, unsigned int width, unsigned int height, int channels,
    unsigned char *out, size_t *size, char *msg, size_t cap) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = width;
    image.height = height;
    image.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 2 ? PNG_FORMAT_GA
                 : channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
    png_alloc_size_t n = out ? *size : 0;
    int ok = png_image_write_to_memory(&image, out, &n, 0, pixels, 0, NULL);
    *size = n;
    if (!ok) {
        if (msg && cap) { strncpy(msg, image.message, cap - 1); msg[cap - 1] = 0; }
        png_image_free(&image);
        return 1;
    }
    if (out == NULL) return 3;
    return 0;
}
