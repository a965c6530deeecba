// Embedding lookups: the ViT patch convolution and token embedding gather.

/// Stride-P convolution without bias, as a patch embedding.
/// images `[B,3,H,W]`, weight `[C,3,P,P]` -> `[B, (H/P)*(W/P), C]`, patches in row-major order
/// (y then x). Like PyTorch, trailing pixels that do not fill a whole patch are ignored.
/// Implemented as im2col (`[B*N, 3*P*P]`, columns ordered channel, ky, kx) then one GEMM.
public func patchEmbed(_ images: Tensor, weight: Tensor, patchSize: Int) -> Tensor {
    precondition(images.rank == 4, "patchEmbed: images must be [B,C,H,W], got \(images.shape)")
    precondition(weight.rank == 4, "patchEmbed: weight must be [C,3,P,P], got \(weight.shape)")
    let p = patchSize
    let batch = images.shape[0], channels = images.shape[1], height = images.shape[2], width = images.shape[3]
    let outDim = weight.shape[0]
    precondition(p > 0 && weight.shape[2] == p && weight.shape[3] == p,
                 "patchEmbed: weight \(weight.shape) does not match patch size \(p)")
    precondition(weight.shape[1] == channels, "patchEmbed: weight has \(weight.shape[1]) input channels, images have \(channels)")
    let gh = height / p, gw = width / p, patches = gh * gw
    let cols = channels * p * p
    let rows = batch * patches
    var out = Tensor(shape: [batch, patches, outDim])
    guard rows > 0, outDim > 0 else { return out }

    var im2col = [Float](repeating: 0, count: rows * cols)
    images.data.withUnsafeBufferPointer { ib in
        im2col.withUnsafeMutableBufferPointer { cb in
            let src = SharedConstPointer(ib.baseAddress!), dst = SharedPointer(cb.baseAddress!)
            // One work item per (image, patch row).
            parallelRanges(batch * gh, workPerItem: gw * cols) { r in
                for item in r {
                    let b = item / gh, py = item % gh
                    for px in 0..<gw {
                        var d = dst.base + ((b * gh + py) * gw + px) * cols
                        for ch in 0..<channels {
                            for ky in 0..<p {
                                let s = src.base + ((b * channels + ch) * height + py * p + ky) * width + px * p
                                d.update(from: s, count: p)
                                d += p
                            }
                        }
                    }
                }
            }
        }
    }
    im2col.withUnsafeBufferPointer { cb in
        weight.data.withUnsafeBufferPointer { wb in
            out.data.withUnsafeMutableBufferPointer { ob in
                sgemm(m: rows, n: outDim, k: cols, a: cb.baseAddress!, lda: cols, b: wb.baseAddress!, ldb: cols,
                      transB: true, c: ob.baseAddress!, ldc: outDim)
            }
        }
    }
    return out
}

/// Rows of `table` `[V,C]` picked by `ids` -> `[ids.count, C]`.
public func embeddingGather(_ table: Tensor, ids: [Int]) -> Tensor {
    precondition(table.rank == 2, "embeddingGather: table must be [V,C], got \(table.shape)")
    let vocab = table.shape[0], c = table.shape[1]
    var out = Tensor(shape: [ids.count, c])
    guard !ids.isEmpty, c > 0 else { return out }
    table.data.withUnsafeBufferPointer { tb in
        out.data.withUnsafeMutableBufferPointer { ob in
            for (row, id) in ids.enumerated() {
                precondition(id >= 0 && id < vocab, "embeddingGather: id \(id) out of range 0..<\(vocab)")
                (ob.baseAddress! + row * c).update(from: tb.baseAddress! + id * c, count: c)
            }
        }
    }
    return out
}
