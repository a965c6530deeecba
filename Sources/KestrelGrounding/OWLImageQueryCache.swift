import Foundation
import KestrelImage

/// The last few image queries (the picture itself, compared in full, and its embedding and patch):
/// one query picture used against many pictures runs its tower once.
final class OWLImageQueryCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [(image: DecodedImage, embedding: [Float], patch: Int)] = []
    let capacity: Int

    init(capacity: Int) { self.capacity = max(capacity, 1) }

    func get(_ image: DecodedImage) -> (embedding: [Float], patch: Int)? {
        lock.lock(); defer { lock.unlock() }
        guard let i = entries.firstIndex(where: { $0.image == image }) else { return nil }
        let e = entries.remove(at: i)
        entries.append(e)
        return (e.embedding, e.patch)
    }

    func put(_ image: DecodedImage, embedding: [Float], patch: Int) {
        lock.lock(); defer { lock.unlock() }
        entries.removeAll { $0.image == image }
        if entries.count >= capacity { entries.removeFirst() }
        entries.append((image, embedding, patch))
    }
}
