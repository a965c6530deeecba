// libjpeg-turbo (Debian: libjpeg-dev / libjpeg62-turbo-dev). jpeglib.h needs stdio first.
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <stdlib.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

// Kestrel's JPEG entry points. libjpeg reports fatal errors through error_exit, which must not
// return: we longjmp back into these C functions (never across Swift frames). They are
// `noinline` so that no Swift caller ever holds the setjmp frame.
// Decoding settings are libjpeg's defaults, as Pillow leaves them without draft():
// JDCT_ISLOW, fancy upsampling on, no scaling. `kestrel_jpeg_decode_scaled` adds libjpeg-turbo's
// DCT-domain scaling (scale_num/8, 1..8), as Pillow's draft() does with 1/1, 1/2, 1/4, 1/8. A premature end of data is an error, as in
// Pillow ("image file is truncated"): the file ends (JWRN_JPEG_EOF), or a scan's data ends at a
// marker before the image does (JWRN_HIT_MARKER, "premature end of data segment"; libjpeg would
// fill the rest with grey). Other warnings (extraneous bytes, ...) are ignored, as in Pillow.

enum { KESTREL_JPEG_OK = 0, KESTREL_JPEG_ERROR = 1, KESTREL_JPEG_TRUNCATED = 2 };

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int truncated;
    char message[JMSG_LENGTH_MAX];
} kestrel_jpeg_error_mgr;

typedef struct {
    int width, height;
    int components;        // 1 (gray), 3 (YCbCr/RGB) or 4 (CMYK/YCCK)
    int jpeg_color_space;  // J_COLOR_SPACE
    int progressive;
    int saw_adobe_marker;
    int multiple_scans;    // progressive, or the first scan holds fewer than all components:
                           // libjpeg then keeps every DCT coefficient (2 bytes per sample)
    int arith_code;        // arithmetic entropy coding (no floor of bits per block)
} kestrel_jpeg_info;

static void kestrel_jpeg_error_exit(j_common_ptr cinfo) {
    kestrel_jpeg_error_mgr *err = (kestrel_jpeg_error_mgr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->jump, 1);
}

static void kestrel_jpeg_emit_message(j_common_ptr cinfo, int msg_level) {
    kestrel_jpeg_error_mgr *err = (kestrel_jpeg_error_mgr *)cinfo->err;
    if (msg_level < 0 && (err->pub.msg_code == JWRN_JPEG_EOF || err->pub.msg_code == JWRN_HIT_MARKER)) {
        (*cinfo->err->format_message)(cinfo, err->message);
        err->truncated = 1;
        longjmp(err->jump, 1);
    }
}

static void kestrel_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void kestrel_jpeg_copy_message(const kestrel_jpeg_error_mgr *err, char *msg, size_t cap) {
    if (msg && cap) {
        strncpy(msg, err->message, cap - 1);
        msg[cap - 1] = 0;
    }
}

/// Points a (de)compressor's error handling at `err`: errors long-jump to `err->jump` (set by
/// the caller's own setjmp, which must stay in the calling function), warnings are kept.
static inline void kestrel_jpeg_install_errors(struct jpeg_error_mgr **slot, kestrel_jpeg_error_mgr *err) {
    memset(err, 0, sizeof *err);
    *slot = jpeg_std_error(&err->pub);
    err->pub.error_exit = kestrel_jpeg_error_exit;
    err->pub.emit_message = kestrel_jpeg_emit_message;
    err->pub.output_message = kestrel_jpeg_output_message;
}

/// Reads the header only (no pixel memory is allocated). Returns KESTREL_JPEG_*.
__attribute__((noinline)) static int kestrel_jpeg_read_header(
    const unsigned char *data, unsigned long size, kestrel_jpeg_info *info, char *msg, size_t cap) {
    struct jpeg_decompress_struct cinfo;
    kestrel_jpeg_error_mgr err;
    kestrel_jpeg_install_errors(&cinfo.err, &err);
    if (setjmp(err.jump)) {
        kestrel_jpeg_copy_message(&err, msg, cap);
        jpeg_destroy_decompress(&cinfo);
        return err.truncated ? KESTREL_JPEG_TRUNCATED : KESTREL_JPEG_ERROR;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, size);
    jpeg_read_header(&cinfo, TRUE);
    info->width = (int)cinfo.image_width;
    info->height = (int)cinfo.image_height;
    info->components = cinfo.num_components;
    info->jpeg_color_space = (int)cinfo.jpeg_color_space;
    info->progressive = cinfo.progressive_mode ? 1 : 0;
    info->saw_adobe_marker = cinfo.saw_Adobe_marker ? 1 : 0;
    info->multiple_scans = (cinfo.progressive_mode || cinfo.comps_in_scan < cinfo.num_components) ? 1 : 0;
    info->arith_code = cinfo.arith_code ? 1 : 0;
    jpeg_destroy_decompress(&cinfo);
    return KESTREL_JPEG_OK;
}

