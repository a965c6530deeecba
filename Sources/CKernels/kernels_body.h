// The kernels, written once over a vector abstraction and included by ckernels.c three times
// (AVX-512, AVX2+FMA, portable). Before including, the includer defines:
//   TGT        function attribute (target("...")) or nothing
//   FN(name)   the level's name for a kernel
//   VF, W      vector type and its lane count
//   vset1(f) vzero() vload(p) vstore(p, v) vloadn(p, n, fill) vstoren(p, v, n)   (0 < n < W)
//   vadd vsub vmul vdiv vmax vmin vfma(a, b, c) = a b + c  vfnma(a, b, c) = c - a b
//   vsel_lt(x, y, a, b) = x < y ? a : b per lane   vabs(x)   vhsum(v)  vhmax(v)
//   vpow2(t)   2^n for t = n + 1.5 * 2^23 (the exponent trick of vexp)
// Polynomials and constants are those of Sources/KestrelKernels/FastMath.swift (Cephes expf;
// Abramowitz & Stegun 7.1.26 erf).

static inline TGT VF FN(exp)(VF x) {
    const VF minx = vset1(-87.33654475f), maxx = vset1(88.0f);
    VF xc = vmin(vmax(x, minx), maxx);
    const VF magic = vset1(12582912.0f);
    VF t = vfma(xc, vset1(1.44269504088896341f), magic);
    VF n = vsub(t, magic);
    VF r = vfnma(n, vset1(0.693359375f), xc);
    r = vfma(n, vset1(2.12194440e-4f), r);
    VF r2 = vmul(r, r);
    VF p = vset1(1.9875691500e-4f);
    p = vfma(p, r, vset1(1.3981999507e-3f));
    p = vfma(p, r, vset1(8.3334519073e-3f));
    p = vfma(p, r, vset1(4.1665795894e-2f));
    p = vfma(p, r, vset1(1.6666665459e-1f));
    p = vfma(p, r, vset1(5.0000001201e-1f));
    VF y = vadd(vfma(p, r2, r), vset1(1.0f));
    return vsel_lt(x, minx, vzero(), vmul(y, vpow2(t)));
}

// erfc(|z|) for z = x / sqrt 2 (A&S 7.1.26); GELU takes 1 + erf from it without cancellation.
static inline TGT VF FN(erfc_abs)(VF z) {
    VF az = vabs(z);
    VF t = vdiv(vset1(1.0f), vfma(az, vset1(0.3275911f), vset1(1.0f)));
    VF r = vset1(1.061405429f);
    r = vfma(r, t, vset1(-1.453152027f));
    r = vfma(r, t, vset1(1.421413741f));
    r = vfma(r, t, vset1(-0.284496736f));
    r = vfma(r, t, vset1(0.254829592f));
    return vmul(vmul(r, t), FN(exp)(vsub(vzero(), vmul(az, az))));
}

static inline TGT VF FN(gelu1)(VF x) {
    VF q = FN(erfc_abs)(vmul(x, vset1(0.70710678118654752f)));
    // 1 + erf(z) = 2 - erfc(|z|) for z >= 0, erfc(|z|) for z < 0.
    VF onePlusErf = vsel_lt(x, vzero(), q, vsub(vset1(2.0f), q));
    return vmul(vmul(vset1(0.5f), x), onePlusErf);
}

static inline TGT VF FN(sigmoid_mul)(VF x, VF arg) {  // x / (1 + e^-arg)
    return vdiv(x, vadd(vset1(1.0f), FN(exp)(vsub(vzero(), arg))));
}

static inline TGT VF FN(gelu_tanh1)(VF x) {
    VF x3 = vmul(vmul(x, x), x);
    VF y = vmul(vfma(x3, vset1(0.044715f), x), vset1(1.5957691216057308f));
    return FN(sigmoid_mul)(x, y);
}

static inline TGT VF FN(quick_gelu1)(VF x) { return FN(sigmoid_mul)(x, vmul(x, vset1(1.702f))); }

