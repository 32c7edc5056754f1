// Tile codecs the OME-TIFF writer calls directly: libdeflate for TIFF Deflate (zlib stream) and
// libzstd for TIFF zstd. Both are dependencies of Debian's libtiff-dev.
#ifndef FAIRWAY_CODECS_H
#define FAIRWAY_CODECS_H

#include <libdeflate.h>
#include <zstd.h>

#endif
