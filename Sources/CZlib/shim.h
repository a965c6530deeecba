// zlib (Debian: zlib1g-dev), used to read the gzipped CLIP vocabulary.
#include <zlib.h>
