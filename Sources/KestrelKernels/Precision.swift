/// The number format of a linear layer's weights and of the products computed with them.
///
/// - `fp32`: IEEE single precision; the default, exact against the reference implementations.
/// - `bf16`: bfloat16 weights and activations, fp32 accumulation (AVX512-BF16 `vdpbf16ps`).
/// - `int8`: int8 weights quantised per output channel at load, activations quantised per call
///   (dynamic, one scale per product: the towers run each image and text alone at int8, so an
///   embedding never depends on its batch), int32 accumulation (AVX512-VNNI `vpdpbusd`), fp32 output.
public enum Precision: String, Sendable, CaseIterable, Codable {
    case fp32, bf16, int8
}