#define CK_MAP(name, f)                                                            \
    static TGT void FN(name)(float *x, long n) {                                   \
        long i = 0;                                                                \
        for (; i + 2 * W <= n; i += 2 * W) {                                       \
            VF a = vload(x + i), b = vload(x + i + W);                             \
            vstore(x + i, f(a));                                                   \
            vstore(x + i + W, f(b));                                               \
        }                                                                          \
        for (; i + W <= n; i += W) vstore(x + i, f(vload(x + i)));                 \
        if (i < n) vstoren(x + i, f(vloadn(x + i, n - i, 0.0f)), n - i);           \
    }
CK_MAP(gelu, FN(gelu1))
CK_MAP(gelu_tanh, FN(gelu_tanh1))
CK_MAP(quick_gelu, FN(quick_gelu1))
#undef CK_MAP

static TGT void FN(add)(float *x, const float *y, long n) {
    long i = 0;
    for (; i + W <= n; i += W) vstore(x + i, vadd(vload(x + i), vload(y + i)));
    if (i < n) vstoren(x + i, vadd(vloadn(x + i, n - i, 0.0f), vloadn(y + i, n - i, 0.0f)), n - i);
}

// Sum of (p[i] - shift)^2 (or of p[i] when square is 0), four accumulators.
static inline TGT float FN(row_sum)(const float *p, long n, float shift, int square) {
    VF a0 = vzero(), a1 = vzero(), a2 = vzero(), a3 = vzero();
    const VF m = vset1(shift);
    long i = 0;
    if (square) {
        for (; i + 4 * W <= n; i += 4 * W) {
            VF d0 = vsub(vload(p + i), m), d1 = vsub(vload(p + i + W), m);
            VF d2 = vsub(vload(p + i + 2 * W), m), d3 = vsub(vload(p + i + 3 * W), m);
            a0 = vfma(d0, d0, a0); a1 = vfma(d1, d1, a1); a2 = vfma(d2, d2, a2); a3 = vfma(d3, d3, a3);
        }
        for (; i + W <= n; i += W) { VF d = vsub(vload(p + i), m); a0 = vfma(d, d, a0); }
        if (i < n) { VF d = vsub(vloadn(p + i, n - i, shift), m); a1 = vfma(d, d, a1); }
    } else {
        for (; i + 4 * W <= n; i += 4 * W) {
            a0 = vadd(a0, vload(p + i)); a1 = vadd(a1, vload(p + i + W));
            a2 = vadd(a2, vload(p + i + 2 * W)); a3 = vadd(a3, vload(p + i + 3 * W));
        }
        for (; i + W <= n; i += W) a0 = vadd(a0, vload(p + i));
        if (i < n) a1 = vadd(a1, vloadn(p + i, n - i, 0.0f));
    }
    return vhsum(vadd(vadd(a0, a1), vadd(a2, a3)));
}

static TGT void FN(layernorm_rows)(const float *x, float *y, long r0, long r1, long c,
                                   const float *w, const float *b, float eps) {
    for (long r = r0; r < r1; r++) {
        const float *s = x + r * c;
        float *o = y + r * c;
        float mean = FN(row_sum)(s, c, 0.0f, 0) / (float)c;
        float var = FN(row_sum)(s, c, mean, 1) / (float)c;
        float inv = 1.0f / sqrtf(var + eps);
        const VF vm = vset1(mean), vi = vset1(inv);
        long j = 0;
        for (; j + W <= c; j += W)
            vstore(o + j, vfma(vmul(vsub(vload(s + j), vm), vi), vload(w + j), vload(b + j)));
        if (j < c) {
            long n = c - j;
            vstoren(o + j, vfma(vmul(vsub(vloadn(s + j, n, 0.0f), vm), vi), vloadn(w + j, n, 0.0f),
                                vloadn(b + j, n, 0.0f)), n);
        }
    }
}

