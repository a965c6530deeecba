// Undefines the vector layer that ckernels.c defines before each #include "kernels_body.h",
// so the next level can define its own.
#undef TGT
#undef FN
#undef VF
#undef W
#undef CK_QB
#undef vset1
#undef vzero
#undef vload
#undef vstore
#undef vloadn
#undef vstoren
#undef vadd
#undef vsub
#undef vmul
#undef vdiv
#undef vmax
#undef vmin
#undef vfma
#undef vfnma
#undef vsel_lt
#undef vabs
#undef vhsum
#undef vhmax
#undef vpow2
