// Embeddings: the patch embedding (a stride-p convolution without bias, as CLIP's conv1) via
// im2col and sgemm over chunks of images; token-table lookup and its scatter-add backward;
// the learned position add.

extension TrainOps {
    // MARK: Embeddings

    /// Patch embedding (a stride-p convolution without bias): images[B, 3, H, W] and
    /// weight[width, 3, p, p] -> out[B, (H/p)·(W/p), width], patches in row-major grid order.
    /// (H/p and W/p round down, as torch's Conv2d drops the remainder.)
    public static func patchEmbedForward(
        out: UnsafeMutablePointer<Float>, images: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        batch: Int, channels: Int, height: Int, width imageWidth: Int, patch: Int, embedWidth: Int
    ) {
        let g = PatchGeometry(channels: channels, height: height, width: imageWidth, patch: patch)
        guard batch > 0, g.patches > 0, embedWidth > 0 else { return }
        g.forEachChunk(batch: batch, images: images) { b0, nb, cols in
            trainGEMM(m: nb * g.patches, n: embedWidth, k: g.k, a: cols, lda: g.k, transA: false,
                      b: weight, ldb: g.k, transB: true, beta: 0, c: out + b0 * g.patches * embedWidth, ldc: embedWidth)
        }
    }

    /// dWeight[width, 3, p, p] += the weight gradient from dOut[B, P, width] (pixels get none).
    public static func patchEmbedBackward(
        dWeight: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, images: UnsafePointer<Float>,
        batch: Int, channels: Int, height: Int, width imageWidth: Int, patch: Int, embedWidth: Int
    ) {
        let g = PatchGeometry(channels: channels, height: height, width: imageWidth, patch: patch)
        guard batch > 0, g.patches > 0, embedWidth > 0 else { return }
        g.forEachChunk(batch: batch, images: images) { b0, nb, cols in
            // dW[E, K] += dOut^T[E, nb·P] · cols[nb·P, K]
            trainGEMM(m: embedWidth, n: g.k, k: nb * g.patches, a: dOut + b0 * g.patches * embedWidth, lda: embedWidth,
                      transA: true, b: cols, ldb: g.k, transB: false, beta: 1, c: dWeight, ldc: g.k)
        }
    }

    /// out[n, width] = table[ids[n], width].
    public static func embeddingForward(
        out: UnsafeMutablePointer<Float>, table: UnsafePointer<Float>, ids: [Int], width: Int
    ) {
        for (n, id) in ids.enumerated() { (out + n * width).update(from: table + id * width, count: width) }
    }

    /// dTable[ids[n]] += dOut[n] (repeated ids accumulate).
    public static func embeddingBackward(
        dTable: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, ids: [Int], width: Int
    ) {
        for (n, id) in ids.enumerated() {
            let t = dTable + id * width, g = dOut + n * width
            for j in 0..<width { t[j] += g[j] }
        }
    }

    /// x[B, T, W] += position[T, W] (in place; its backward is `positionAddBackward`).
    public static func positionAddForward(
        x: UnsafeMutablePointer<Float>, position: UnsafePointer<Float>, batch: Int, tokens: Int, width: Int
    ) {
        let n = tokens * width
        guard n > 0 else { return }
        let xp = TrainMut(x), pp = TrainConst(position)
        trainRows(batch, workPerItem: n) { range in
            for b in range {
                let xb = xp.p + b * n
                for i in 0..<n { xb[i] += pp.p[i] }
            }
        }
    }

    /// dPosition[T, W] += Σ_b dx[b, T, W].
    public static func positionAddBackward(
        dPosition: UnsafeMutablePointer<Float>, dx: UnsafePointer<Float>, batch: Int, tokens: Int, width: Int
    ) {
        columnSums(into: dPosition, dx, rows: batch, columns: tokens * width)
    }
}

/// The im2col layout of a patch embedding: one row per patch, K = C·p·p columns ordered as the
/// weight's [C, p, p].
struct PatchGeometry {
    let channels: Int, height: Int, width: Int, patch: Int
    let gridH: Int, gridW: Int, patches: Int, k: Int

    init(channels: Int, height: Int, width: Int, patch: Int) {
        self.channels = channels; self.height = height; self.width = width; self.patch = patch
        gridH = patch > 0 ? height / patch : 0
        gridW = patch > 0 ? width / patch : 0
        patches = gridH * gridW
        k = channels * patch * patch
    }

    /// Calls `body(firstImage, imageCount, cols[imageCount·patches, k])` over chunks of the batch
    /// (about 2M floats of columns each).
    func forEachChunk(
        batch: Int, images: UnsafePointer<Float>,
        _ body: (Int, Int, UnsafePointer<Float>) -> Void
    ) {
        let perImage = patches * k
        let chunk = max(1, min(batch, (1 << 21) / max(1, perImage)))
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: chunk * perImage)
        defer { cols.deallocate() }
        var b0 = 0
        while b0 < batch {
            let nb = min(chunk, batch - b0)
            let cp = TrainMut(cols), ip = TrainConst(images)
            let g = self, first = b0
            trainRows(nb * patches, workPerItem: k) { range in
                for row in range {
                    let b = first + row / g.patches, p = row % g.patches
                    let py = p / g.gridW, px = p % g.gridW
                    let dst = cp.p + row * g.k
                    for c in 0..<g.channels {
                        for ky in 0..<g.patch {
                            let src = ip.p + ((b * g.channels + c) * g.height + py * g.patch + ky) * g.width + px * g.patch
                            (dst + (c * g.patch + ky) * g.patch).update(from: src, count: g.patch)
                        }
                    }
                }
            }
            body(b0, nb, cols)
            b0 += nb
        }
    }
}
