import Foundation
import KestrelStore
import KestrelFiles
import KestrelTestSupport
import XCTest

/// Test vectors from FIPS 180-4's examples and NIST's SHA-256 short/long message sets.
final class SHA256Tests: XCTestCase {
    private func hex(_ s: String) -> String { SHA256.hex(SHA256.hash(Array(s.utf8))) }

    func testKnownVectors() {
        XCTAssertEqual(hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(
            hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        XCTAssertEqual(
            hex("The quick brown fox jumps over the lazy dog"),
            "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592")
    }

    func testMillionAs() {
        var h = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { h.update(chunk) }
        XCTAssertEqual(SHA256.hex(h.finalize()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Padding edge cases (55, 56, 63, 64, 65 bytes) and arbitrary chunking give one answer.
    func testChunkingDoesNotMatter() {
        var rng = SeededRandom(seed: 7)
        for n in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000] {
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let whole = SHA256.hash(bytes)
            var h = SHA256()
            var i = 0
            while i < n {
                let step = Int.random(in: 1...70, using: &rng)
                h.update(Array(bytes[i..<min(n, i + step)]))
                i += step
            }
            XCTAssertEqual(h.finalize(), whole, "length \(n)")
        }
    }

    func testFileDigest() throws {
        let dir = temporaryFolder()
        let file = dir.appendingPathComponent("abc.txt")
        try Data("abc".utf8).write(to: file)
        XCTAssertEqual(
            try SHA256.hexDigest(ofFileAt: file), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}

/// Issue 7: the SHA-NI block path against the portable Swift twin, on odd lengths and chunkings.
final class SHA256AccelerationTests: XCTestCase {
    func testSHAExtensionsAgreeWithThePortablePath() throws {
        try XCTSkipUnless(SHA256.hasSHAExtensions, "this processor has no SHA extensions: only the portable path runs")
        var rng = SeededRandom(seed: 11)
        for n in [0, 1, 63, 64, 65, 127, 128, 129, 1000, 4097, 65_537, 1_000_003] {
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var fast = SHA256(), slow = SHA256(accelerated: false)
            var i = 0
            while i < n {
                let step = min(n - i, Int.random(in: 1...300, using: &rng))
                bytes[i..<(i + step)].withUnsafeBytes { fast.update($0) }
                bytes[i..<(i + step)].withUnsafeBytes { slow.update($0) }
                i += step
            }
            XCTAssertEqual(fast.finalize(), slow.finalize(), "\(n) bytes, chunked")
            var whole = SHA256(accelerated: false)
            whole.update(bytes)
            XCTAssertEqual(SHA256.hash(bytes), whole.finalize(), "\(n) bytes")
        }
    }
}
