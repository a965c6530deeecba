/// A dense, row-major float32 tensor. Value semantics (copy-on-write through `data`).
///
/// Shapes follow PyTorch: a linear layer's weight is `[out, in]`, activations are
/// `[batch, tokens, channels]`, images are `[batch, 3, height, width]`.
public struct Tensor: Sendable, Equatable {
    public private(set) var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.data = [Float](repeating: value, count: shape.reduce(1, *))
    }

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) needs \(shape.reduce(1, *)) values, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    /// Number of elements.
    public var count: Int { data.count }
    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// Size of the last dimension (the "channels" of a row-wise op).
    public var lastDim: Int { shape.last ?? 1 }
    /// Number of rows when viewed as `[rows, lastDim]`.
    public var rows: Int { lastDim == 0 ? 0 : count / lastDim }

    /// The same values under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, data: data)
    }

    public mutating func reshape(_ newShape: [Int]) {
        precondition(newShape.reduce(1, *) == data.count, "cannot reshape \(shape) to \(newShape)")
        shape = newShape
    }

    /// Rows `range` of the tensor viewed as `[rows, lastDim]`, as a `[range.count, lastDim]` tensor.
    public func rows(_ range: Range<Int>) -> Tensor {
        let c = lastDim
        return Tensor(shape: [range.count, c], data: Array(data[(range.lowerBound * c)..<(range.upperBound * c)]))
    }
}
