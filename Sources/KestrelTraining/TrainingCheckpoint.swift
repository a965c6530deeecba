import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A training checkpoint: one binary file holding everything a resumed run needs to continue
/// exactly (parameters, AdamW moments and step, the random generator, the data loader's position,
/// the step, the recipe and its digest).
///
/// Layout (little-endian):
///   "KSTRCKPT" (8 bytes), version u32 (1), header length u64, header JSON (`Header`),
///   values f32[count], m f32[count], v f32[count], checksum u64 of every byte before it.
/// Written to `<name>.tmp`, fsynced, renamed over `<name>`, then the folder fsynced: a crash
/// leaves either the old file or the new one, never half of one.
public struct TrainingCheckpoint: Sendable {
    public static let magic = Array("KSTRCKPT".utf8)
    public static let version: UInt32 = 1

    public struct Header: Codable, Sendable, Equatable {
        public struct Tensor: Codable, Sendable, Equatable { public var name: String; public var shape: [Int]; public var trainable: Bool }
        /// Optimiser steps completed (the next step to run).
        public var step: Int
        public var recipeDigest: String
        /// The recipe as canonical JSON (to say which field differs on refusal).
        public var recipe: String
        public var tensors: [Tensor]
        public var adamStep: Int
        public var rng: TrainingRNG
        public var loader: DataLoader.State
        /// Samples trained on so far, and seconds spent (for the run record of a resumed run).
        public var samplesSeen: Int
        public var elapsedSeconds: Double
        /// Training entries per source when the checkpoint was written: the loader's shuffled
        /// orders depend on them, so a resumed run refuses a data folder that changed.
        public var trainEntries: [String: Int]?
        /// `Kernels.threads` of the run: it changes the numerics, so a resumed run must use the
        /// same. nil in checkpoints written before it was stored.
        public var threads: Int?
        /// SHA-256 (hex) of the manifest bytes the loader parsed: a resumed run refuses a data
        /// folder whose manifest changed. nil in checkpoints written before it was stored.
        public var manifestSHA256: String?
    }

    public var header: Header
    public var values: [Float]
    public var m: [Float]
    public var v: [Float]

    public init(header: Header, values: [Float], m: [Float], v: [Float]) {
        self.header = header; self.values = values; self.m = m; self.v = v
    }

    // MARK: Writing

    /// The file's bytes.
    public func encoded() throws -> [UInt8] {
        let json = try JSONEncoder().encode(header)
        var out = [UInt8]()
        out.reserveCapacity(8 + 4 + 8 + json.count + 12 * values.count + 8)
        out += Self.magic
        append(&out, Self.version)
        append(&out, UInt64(json.count))
        out += json
        for array in [values, m, v] {
            array.withUnsafeBytes { out += $0 }
        }
        append(&out, Self.checksum(out[...]))
        return out
    }

    /// Writes atomically to `url` (temp file, fsync, rename, fsync of the folder).
    public func write(to url: URL) throws {
        try Self.writeAtomically(try encoded(), to: url)
    }

