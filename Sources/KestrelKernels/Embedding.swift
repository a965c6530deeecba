// Input embeddings: the ViT's patch convolution and the text tower's token table.

/// Non-overlapping patch convolution without bias (stride = kernel = `patchSize`), as im2col + GEMM.
/// images `[B, Cin, H, W]`, weight `[C, Cin, P, P]` -> `[B, (H/P)*(W/P), C]`, patches in row-major
/// (y, then x) order. Like PyTorch's conv, trailing pixels that do not fill a patch are dropped.
public func patchEmbed(_ images: Tensor, weight: Tensor, patchSize p: Int) -> Tensor {
    precondition(images.rank == 4, "patchEmbed: images must be [B, 3, H, W], got \(images.shape)")
    precondition(weight.rank == 4, "patchEmbed: weight must be [C, 3, P, P], got \(weight.shape)")
    precondition(p >= 1, "patchEmbed: patch size \(p)")
    let batch = images.shape[0], channels = images.shape[1], h = images.shape[2], w = images.shape[3]
    precondition(weight.shape[1] == channels,
                 "patchEmbed: weight has \(weight.shape[1]) input channels, images have \(channels)")
    precondition(weight.shape[2] == p && weight.shape[3] == p,
                 "patchEmbed: weight kernel \(weight.shape[2])x\(weight.shape[3]) vs patch size \(p)")
    let outChannels = weight.shape[0]
    let gh = h / p, gw = w / p, patches = gh * gw, k = channels * p * p

    // cols[B*N, Cin*P*P], column (c, ky, kx) matching the flattened weight [C, Cin*P*P].
    var cols = Tensor(shape: [batch * patches, k])
    if cols.count > 0 {
        images.data.withUnsafeBufferPointer { ib in
            cols.data.withUnsafeMutableBufferPointer { cb in
                let src = SharedConstPointer(ib.baseAddress!), dst = SharedPointer(cb.baseAddress!)
                parallelRanges(batch * gh, workPerItem: gw * k) { range in
                    for row in range {  // one row of patches: image b, patch row py
                        let b = row / gh, py = row % gh
                        for px in 0..<gw {
                            let out = dst.base + (row * gw + px) * k
                            for ch in 0..<channels {
                                for ky in 0..<p {
                                    let from = src.base + ((b * channels + ch) * h + py * p + ky) * w + px * p
                                    (out + (ch * p + ky) * p).update(from: from, count: p)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    var y = linear(cols, weight: weight.reshaped([outChannels, k]), bias: nil)  // [B*N, C]
    y.reshape([batch, patches, outChannels])
    return y
}

/// Rows of `table` `[V, C]` picked by `ids` -> `[ids.count, C]`.
/// An id outside `0..<V` is a precondition failure naming the id and its position: callers
/// (the tokenizer, the text tower) validate ids first.
public func embeddingGather(_ table: Tensor, ids: [Int]) -> Tensor {
    precondition(table.rank == 2, "embeddingGather: table must be [V, C], got \(table.shape)")
    let vocab = table.shape[0], c = table.shape[1]
    for (i, id) in ids.enumerated() {
        precondition(id >= 0 && id < vocab, "embeddingGather: id \(id) at position \(i) is outside the table's \(vocab) rows")
    }
    var out = Tensor(shape: [ids.count, c])
    guard c > 0, !ids.isEmpty else { return out }
    table.data.withUnsafeBufferPointer { tb in
        out.data.withUnsafeMutableBufferPointer { ob in
            let t = tb.baseAddress!, o = ob.baseAddress!
            for (i, id) in ids.enumerated() { (o + i * c).update(from: t + id * c, count: c) }
        }
    }
    return out
}