static inline TGT void FN(softmax_row)(float *p, long n) {
    VF mx = vset1(-INFINITY);
    long j = 0;
    for (; j + W <= n; j += W) mx = vmax(mx, vload(p + j));
    if (j < n) mx = vmax(mx, vloadn(p + j, n - j, -INFINITY));
    float m = vhmax(mx);
    if (m == -INFINITY) {
        for (long i = 0; i < n; i++) p[i] = 0.0f;
        return;
    }
    const VF vm = vset1(m);
    VF acc = vzero();
    for (j = 0; j + W <= n; j += W) {
        VF e = FN(exp)(vsub(vload(p + j), vm));
        vstore(p + j, e);
        acc = vadd(acc, e);
    }
    if (j < n) {
        VF e = FN(exp)(vsub(vloadn(p + j, n - j, -INFINITY), vm));
        vstoren(p + j, e, n - j);
        acc = vadd(acc, e);
    }
    const VF inv = vset1(1.0f / vhsum(acc));
    for (j = 0; j + W <= n; j += W) vstore(p + j, vmul(vload(p + j), inv));
    if (j < n) vstoren(p + j, vmul(vloadn(p + j, n - j, 0.0f), inv), n - j);
}

static TGT void FN(softmax_rows)(float *x, long r0, long r1, long c) {
    for (long r = r0; r < r1; r++) FN(softmax_row)(x + r * c, c);
}

static TGT void FN(l2_normalize_rows)(float *x, long r0, long r1, long c) {
    for (long r = r0; r < r1; r++) {
        float *p = x + r * c;
        float norm = sqrtf(FN(row_sum)(p, c, 0.0f, 1));
        const VF inv = vset1(1.0f / (norm > 1e-12f ? norm : 1e-12f));
        long j = 0;
        for (; j + W <= c; j += W) vstore(p + j, vmul(vload(p + j), inv));
        if (j < c) vstoren(p + j, vmul(vloadn(p + j, c - j, 0.0f), inv), c - j);
    }
}

