// Session 17: which oneDNN 2.6 implementation a u8/s8 matmul gets with a per-row [M, 1] binary
// post-op (ref_int8: its slow reference kernel) against [1, N] only (brg:avx512_core_vnni).
// Build: gcc postop_impl.c -o postop_impl -ldnnl.
#include <dnnl.h>
#include <stdio.h>
int main(){
  dnnl_engine_t eng; dnnl_engine_create(&eng, dnnl_cpu, 0);
  int64_t M=1600,K=768,N=3072;
  for (int variant=0; variant<3; variant++){
  dnnl_memory_desc_t src,wei,dst,row,col;
  dnnl_dims_t sd={M,K}, wd={K,N}, dd={M,N}, cd={1,N}, rd={M,1};
  dnnl_memory_desc_init_by_tag(&src,2,sd,dnnl_s8,dnnl_ab);
  dnnl_memory_desc_init_by_tag(&wei,2,wd,dnnl_s8,dnnl_format_tag_any);
  dnnl_memory_desc_init_by_tag(&dst,2,dd,dnnl_f32,dnnl_ab);
  dnnl_memory_desc_init_by_tag(&col,2,cd,dnnl_f32,dnnl_ab);
  dnnl_memory_desc_init_by_tag(&row,2,rd,dnnl_f32,dnnl_ab);
  dnnl_matmul_desc_t desc; dnnl_matmul_desc_init(&desc,&src,&wei,NULL,&dst);
  dnnl_primitive_attr_t attr; dnnl_primitive_attr_create(&attr);
  dnnl_post_ops_t po; dnnl_post_ops_create(&po);
  dnnl_post_ops_append_binary(po,dnnl_binary_mul,&col);
  if (variant>=1) dnnl_post_ops_append_binary(po,dnnl_binary_mul,&row);
  dnnl_post_ops_append_binary(po,dnnl_binary_add,&col);
  if (variant==2) dnnl_post_ops_append_eltwise(po,1.0f,dnnl_eltwise_gelu_erf,0,0);
  dnnl_primitive_attr_set_post_ops(attr,po);
  dnnl_primitive_desc_t pd; dnnl_status_t s=dnnl_primitive_desc_create(&pd,&desc,attr,eng,NULL);
  const char* impl="?"; if(s==dnnl_success) dnnl_primitive_desc_query(pd,dnnl_query_impl_info_str,0,&impl);
  printf("variant %d status %d impl %s\n",variant,s,impl);
  }
}