    static func writeAtomically(_ bytes: [UInt8], to url: URL) throws {
        let tmp = url.path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw CheckpointError.io(path: tmp, reason: String(cString: strerror(errno))) }
        var written = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
                if n <= 0 { if errno == EINTR { continue }; return false }
                written += n
            }
            return true
        }
        if !ok || fsync(fd) != 0 {
            let reason = String(cString: strerror(errno))
            close(fd); unlink(tmp)
            throw CheckpointError.io(path: tmp, reason: reason)
        }
        close(fd)
        guard rename(tmp, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw CheckpointError.io(path: url.path, reason: reason)
        }
        let dir = open(url.deletingLastPathComponent().path, O_RDONLY)
        if dir >= 0 { _ = fsync(dir); close(dir) }
    }

    // MARK: Reading

    /// Reads and checks a checkpoint file. Throws `CheckpointError` (not a checkpoint, other
    /// version, damaged).
    public static func read(_ url: URL) throws -> TrainingCheckpoint {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CheckpointError.io(path: url.path, reason: "cannot be read")
        }
        return try decode([UInt8](data), path: url.path)
    }

    public static func decode(_ b: [UInt8], path: String) throws -> TrainingCheckpoint {
        guard b.count >= 28, Array(b[0..<8]) == magic else { throw CheckpointError.notACheckpoint(path: path) }
        let version = load(UInt32.self, b, 8)
        guard version == Self.version else { throw CheckpointError.version(path: path, found: version, expected: Self.version) }
        let stored = load(UInt64.self, b, b.count - 8)
        guard stored == checksum(b[0..<(b.count - 8)]) else {
            throw CheckpointError.damaged(path: path, reason: "checksum mismatch")
        }
        let headerLength = Int(clamping: load(UInt64.self, b, 12))
        guard headerLength <= b.count - 28 else { throw CheckpointError.damaged(path: path, reason: "header length past the end") }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(b[20..<(20 + headerLength)])) } catch {
            throw CheckpointError.damaged(path: path, reason: "header: \(error)")
        }
        // Overflow-checked: a crafted header with a valid checksum must not trap.
        var count = 0
        for t in header.tensors {
            var n = 1
            for d in t.shape {
                guard d >= 0 else { throw CheckpointError.damaged(path: path, reason: "tensor \(t.name) has a negative dimension \(t.shape)") }
                let (p, o) = n.multipliedReportingOverflow(by: d)
                guard !o else { throw CheckpointError.damaged(path: path, reason: "tensor \(t.name) shape \(t.shape) is too large") }
                n = p
            }
            let (sum, o) = count.addingReportingOverflow(n)
            guard !o, sum <= Int.max / 12 else { throw CheckpointError.damaged(path: path, reason: "the tensors' sizes are too large") }
            count = sum
        }
        if header.step < 0 || header.adamStep < 0 {
            throw CheckpointError.damaged(path: path, reason: "negative step (\(header.step)) or AdamW step (\(header.adamStep))")
        }
        let start = 20 + headerLength
        guard b.count - 8 - start == 12 * count else {
            throw CheckpointError.damaged(path: path, reason: "\(b.count - 8 - start) bytes of tensors for \(count) values")
        }
        func floats(_ k: Int) -> [Float] {
            [Float](unsafeUninitializedCapacity: count) { buf, n in
                b.withUnsafeBytes { raw in
                    _ = memcpy(buf.baseAddress!, raw.baseAddress! + start + 4 * count * k, 4 * count)
                }
                n = count
            }
        }
        return TrainingCheckpoint(header: header, values: floats(0), m: floats(1), v: floats(2))
    }

    // MARK: Bytes

    private func append<T: FixedWidthInteger>(_ out: inout [UInt8], _ x: T) {
        withUnsafeBytes(of: x.littleEndian) { out += $0 }
    }

    private static func load<T: FixedWidthInteger>(_: T.Type, _ b: [UInt8], _ at: Int) -> T {
        var x: T = 0
        withUnsafeMutableBytes(of: &x) { dst in b.withUnsafeBytes { dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[at..<(at + MemoryLayout<T>.size)])) } }
        return T(littleEndian: x)
    }

    /// A 64-bit checksum (multiply-xorshift over 8-byte words, then the tail bytes): detects
    /// damage, not tampering.
    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(bytes.count)
        bytes.withUnsafeBytes { raw in
            let words = raw.count / 8
            for k in 0..<words {
                let w = raw.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self)
                h = (h ^ w) &* 0x9E37_79B9_7F4A_7C15
                h ^= h >> 29
            }
            for k in (8 * words)..<raw.count { h = (h ^ UInt64(raw[k])) &* 0x0000_0100_0000_01B3 }
        }
        return h
    }

    // MARK: Folder of checkpoints

    /// `checkpoints/step-00000100.kcpt`.
    public static func fileName(step: Int) -> String { "step-" + String(step).leftPadded(to: 8) + ".kcpt" }

    /// Checkpoint files in `folder`, newest step last.
    public static func list(in folder: URL) -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("step-"), name.hasSuffix(".kcpt"), let s = Int(name.dropFirst(5).dropLast(5)) else { return nil }
            return (s, folder.appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }
}

public enum CheckpointError: Error, CustomStringConvertible, Sendable, Equatable {
    case io(path: String, reason: String)
    case notACheckpoint(path: String)
    case version(path: String, found: UInt32, expected: UInt32)
    case damaged(path: String, reason: String)
    case otherRecipe(path: String, fields: [String])
    case otherModel(path: String, reason: String)
    case noCheckpoint(folder: String)
    case otherData(path: String, reason: String)

    public var description: String {
        switch self {
        case .io(let path, let reason): return "checkpoint \(path): \(reason)"
        case .notACheckpoint(let path): return "\(path) is not a Kestrel training checkpoint (no KSTRCKPT magic)"
        case .version(let path, let found, let expected):
            return "checkpoint \(path) has format version \(found); this kestrel reads version \(expected): resume it with the kestrel that wrote it, or start again without --resume"
        case .damaged(let path, let reason):
            return "checkpoint \(path) is damaged (\(reason)): delete it to resume from the previous checkpoint, or start again without --resume"
        case .otherRecipe(let path, let fields):
            return "checkpoint \(path) was written under a different recipe (fields that differ: \(fields.joined(separator: ", "))): resume with the same recipe, or start a new run in another --out folder"
        case .otherModel(let path, let reason):
            return "checkpoint \(path) does not fit this model: \(reason)"
        case .otherData(let path, let reason):
            return "checkpoint \(path) was written over other data (\(reason)): resume with the data folder it was trained on, or start a new run"
        case .noCheckpoint(let folder):
            return "--resume: no checkpoint in \(folder); run without --resume to start"
        }
    }
}
