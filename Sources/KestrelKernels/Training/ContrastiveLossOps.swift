import CBLAS
import Foundation

// CLIP's symmetric InfoNCE, in Double (B is small: the B×B logits and their softmaxes are cheap;
// the two B×B×D products run on OpenBLAS dgemm).
//   s = exp(logScale);  L = s · I T^T  [B, B]
//   image->text: row i, targets t_i = targets[i, :]            (identity when hard)
//   text->image: column j, targets u_j = targets[:, j] / Σ_i targets[i, j]
//   loss = (1/B Σ_i CE(L[i, :], t_i) + 1/B Σ_j CE(L[:, j], u_j)) / 2,  CE(z, t) = -Σ t log softmax(z)
//   dL[i, j] = ((Σt_i) p_row[i, j] - t_i[j] + (Σu_j) p_col[j, i] - u_j[i]) / (2B)
//   dI += s dL T;  dT += s dL^T I;  dLogScale += Σ dL ⊙ L  (∂L/∂logScale = L).

extension TrainOps {
    // MARK: Contrastive loss (CLIP's symmetric InfoNCE)

    /// logits[i, j] = exp(logScale) · image[i] · text[j] over B normalised pairs [B, D];
    /// loss = (CE(rows of logits, targets) + CE(columns of logits, targets^T)) / 2, mean over B.
    /// `targets`: nil = the identity (hard InfoNCE, as CLIP and transformers' `clip_loss`);
    /// otherwise a [B, B] row-stochastic matrix (soft targets; row i sums to 1) used for both
    /// directions (rows for image->text, its transpose's rows for text->image, each renormalised).
    /// A column of targets summing to zero contributes nothing to the text->image term.
    /// Accumulates dImage[B, D], dText[B, D] and dLogScale[1]; returns the loss.
    public static func contrastiveLoss(
        image: UnsafePointer<Float>, text: UnsafePointer<Float>, logScale: Float, targets: [Float]?,
        batch: Int, dim: Int,
        dImage: UnsafeMutablePointer<Float>?, dText: UnsafeMutablePointer<Float>?, dLogScale: UnsafeMutablePointer<Float>?
    ) -> Float {
        let B = batch, D = dim
        guard B > 0 else { return 0 }
        precondition(targets == nil || targets!.count == B * B,
                     "TrainOps.contrastiveLoss: targets has \(targets!.count) values, expected \(B)x\(B)")
        let s = exp(Double(logScale))
        var img = (0..<(B * D)).map { Double(image[$0]) }
        var txt = (0..<(B * D)).map { Double(text[$0]) }
        var logits = [Double](repeating: 0, count: B * B)
        if D > 0 {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(B), Int32(B), Int32(D), s,
                        img, Int32(D), txt, Int32(D), 0, &logits, Int32(B))
        }
        // Targets per direction: tRow[i, j] (image->text), tCol[j, i] (text->image, renormalised).
        var tRow = [Double](repeating: 0, count: B * B), tCol = [Double](repeating: 0, count: B * B)
        if let targets {
            for i in 0..<B { for j in 0..<B { tRow[i * B + j] = Double(targets[i * B + j]) } }
            for j in 0..<B {
                var sum = 0.0
                for i in 0..<B { sum += tRow[i * B + j] }
                if sum > 0 { for i in 0..<B { tCol[j * B + i] = tRow[i * B + j] / sum } }
            }
        } else {
            for i in 0..<B { tRow[i * B + i] = 1; tCol[i * B + i] = 1 }
        }
        var dL = [Double](repeating: 0, count: B * B)
        var loss = 0.0
        let w = 1 / (2 * Double(B))
        var z = [Double](repeating: 0, count: B)
        for direction in 0..<2 {
            for r in 0..<B {
                // z = row r of L (direction 0) or column r (direction 1).
                for c in 0..<B { z[c] = direction == 0 ? logits[r * B + c] : logits[c * B + r] }
                let m = z.max()!
                var se = 0.0
                for c in 0..<B { se += exp(z[c] - m) }
                let lse = m + log(se)
                let t = direction == 0 ? tRow : tCol
                var tSum = 0.0
                for c in 0..<B {
                    let tc = t[r * B + c]
                    if tc != 0 { loss -= w * tc * (z[c] - lse) }
                    tSum += tc
                }
                for c in 0..<B {
                    let g = w * (tSum * exp(z[c] - lse) - t[r * B + c])
                    if direction == 0 { dL[r * B + c] += g } else { dL[c * B + r] += g }
                }
            }
        }
        if let dLogScale {
            var acc = 0.0
            for i in 0..<(B * B) { acc += dL[i] * logits[i] }
            dLogScale[0] += Float(acc)
        }
        if D > 0, let dImage {
            var g = [Double](repeating: 0, count: B * D)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(B), Int32(D), Int32(B), s,
                        dL, Int32(B), txt, Int32(D), 0, &g, Int32(D))
            for i in 0..<(B * D) { dImage[i] += Float(g[i]) }
        }
        if D > 0, let dText {
            var g = [Double](repeating: 0, count: B * D)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(B), Int32(D), Int32(B), s,
                        dL, Int32(B), img, Int32(D), 0, &g, Int32(D))
            for i in 0..<(B * D) { dText[i] += Float(g[i]) }
        }
        img.removeAll(); txt.removeAll()
        return Float(loss)
    }
}
