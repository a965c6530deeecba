// Session 17: time the four ViT-B/32 int8 products of one layer for 32 images, one product per
// image (2D, runtime source zero point, [1, N] post-ops) against one batched 3D product with
// per-image [B, 1, N] post-op operands. Build: gcc -O2 bench.c -o bench -ldnnl (Debian libdnnl-dev).
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
dnnl_engine_t eng; dnnl_stream_t st;
// returns seconds per call-set for B images of R rows, K->N
double run(int B,int R,int K,int N,int batched){
  int64_t M = batched? R : R;
  dnnl_memory_desc_t src,wei,dst,op1,op2; dnnl_primitive_desc_t pd; dnnl_primitive_t prim;
  dnnl_matmul_desc_t desc; dnnl_primitive_attr_t attr; dnnl_post_ops_t po;
  if(batched){
    dnnl_dims_t sd={B,R,K}, wd={1,K,N}, dd={B,R,N}, od={B,1,N};
    dnnl_memory_desc_init_by_tag(&src,3,sd,dnnl_u8,dnnl_abc);
    dnnl_memory_desc_init_by_tag(&wei,3,wd,dnnl_s8,dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&dst,3,dd,dnnl_f32,dnnl_abc);
    dnnl_memory_desc_init_by_tag(&op1,3,od,dnnl_f32,dnnl_abc);
    op2=op1;
  } else {
    dnnl_dims_t sd={R,K}, wd={K,N}, dd={R,N}, od={1,N};
    dnnl_memory_desc_init_by_tag(&src,2,sd,dnnl_u8,dnnl_ab);
    dnnl_memory_desc_init_by_tag(&wei,2,wd,dnnl_s8,dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&dst,2,dd,dnnl_f32,dnnl_ab);
    dnnl_memory_desc_init_by_tag(&op1,2,od,dnnl_f32,dnnl_ab);
    op2=op1;
  }
  dnnl_matmul_desc_init(&desc,&src,&wei,NULL,&dst);
  dnnl_primitive_attr_create(&attr); dnnl_post_ops_create(&po);
  dnnl_post_ops_append_binary(po,dnnl_binary_mul,&op1);
  dnnl_post_ops_append_binary(po,dnnl_binary_add,&op2);
  dnnl_primitive_attr_set_post_ops(attr,po);
  if(!batched){ const int32_t rz[1]={DNNL_RUNTIME_S32_VAL}; dnnl_primitive_attr_set_zero_points(attr,DNNL_ARG_SRC,1,0,rz);}
  if(dnnl_primitive_desc_create(&pd,&desc,attr,eng,NULL)){printf("pd fail\n");return -1;}
  const char* impl; dnnl_primitive_desc_query(pd,dnnl_query_impl_info_str,0,&impl);
  dnnl_primitive_create(&prim,pd);
  const dnnl_memory_desc_t* wmd=dnnl_primitive_desc_query_md(pd,dnnl_query_weights_md,0);
  dnnl_memory_t ms,mw,md,m1,m2,mz;
  size_t ssz = (size_t)B*R*K, dsz=(size_t)B*R*N;
  void* sbuf=calloc(ssz,1); float* dbuf=calloc(dsz,4); float* o1=calloc((size_t)B*N,4); float* o2=calloc((size_t)B*N,4);
  void* wbuf=calloc(dnnl_memory_desc_get_size(wmd),1); int32_t zp=128;
  dnnl_memory_create(&mw,wmd,eng,wbuf);
  dnnl_memory_create(&m1,&op1,eng,o1); dnnl_memory_create(&m2,&op2,eng,o2);
  dnnl_memory_desc_t zmd; dnnl_dims_t one={1}; dnnl_memory_desc_init_by_tag(&zmd,1,one,dnnl_s32,dnnl_a); dnnl_memory_create(&mz,&zmd,eng,&zp);
  double best=1e9;
  for(int rep=0;rep<5;rep++){
    double t0=now();
    int calls = batched?1:B;
    for(int c=0;c<calls;c++){
      dnnl_memory_create(&ms,&src,eng,(char*)sbuf + (batched?0:(size_t)c*R*K));
      dnnl_memory_create(&md,&dst,eng,dbuf + (batched?0:(size_t)c*R*N));
      dnnl_exec_arg_t a[6]={{DNNL_ARG_SRC,ms},{DNNL_ARG_WEIGHTS,mw},{DNNL_ARG_DST,md},
        {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0)|DNNL_ARG_SRC_1,m1},{DNNL_ARG_ATTR_MULTIPLE_POST_OP(1)|DNNL_ARG_SRC_1,m2},{DNNL_ARG_ATTR_ZERO_POINTS|DNNL_ARG_SRC,mz}};
      dnnl_primitive_execute(prim,st,batched?5:6,a); dnnl_stream_wait(st);
      dnnl_memory_destroy(ms); dnnl_memory_destroy(md);
    }
    double t=now()-t0; if(t<best)best=t;
  }
  printf("%s B=%d R=%d K=%d N=%d impl %s: %.2f ms  %.0f GOP/s\n", batched?"batched":"per-img",B,R,K,N,impl,best*1e3, 2.0*B*R*K*N/best/1e9);
  return best;
}
int main(){
  dnnl_engine_create(&eng,dnnl_cpu,0); dnnl_stream_create(&st,eng,dnnl_stream_default_flags);
  int shapes[4][2]={{768,2304},{768,768},{768,3072},{3072,768}};
  double tb=0,tp=0;
  for(int i=0;i<4;i++){ tp+=run(32,50,shapes[i][0],shapes[i][1],0); tb+=run(32,50,shapes[i][0],shapes[i][1],1);}
  printf("per layer: per-image %.1f ms, batched %.1f ms, ratio %.2f\n",tp*1e3,tb*1e3,tp/tb);
}