// Attention, one (batch, head) task at a time. Keys are transposed (and zero-padded to whole
// vectors) into kt [d, kp], so scores come W at a time from broadcast-FMAs with no horizontal
// sums. Queries go four at a time (a register block of 4 queries x 2 key vectors, then of
// 4 queries x 2 vectors of d), which gives eight independent FMA chains and reuses every load.
// A group's scores rows are softmaxed over each query's visible keys and zeroed up to the
// group's widest row; missing queries of the last group repeat a real one and write to scratch.
static TGT int FN(attention)(const float *q, const float *k, const float *v, float *out, long ldq, long ldkv,
                             long ldo, long t, long s, long heads, long d, int causal, const long *valid,
                             long task0, long task1) {
    long sp = (s + W - 1) / W * W;
    size_t floats = (size_t)(d * sp + CK_QB * sp + d);
    float *kt = (float *)aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    if (!kt) return -1;
    float *scores = kt + d * sp, *dummy = scores + CK_QB * sp;
    const float alpha = 1.0f / sqrtf((float)d);
    const VF va = vset1(alpha);
    for (long task = task0; task < task1; task++) {
        long b = task / heads, h = task % heads;
        long keys = s;
        if (valid) { keys = valid[b] < 0 ? 0 : valid[b]; if (keys > s) keys = s; }
        float *ob = out + b * t * ldo + h * d;
        if (keys == 0) {
            for (long i = 0; i < t; i++) for (long l = 0; l < d; l++) ob[i * ldo + l] = 0.0f;
            continue;
        }
        const float *qb = q + b * t * ldq + h * d;
        const float *kb = k + b * s * ldkv + h * d;
        const float *vb = v + b * s * ldkv + h * d;
        long kp = (keys + W - 1) / W * W;
        for (long j = 0; j < keys; j++) {
            const float *kr = kb + j * ldkv;
            for (long l = 0; l < d; l++) kt[l * kp + j] = kr[l];
        }
        for (long l = 0; l < d; l++) for (long j = keys; j < kp; j++) kt[l * kp + j] = 0.0f;
        for (long i0 = 0; i0 < t; i0 += CK_QB) {
            long nq = t - i0 < CK_QB ? t - i0 : CK_QB;
            const float *qr[CK_QB];
            float *orow[CK_QB], *srow[CK_QB];
            long vis[CK_QB], maxvis = 0;
            for (long u = 0; u < CK_QB; u++) {
                long i = u < nq ? i0 + u : i0;
                qr[u] = qb + i * ldq;
                orow[u] = u < nq ? ob + i * ldo : dummy;
                srow[u] = scores + u * sp;
                vis[u] = causal ? (i + 1 < keys ? i + 1 : keys) : keys;
                if (vis[u] > maxvis) maxvis = vis[u];
            }
            // Scores: 2 key vectors x CK_QB queries per pass over d (kt is padded to whole vectors,
            // so j0 + W < maxvis keeps both inside it), then 1 vector x CK_QB queries for the rest.
            long j0 = 0;
            for (; j0 + W < maxvis; j0 += 2 * W) {
                VF a[CK_QB][2];
                for (int u = 0; u < CK_QB; u++) { a[u][0] = vzero(); a[u][1] = vzero(); }
                const float *kc = kt + j0;
                for (long l = 0; l < d; l++) {
                    VF k0 = vload(kc + l * kp), k1 = vload(kc + l * kp + W);
                    for (int u = 0; u < CK_QB; u++) {
                        VF qv = vset1(qr[u][l]);
                        a[u][0] = vfma(qv, k0, a[u][0]);
                        a[u][1] = vfma(qv, k1, a[u][1]);
                    }
                }
                for (int u = 0; u < CK_QB; u++) {
                    vstore(srow[u] + j0, vmul(a[u][0], va));
                    vstore(srow[u] + j0 + W, vmul(a[u][1], va));
                }
            }
            if (j0 < maxvis) {
                VF a[CK_QB];
                for (int u = 0; u < CK_QB; u++) a[u] = vzero();
                const float *kc = kt + j0;
                for (long l = 0; l < d; l++) {
                    VF k0 = vload(kc + l * kp);
                    for (int u = 0; u < CK_QB; u++) a[u] = vfma(vset1(qr[u][l]), k0, a[u]);
                }
                for (int u = 0; u < CK_QB; u++) vstore(srow[u] + j0, vmul(a[u], va));
            }
            for (long u = 0; u < CK_QB; u++) {
                FN(softmax_row)(srow[u], vis[u]);
                for (long j = vis[u]; j < maxvis; j++) srow[u][j] = 0.0f;
            }
            // Output: 2 vectors of d x CK_QB queries per pass over the keys.
            long l = 0;
            for (; l + 2 * W <= d; l += 2 * W) {
                VF o[CK_QB][2];
                for (int u = 0; u < CK_QB; u++) { o[u][0] = vzero(); o[u][1] = vzero(); }
                for (long j = 0; j < maxvis; j++) {
                    const float *vr = vb + j * ldkv + l;
                    VF v0 = vload(vr), v1 = vload(vr + W);
                    for (int u = 0; u < CK_QB; u++) {
                        VF p = vset1(srow[u][j]);
                        o[u][0] = vfma(p, v0, o[u][0]);
                        o[u][1] = vfma(p, v1, o[u][1]);
                    }
                }
                for (int u = 0; u < CK_QB; u++) { vstore(orow[u] + l, o[u][0]); vstore(orow[u] + l + W, o[u][1]); }
            }
            for (; l < d; l += W) {
                long n = d - l < W ? d - l : W;
                VF o[CK_QB];
                for (int u = 0; u < CK_QB; u++) o[u] = vzero();
                for (long j = 0; j < maxvis; j++) {
                    VF v0 = n == W ? vload(vb + j * ldkv + l) : vloadn(vb + j * ldkv + l, n, 0.0f);
                    for (int u = 0; u < CK_QB; u++) o[u] = vfma(vset1(srow[u][j]), v0, o[u]);
                }
                for (int u = 0; u < CK_QB; u++) {
                    if (n == W) vstore(orow[u] + l, o[u]); else vstoren(orow[u] + l, o[u], n);
                }
            }
        }
    }
    free(kt);
    return 0;
}

static const ck_table FN(table) = {
    FN(layernorm_rows), FN(gelu), FN(gelu_tanh), FN(quick_gelu), FN(softmax_rows),
    FN(l2_normalize_rows), FN(add), FN(attention),
};