/// Output size of a decode at scale `scale_num`/8 (1...8), as libjpeg computes it
/// (jpeg_calc_output_dimensions: ceil(size * scale_num / 8)). Header only. Returns KESTREL_JPEG_*.
__attribute__((noinline)) static int kestrel_jpeg_scaled_size(
    const unsigned char *data, unsigned long size, int scale_num, int *out_w, int *out_h, char *msg, size_t cap) {
    struct jpeg_decompress_struct cinfo;
    kestrel_jpeg_error_mgr err;
    kestrel_jpeg_install_errors(&cinfo.err, &err);
    if (setjmp(err.jump)) {
        kestrel_jpeg_copy_message(&err, msg, cap);
        jpeg_destroy_decompress(&cinfo);
        return err.truncated ? KESTREL_JPEG_TRUNCATED : KESTREL_JPEG_ERROR;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, size);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.scale_num = (unsigned int)scale_num;
    cinfo.scale_denom = 8;
    jpeg_calc_output_dimensions(&cinfo);
    *out_w = (int)cinfo.output_width;
    *out_h = (int)cinfo.output_height;
    jpeg_destroy_decompress(&cinfo);
    return KESTREL_JPEG_OK;
}

/// Decodes at scale `scale_num`/8 (1...8; 8 is the full decode, `kestrel_jpeg_decode`):
/// libjpeg-turbo's scaled inverse DCTs. `out` holds the scaled size that
/// `kestrel_jpeg_scaled_size` reports.
__attribute__((noinline)) static int kestrel_jpeg_decode_scaled(
    const unsigned char *data, unsigned long size, unsigned char *out, size_t out_size,
    int out_components, int scale_num, char *msg, size_t cap) {
    struct jpeg_decompress_struct cinfo;
    kestrel_jpeg_error_mgr err;
    kestrel_jpeg_install_errors(&cinfo.err, &err);
    if (setjmp(err.jump)) {
        kestrel_jpeg_copy_message(&err, msg, cap);
        jpeg_destroy_decompress(&cinfo);
        return err.truncated ? KESTREL_JPEG_TRUNCATED : KESTREL_JPEG_ERROR;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, size);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = out_components == 1 ? JCS_GRAYSCALE : out_components == 3 ? JCS_RGB : JCS_CMYK;
    if (scale_num != 8) {
        cinfo.scale_num = (unsigned int)scale_num;
        cinfo.scale_denom = 8;
    }
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    if (cinfo.output_components != out_components ||
        stride * (size_t)cinfo.output_height > out_size) {
        strncpy(err.message, "unexpected output geometry", sizeof err.message - 1);
        kestrel_jpeg_copy_message(&err, msg, cap);
        jpeg_destroy_decompress(&cinfo);
        return KESTREL_JPEG_ERROR;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return KESTREL_JPEG_OK;
}

/// Decodes into `out` (width * height * out_components bytes, rows packed). out_components is 1
/// (JCS_GRAYSCALE), 3 (JCS_RGB) or 4 (JCS_CMYK; libjpeg converts YCCK to CMYK). Every pixel, as
/// the reference pipelines decode: `kestrel_jpeg_decode_scaled` at full scale (8/8).
__attribute__((noinline)) static int kestrel_jpeg_decode(
    const unsigned char *data, unsigned long size, unsigned char *out, size_t out_size,
    int out_components, char *msg, size_t cap) {
    return kestrel_jpeg_decode_scaled(data, size, out, out_size, out_components, 8, msg, cap);
}

/// Encodes packed 8-bit samples (components 1 = gray, 3 = RGB) as a baseline JPEG at `quality`
/// (libjpeg's defaults otherwise: 4:2:0 chroma for RGB, optimised Huffman tables off). On success
/// `*out` is a buffer from malloc (free it with kestrel_jpeg_free) of `*out_size` bytes.
__attribute__((noinline)) static int kestrel_jpeg_encode(
    const unsigned char *pixels, int width, int height, int components, int quality,
    unsigned char **out, unsigned long *out_size, char *msg, size_t cap) {
    struct jpeg_compress_struct cinfo;
    kestrel_jpeg_error_mgr err;
    memset(&err, 0, sizeof err);
    *out = NULL;
    *out_size = 0;
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = kestrel_jpeg_error_exit;
    err.pub.output_message = kestrel_jpeg_output_message;
    if (setjmp(err.jump)) {
        kestrel_jpeg_copy_message(&err, msg, cap);
        jpeg_destroy_compress(&cinfo);
        if (*out) { free(*out); *out = NULL; }
        return KESTREL_JPEG_ERROR;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, out, out_size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = components;
    cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)width * (size_t)components;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + stride * cinfo.next_scanline);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return KESTREL_JPEG_OK;
}

static void kestrel_jpeg_free(unsigned char *p) { free(p); }
