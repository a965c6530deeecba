import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A memory-mapped safetensors file: an 8-byte little-endian header length, a JSON header
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}}`, then the raw tensor bytes.
/// Tensors are converted to float32 when read (F32, F16 and BF16 on disk).
public final class SafeTensorsFile: @unchecked Sendable {
    public struct Entry: Sendable {
        public let dtype: String
        public let shape: [Int]
        let begin: Int
        let end: Int
    }

    public let url: URL
    public let entries: [String: Entry]
    /// Free-form `__metadata__` strings.
    public let metadata: [String: String]
    /// The whole file, mapped read-only and private (pages are read on first touch; see
    /// `releasePages`). Unmapped when the reader goes.
    private let base: UnsafeRawPointer
    private let size: Int
    private let dataStart: Int
    private var data: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }

    /// Reads and checks the header as the reference reader (`safetensors`' `Metadata::validate`)
    /// does: every shape's byte size is computed without overflow and equals its range; ranges
    /// neither run backwards nor overlap nor leave gaps, and together cover the data section
    /// exactly. Nothing is allocated from the header's numbers before they are checked.
    public init(url: URL) throws {
        self.url = url
        let fileSize = try ModelFiles.requireRegularFile(url)  // never map a FIFO or /dev/zero
        guard fileSize >= 8 else {
            throw ModelError.safetensors(url, reason: "file is \(fileSize) bytes, shorter than the 8-byte header length")
        }
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ModelError.safetensors(url, reason: "cannot read (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        // A private read-only mapping: its pages are clean copies of the file's, so dropping them
        // (`releasePages`) only costs a re-read if they are touched again.
        guard let mapped = mmap(nil, fileSize, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw ModelError.safetensors(url, reason: "cannot map (\(String(cString: strerror(errno))))")
        }
        base = UnsafeRawPointer(mapped)
        size = fileSize
        // From here on every throw must unmap: deinit does not run for a failed init.
        var ok = false
        defer { if !ok { munmap(mapped, fileSize) } }
        let data = UnsafeRawBufferPointer(start: base, count: size)
        let headerLength = UInt64(littleEndian: data.loadUnaligned(as: UInt64.self))
        guard headerLength > 1, headerLength <= UInt64(data.count - 8), headerLength < 100_000_000 else {
            throw ModelError.safetensors(url, reason: "header length \(headerLength) does not fit a file of \(data.count) bytes")
        }
        dataStart = 8 + Int(headerLength)
        let header = Data(data[8..<dataStart])
        guard let json = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw ModelError.safetensors(url, reason: "header is not a JSON object")
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        let payload = data.count - dataStart
        func integers(_ v: Any?) -> [Int]? {
            guard let a = v as? [NSNumber] else { return nil }
            let ints = a.compactMap { Int(exactly: $0.doubleValue) }
            return ints.count == a.count ? ints : nil
        }
        for (name, value) in json {
            if name == "__metadata__" {
                for (k, v) in value as? [String: Any] ?? [:] { metadata[k] = v as? String ?? "\(v)" }
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = integers(info["shape"]), let offsets = integers(info["data_offsets"]), offsets.count == 2
            else { throw ModelError.safetensors(url, reason: "tensor \(name) has a malformed header entry") }
            guard shape.allSatisfy({ $0 >= 0 }) else {
                throw ModelError.safetensors(url, reason: "tensor \(name) has a negative dimension in its shape \(shape)")
            }
            var elements = 1
            for d in shape {
                let (p, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow, p <= Int(Int32.max) * 64 else {
                    throw ModelError.safetensors(url, reason: "tensor \(name) has shape \(shape), more elements than any file can hold")
                }
                elements = p
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end else {
                throw ModelError.safetensors(url, reason: "tensor \(name) runs backwards (data_offsets [\(begin), \(end)])")
            }
            guard end <= payload else {
                throw ModelError.safetensors(url, reason: "tensor \(name) lies outside the file (offsets \(offsets), payload \(payload) bytes): truncated?")
            }
            if let size = Self.elementSize(dtype), elements * size != end - begin {
                throw ModelError.safetensors(url, reason: "tensor \(name) has \(end - begin) bytes, shape \(shape) of \(dtype) needs \(elements * size)")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, begin: begin, end: end)
        }
        // Ranges in file order must tile the data section: no overlap, no gap, nothing after.
        var cursor = 0
        var previous = ""
        for (name, e) in entries.sorted(by: { ($0.value.begin, $0.value.end, $0.key) < ($1.value.begin, $1.value.end, $1.key) }) {
            if e.begin < cursor {
                throw ModelError.safetensors(url, reason: "tensor \(name) (bytes \(e.begin)..<\(e.end)) overlaps tensor \(previous)")
            }
            if e.begin > cursor {
                throw ModelError.safetensors(url, reason: "a gap of \(e.begin - cursor) bytes lies before tensor \(name)")
            }
            cursor = e.end
            previous = name
        }
        guard cursor == payload else {
            throw ModelError.safetensors(url, reason: "\(payload - cursor) bytes after the last tensor: the header does not describe the whole file")
        }
        self.entries = entries
        self.metadata = metadata
        ok = true
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), size) }

    /// Gives the pages that hold tensor `name` back to the kernel (`madvise(MADV_DONTNEED)`), so a
    /// model that has converted or packed a tensor does not also keep the file's copy resident
    /// while the rest loads. Reading the tensor again still works (the pages are read anew).
    public func releasePages(of name: String) {
        guard let e = entries[name], e.end > e.begin else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (dataStart + e.begin) / page * page
        let end = min(size, (dataStart + e.end + page - 1) / page * page)
        guard end > start else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }

    static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F32", "I32", "U32": return 4
        case "F16", "BF16", "I16", "U16": return 2
        case "F64", "I64", "U64": return 8
        case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2": return 1
        default: return nil
        }
    }

    public var names: [String] { entries.keys.sorted() }

    /// The tensor's values as float32, row-major.
    public func floats(_ name: String) throws -> [Float] {
        guard let e = entries[name] else { throw ModelError.missingTensor(file: url, name: name) }
        let count = e.shape.reduce(1, *)  // checked against the file when the header was read
        let bytes = UnsafeRawBufferPointer(rebasing: data[(dataStart + e.begin)..<(dataStart + e.end)])
        switch e.dtype {
        case "F32":  // little-endian host (x86-64, arm64): a straight copy, alignment-agnostic
            return [Float](unsafeUninitializedCapacity: count) { out, n in
                if count > 0 { UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: bytes.baseAddress!, byteCount: 4 * count) }
                n = count
            }
        case "F16":  // exact bit manipulation, not the soft-float Float(Float16) (see HalfPrecision)
            return [Float](unsafeUninitializedCapacity: count) { out, n in
                HalfPrecision.widenF16(bytes, into: out, count: count)
                n = count
            }
        case "BF16":
            return [Float](unsafeUninitializedCapacity: count) { out, n in
                HalfPrecision.widenBF16(bytes, into: out, count: count)
                n = count
            }
        default:
            throw ModelError.unsupportedDType(file: url, tensor: name, dtype: e.dtype)
        }
    }

    /// The dtypes present, for `kestrel info`.
    public var dtypes: Set<String> { Set(entries.values.map(\.dtype)) }
}
