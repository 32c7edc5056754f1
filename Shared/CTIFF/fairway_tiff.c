#include "fairway_tiff.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void keep(char *buffer, size_t size, const char *module, const char *format, va_list arguments) {
    int used = 0;
    if (module != NULL) {
        used = snprintf(buffer, size, "%s: ", module);
        if (used < 0 || (size_t)used >= size) used = 0;
    }
    vsnprintf(buffer + used, size - (size_t)used, format, arguments);
}

static int record(TIFF *tiff, void *user_data, const char *module, const char *format, va_list arguments) {
    (void)tiff;
    fw_tiff_errors *errors = user_data;
    if (errors->count++ == 0) keep(errors->first, sizeof errors->first, module, format, arguments);
    return 1;  // handled: libtiff does not print it
}

static int record_warning(TIFF *tiff, void *user_data, const char *module, const char *format, va_list arguments) {
    (void)tiff;
    fw_tiff_errors *errors = user_data;
    // libtiff ignores strip/tile offset tables whose count disagrees with the dimensions and then
    // reads made-up offsets: for us that is damage, not a warning.
    if (module != NULL && strcmp(module, "TIFFFetchStripThing") == 0) return record(tiff, user_data, module, format, arguments);
    if (errors->warning_count++ == 0) keep(errors->first_warning, sizeof errors->first_warning, module, format, arguments);
    return 1;
}

TIFF *fw_tiff_open(const char *path, const char *mode, fw_tiff_errors *errors, int64_t max_single_alloc) {
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    if (options == NULL) return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(options, record, errors);
    TIFFOpenOptionsSetWarningHandlerExtR(options, record_warning, errors);
    TIFFOpenOptionsSetMaxSingleMemAlloc(options, (tmsize_t)max_single_alloc);
    TIFF *tiff = TIFFOpenExt(path, mode, options);
    TIFFOpenOptionsFree(options);
    return tiff;
}

int fw_tiff_get_u16(TIFF *tiff, uint32_t tag, uint16_t *value) { return TIFFGetField(tiff, tag, value); }
int fw_tiff_get_u32(TIFF *tiff, uint32_t tag, uint32_t *value) { return TIFFGetField(tiff, tag, value); }
int fw_tiff_get_u64(TIFF *tiff, uint32_t tag, uint64_t *value) { return TIFFGetField(tiff, tag, value); }
int fw_tiff_get_float(TIFF *tiff, uint32_t tag, float *value) { return TIFFGetField(tiff, tag, value); }
int fw_tiff_get_string(TIFF *tiff, uint32_t tag, const char **value) { return TIFFGetField(tiff, tag, value); }
int fw_tiff_get_u64_array(TIFF *tiff, uint32_t tag, uint16_t *count, const uint64_t **values) {
    return TIFFGetField(tiff, tag, count, values);
}
int fw_tiff_set_int(TIFF *tiff, uint32_t tag, int value) { return TIFFSetField(tiff, tag, value); }
