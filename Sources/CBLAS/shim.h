// OpenBLAS's CBLAS interface (Debian: libopenblas-dev).
#include <cblas.h>
// Thread control, exported by OpenBLAS itself.
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);
