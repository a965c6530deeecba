import Foundation

/// Maps over `items` on all cores, keeping order.
func parallelMap<T, R>(_ items: [T], _ transform: (T) -> R) -> [R] {
    guard items.count > 1 else { return items.map(transform) }
    let out = UnsafeMutableBufferPointer<R?>.allocate(capacity: items.count)
    out.initialize(repeating: nil)
    defer { out.deinitialize(); out.deallocate() }
    let box = SendableBuffer(out)
    items.withUnsafeBufferPointer { input in
        let inputs = UnsafeSendable(input)
        withoutActuallyEscaping(transform) { f in
            let fn = UnsafeSendable(f)
            DispatchQueue.concurrentPerform(iterations: items.count) { i in box.buffer[i] = fn.value(inputs.value[i]) }
        }
    }
    return out.map { $0! }
}

struct UnsafeSendable<T>: @unchecked Sendable { let value: T; init(_ value: T) { self.value = value } }

struct SendableBuffer<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<T>
    init(_ buffer: UnsafeMutableBufferPointer<T>) { self.buffer = buffer }
}
