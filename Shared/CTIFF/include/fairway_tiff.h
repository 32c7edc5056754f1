// C side of Fairway's libtiff wrapper: what Swift cannot call directly (variadic TIFFGetField,
// va_list error handlers). Only Shared/Imaging includes this.
#ifndef FAIRWAY_TIFF_H
#define FAIRWAY_TIFF_H

#include <stdint.h>
#include <tiffio.h>

/// Errors and warnings libtiff reported on one handle: the first message of each is kept (the
/// root cause), and counts.
typedef struct {
    char first[512];
    int count;
    char first_warning[512];
    int warning_count;
} fw_tiff_errors;

/// Opens `path` read-only ("r", or "rm" to not map it) with handlers writing into `errors` and a
/// cap on any single allocation libtiff makes for this handle.
TIFF *fw_tiff_open(const char *path, const char *mode, fw_tiff_errors *errors, int64_t max_single_alloc);

int fw_tiff_get_u16(TIFF *tiff, uint32_t tag, uint16_t *value);
int fw_tiff_get_u32(TIFF *tiff, uint32_t tag, uint32_t *value);
int fw_tiff_get_u64(TIFF *tiff, uint32_t tag, uint64_t *value);
int fw_tiff_get_float(TIFF *tiff, uint32_t tag, float *value);
int fw_tiff_get_string(TIFF *tiff, uint32_t tag, const char **value);
/// Only for pseudo-tags that take an int (e.g. TIFFTAG_JPEGCOLORMODE).
int fw_tiff_set_int(TIFF *tiff, uint32_t tag, int value);
/// Tags whose value is a count and an array (e.g. SubIFDs): the pointer is libtiff's own.
int fw_tiff_get_u64_array(TIFF *tiff, uint32_t tag, uint16_t *count, const uint64_t **values);

#endif
