#pragma once
#ifdef __cplusplus
extern "C" {
#endif
// placeholder
int cfaiss_version(void);
#ifdef __cplusplus
}
#endif
