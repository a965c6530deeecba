import KestrelKernels

/// Every trainable tensor of a model in one flat buffer, with named views (llm.c's layout):
/// values, gradients, and the optimiser's moments share offsets, so AdamW is one loop per group.
///
/// Names are Kestrel's tensor names (KestrelModels' `weightRules`: `vision.patch`,
/// `text.block3.qkv.weight`, `logit_scale`, ...); the checkpoint key tables map them to the
/// Hugging Face and OpenCLIP layouts.
public final class ParameterSet: @unchecked Sendable {
    /// One named view.
    public struct View: Sendable, Equatable, Codable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
        /// false: frozen (no gradient is applied; the optimiser skips it).
        public var trainable: Bool
        /// Decoupled weight decay applies (false for norms, biases, embeddings, the logit scale:
        /// see `ParameterSet.decays(name:)`).
        public var decays: Bool
    }

    public private(set) var views: [View] = []
    private var index: [String: Int] = [:]
    /// All values, flat. [count]
    public var values: [Float]
    /// All gradients, flat, same offsets. [count]
    public var gradients: [Float]

    public var count: Int { values.count }

    /// Lays out `tensors` (name, shape) in order, values zero.
    public init(_ tensors: [(name: String, shape: [Int])]) {
        var offset = 0
        for (name, shape) in tensors {
            precondition(index[name] == nil, "ParameterSet: duplicate tensor \(name)")
            index[name] = views.count
            views.append(View(name: name, shape: shape, offset: offset, trainable: true,
                              decays: ParameterSet.decays(name: name, shape: shape)))
            offset += shape.reduce(1, *)
        }
        values = [Float](repeating: 0, count: offset)
        gradients = [Float](repeating: 0, count: offset)
    }

    /// open_clip's rule, as the issue states it: no decay on norms, biases, embeddings (token,
    /// position, class) and the logit scale; decay on every other matrix (linears, projections,
    /// the patch convolution).
    public static func decays(name: String, shape: [Int]) -> Bool {
        if shape.count < 2 { return false }  // biases, norm weights, class embedding, logit scale
        if name.hasSuffix(".position") || name == "text.token" || name == "vision.class" { return false }
        return true
    }

    public func view(_ name: String) -> View {
        guard let i = index[name] else { preconditionFailure("ParameterSet: no tensor named \(name)") }
        return views[i]
    }

    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// Freezes or unfreezes every tensor whose name has `prefix` ("vision.", "text.block0.", an exact name).
    public func setTrainable(_ trainable: Bool, prefix: String) {
        for i in views.indices where views[i].name.hasPrefix(prefix) { views[i].trainable = trainable }
    }

    /// The values of one tensor as a copy.
    public func tensor(_ name: String) -> Tensor {
        let v = view(name)
        return Tensor(shape: v.shape, data: Array(values[v.offset..<(v.offset + v.count)]))
    }

    /// Overwrites one tensor's values.
    public func set(_ name: String, _ data: [Float]) {
        let v = view(name)
        precondition(data.count == v.count, "ParameterSet.set(\(name)): \(data.count) values for shape \(v.shape)")
        values.replaceSubrange(v.offset..<(v.offset + v.count), with: data)
    }

    /// The gradient of one tensor as a copy.
    public func gradient(_ name: String) -> Tensor {
        let v = view(name)
        return Tensor(shape: v.shape, data: Array(gradients[v.offset..<(v.offset + v.count)]))
    }

    public func zeroGradients() {
        gradients.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}
