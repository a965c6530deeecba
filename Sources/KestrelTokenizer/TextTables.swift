/// Character classes and maps parsed once from `GeneratedTables` (Python 3.11, `regex`, ftfy).
/// Generated rather than taken from Swift's Unicode data so that classes match the references'
/// Unicode versions exactly.

/// A set of Unicode scalars: a bitmap for the BMP, sorted ranges above it.
struct ScalarSet: Sendable {
    private var bmp = [UInt64](repeating: 0, count: 0x10000 / 64)
    private var astral: [(UInt32, UInt32)] = []

    init(ranges text: String) {
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "-")
            let lo = UInt32(parts[0], radix: 16)!
            let hi = parts.count > 1 ? UInt32(parts[1], radix: 16)! : lo
            insert(lo, hi)
        }
    }

    init(_ sets: [ScalarSet]) {
        for s in sets {
            for i in bmp.indices { bmp[i] |= s.bmp[i] }
            astral += s.astral
        }
        astral.sort { $0.0 < $1.0 }
    }

    init(scalars: [UInt32]) { for s in scalars { insert(s, s) } }

    private mutating func insert(_ lo: UInt32, _ hi: UInt32) {
        var c = lo
        while c <= hi && c < 0x10000 {
            bmp[Int(c >> 6)] |= 1 << UInt64(c & 63)
            c += 1
        }
        if hi >= 0x10000 { astral.append((max(lo, 0x10000), hi)) }
    }

    @inline(__always)
    func contains(_ c: UInt32) -> Bool {
        if c < 0x10000 { return bmp[Int(c >> 6)] & (1 << UInt64(c & 63)) != 0 }
        var lo = 0, hi = astral.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if astral[mid].1 < c { lo = mid + 1 } else { hi = mid }
        }
        return lo < astral.count && astral[lo].0 <= c
    }

    @inline(__always)
    func contains(_ s: Unicode.Scalar) -> Bool { contains(s.value) }
}

/// Parses `A:B C,D:E` into a map from one scalar to a sequence of scalars.
private func parseScalarMap(_ text: String) -> [UInt32: [Unicode.Scalar]] {
    var map = [UInt32: [Unicode.Scalar]]()
    for item in text.split(separator: ",") {
        let kv = item.split(separator: ":")
        map[UInt32(kv[0], radix: 16)!] = kv[1].split(separator: " ").map { Unicode.Scalar(UInt32($0, radix: 16)!)! }
    }
    return map
}

/// Parses `name TAB HEX HEX` lines into a map from name to string.
private func parseEntities(_ text: String) -> [String: String] {
    var map = [String: String]()
    for line in text.split(separator: "\n") {
        let kv = line.split(separator: "\t")
        var s = String.UnicodeScalarView()
        for h in kv[1].split(separator: " ") { s.append(Unicode.Scalar(UInt32(h, radix: 16)!)!) }
        map[String(kv[0])] = String(s)
    }
    return map
}

/// A single-byte codec: 256 decoded scalars and the inverse map.
struct Charmap: Sendable {
    let name: String
    let decode: [UInt32]
    let encode: [UInt32: UInt8]
    /// Scalars that `possible_encoding` accepts: ASCII except 0x1A, plus what bytes 0x80-0xFF and 0x1A decode to.
    let allowed: ScalarSet

    init(name: String, table: [UInt32]) {
        self.name = name
        decode = table
        var inv = [UInt32: UInt8]()
        for (b, c) in table.enumerated().reversed() { inv[c] = UInt8(b) }
        encode = inv
        allowed = ScalarSet(scalars: Array(0x00...0x19) + Array(0x1B...0x7F) + Array(table[0x80...]) + [table[0x1A]])
    }
}

enum TextTables {
    static let letters = ScalarSet(ranges: GeneratedTables.regexLetters)
    static let numbers = ScalarSet(ranges: GeneratedTables.regexNumbers)
    static let regexSpaces = ScalarSet(ranges: GeneratedTables.regexSpaces)
    static let others = ScalarSet(ranges: GeneratedTables.regexOther)
    static let pythonSpaces = ScalarSet(ranges: GeneratedTables.pythonSpaces)
    static let pythonWord = ScalarSet(ranges: GeneratedTables.pythonWord)
    static let pythonLower: [UInt32: [Unicode.Scalar]] = parseScalarMap(GeneratedTables.pythonLower)
    static let widthMap: [UInt32: [Unicode.Scalar]] = parseScalarMap(GeneratedTables.widthMap)
    static let ligatures: [UInt32: [Unicode.Scalar]] = parseScalarMap(GeneratedTables.ligatures)

    static let ftfyEntities: [String: String] = parseEntities(GeneratedTables.ftfyEntities)
    static let html5Entities: [String: String] = parseEntities(GeneratedTables.html5Entities)
    static let invalidCharrefs: [UInt32: Unicode.Scalar] = parseScalarMap(GeneratedTables.invalidCharrefs).mapValues { $0[0] }
    static let invalidCodepoints = ScalarSet(ranges: GeneratedTables.invalidCodepoints)

    /// ftfy's CHARMAP_ENCODINGS, in its order.
    static let charmaps: [Charmap] = GeneratedTables.charmaps.split(separator: ";").map { entry in
        let kv = entry.split(separator: "=")
        return Charmap(name: String(kv[0]), table: kv[1].split(separator: " ").map { UInt32($0, radix: 16)! })
    }
    static let sloppyWindows1252: Charmap = charmaps.first { $0.name == "sloppy-windows-1252" }!
}
