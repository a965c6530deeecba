import Foundation
import KestrelKernels

// The detection heads of OWL-ViT / OWLv2 (transformers' `OwlViTBoxPredictionHead`,
// `OwlViTClassPredictionHead`, `Owlv2ForObjectDetection.objectness_predictor`), on the patch
// features f [N, W] = layer_norm(post_layernorm(x)[1:] * post_layernorm(x)[0]).

/// Three dense layers with exact GELU between them: W -> W -> W -> out (box head: out 4; OWLv2's
/// objectness head: out 1).
struct OWLMLPHead: Sendable {
    let dense0, dense1, dense2: LinearWeight

    init(reading r: WeightReader, head: String, width w: Int, out: Int, gemm: GEMMChoice) throws {
        func linear(_ i: Int, _ o: Int) throws -> LinearWeight {
            LinearWeight(weight: try r.tensor("owl.\(head).dense\(i).weight", shape: [o, w]),
                         bias: try r.tensor("owl.\(head).dense\(i).bias", shape: [o]), precision: gemm.precision, backend: gemm.backend)
        }
        dense0 = try linear(0, w); dense1 = try linear(1, w); dense2 = try linear(2, out)
    }

    /// x [rows, W] -> [rows, out].
    func forward(_ x: UnsafePointer<Float>, rows: Int, threads: Int) -> [Float] {
        let w = dense0.outFeatures
        var a = [Float](repeating: 0, count: rows * w), b = a
        var y = [Float](repeating: 0, count: rows * dense2.outFeatures)
        a.withUnsafeMutableBufferPointer { pa in b.withUnsafeMutableBufferPointer { pb in y.withUnsafeMutableBufferPointer { py in
            dense0.apply(x, rows: rows, activation: .gelu, into: pa.baseAddress!, threads: threads)              // a = gelu(dense0(x))
            dense1.apply(pa.baseAddress!, rows: rows, activation: .gelu, into: pb.baseAddress!, threads: threads) // b = gelu(dense1(a))
            dense2.apply(pb.baseAddress!, rows: rows, into: py.baseAddress!, threads: threads)                  // y = dense2(b)
        } } }
        return y
    }
}

/// The class head: class embeddings dense(f) [N, D] (D the text width), a per-patch logit shift
/// shift(f) [N] and scale elu(scale(f)) + 1 [N].
struct OWLClassHead: Sendable {
    let dense, shift, scale: LinearWeight

    init(reading r: WeightReader, width w: Int, queryWidth d: Int, gemm: GEMMChoice) throws {
        func linear(_ name: String, _ o: Int) throws -> LinearWeight {
            LinearWeight(weight: try r.tensor("owl.class.\(name).weight", shape: [o, w]),
                         bias: try r.tensor("owl.class.\(name).bias", shape: [o]), precision: gemm.precision, backend: gemm.backend)
        }
        dense = try linear("dense", d); shift = try linear("shift", 1); scale = try linear("scale", 1)
    }
}

/// The fixed box bias of patch (y, x) on a g x g grid (transformers' `compute_box_bias`):
/// inverse sigmoid of the patch's bottom-right corner ((x+1)/g, (y+1)/g) and of the size (1/g, 1/g),
/// with log(p + 1e-4) - log1p(-p + 1e-4). [g*g, 4] row-major, rows y then x, columns (cx, cy, w, h).
public func owlBoxBias(grid g: Int) -> [Float] {
    func inverseSigmoid(_ p: Float) -> Float { logf(p + 1e-4) - log1pf(-p + 1e-4) }
    var out = [Float](repeating: 0, count: g * g * 4)
    let size = inverseSigmoid(1 / Float(g))
    for y in 0..<g {
        for x in 0..<g {
            let i = (y * g + x) * 4
            out[i] = inverseSigmoid(min(max(Float(x + 1) / Float(g), 0), 1))
            out[i + 1] = inverseSigmoid(min(max(Float(y + 1) / Float(g), 0), 1))
            out[i + 2] = size
            out[i + 3] = size
        }
    }
    return out
}

/// (cx, cy, w, h) -> (x0, y0, x1, y1), as transformers' `center_to_corners_format`.
@inlinable public func owlCorners(_ b: ArraySlice<Float>) -> (Float, Float, Float, Float) {
    let (cx, cy, w, h) = (b[b.startIndex], b[b.startIndex + 1], b[b.startIndex + 2], b[b.startIndex + 3])
    return (cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h)
}

/// The patch whose class embedding OWL-ViT uses as an image query (`OwlViTForObjectDetection.embed_image_query`):
/// the boxes whose IoU with the whole picture [0, 0, 1, 1] is at least 0.8 x the best (generalised
/// IoU when no box overlaps it), and of those the one least similar (dot product) to the mean
/// class embedding. boxes [N, 4] normalised (cx, cy, w, h); classEmbeddings [N, D]. nil when N = 0.
public func owlViTQueryPatch(boxes: [Float], classEmbeddings: [Float], patches n: Int) -> Int? {
    guard n > 0 else { return nil }
    let d = classEmbeddings.count / n
    var ious = [Float](repeating: 0, count: n)
    var unions = ious
    for i in 0..<n {
        let (x0, y0, x1, y1) = owlCorners(boxes[(4 * i)..<(4 * i + 4)])
        let area = (x1 - x0) * (y1 - y0)
        let inter = max(min(1, x1) - max(0, x0), 0) * max(min(1, y1) - max(0, y0), 0)
        unions[i] = 1 + area - inter
        ious[i] = inter / unions[i]
    }
    if ious.allSatisfy({ $0 == 0 }) {
        for i in 0..<n {
            let (x0, y0, x1, y1) = owlCorners(boxes[(4 * i)..<(4 * i + 4)])
            let enclosing = max(max(1, x1) - min(0, x0), 0) * max(max(1, y1) - min(0, y0), 0)
            ious[i] -= (enclosing - unions[i]) / enclosing
        }
    }
    let threshold = (ious.max() ?? 0) * 0.8
    var mean = [Float](repeating: 0, count: d)
    for i in 0..<n { for c in 0..<d { mean[c] += classEmbeddings[i * d + c] } }
    for c in 0..<d { mean[c] /= Float(n) }
    var best: (index: Int, similarity: Float)?
    for i in 0..<n where ious[i] >= threshold {
        var s: Float = 0
        for c in 0..<d { s += mean[c] * classEmbeddings[i * d + c] }
        if best == nil || s < best!.similarity { best = (i, s) }
    }
    return best?.index
}

/// elu(x) + 1 (alpha 1), the class head's scale.
@inline(__always) func owlScale(_ x: Float) -> Float { (x > 0 ? x : expm1f(x)) + 1 }

/// 1 / (1 + exp(-x)).
@inline(__always) public func owlSigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }
