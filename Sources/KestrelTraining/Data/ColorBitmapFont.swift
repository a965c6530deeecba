import Foundation

/// Reads the colour bitmaps of an OpenType font with `CBLC`/`CBDT` tables (Google's colour
/// bitmap format, as in Noto Color Emoji): the character map (`cmap` format 12, else 4) and,
/// for the largest strike, each glyph's PNG bytes (CBDT glyph formats 17, 18, 19 reached through
/// CBLC index subtables of formats 1, 2 and 3). References: OpenType spec, chapters "cmap",
/// "CBLC", "CBDT", "EBLC". Every offset and length is checked; a damaged font throws
/// `DataBuildError.damaged` naming the table, never traps.
public struct ColorBitmapFont: Sendable {
    public let path: String
    let bytes: [UInt8]
    /// Table tag -> (offset, length), checked to lie inside the file.
    let tables: [String: (offset: Int, length: Int)]

    public init(bytes: [UInt8], path: String) throws {
        self.bytes = bytes; self.path = path
        let r = Reader(bytes: bytes, base: 0, limit: bytes.count, path: path, table: "table directory")
        let numTables = try r.u16(4)
        var t = [String: (Int, Int)]()
        for i in 0..<numTables {
            let rec = 12 + 16 * i
            let tag = String(decoding: try r.slice(rec, 4), as: UTF8.self)
            let off = try r.u32(rec + 8), len = try r.u32(rec + 12)
            guard off <= bytes.count, len <= bytes.count - off else {
                throw DataBuildError.damaged(path: path, detail: "table '\(tag)' at \(off)+\(len) runs past the end of the file (\(bytes.count) bytes)")
            }
            t[tag] = (off, len)
        }
        tables = t
    }

    func table(_ tag: String) throws -> Reader {
        guard let t = tables[tag] else { throw DataBuildError.damaged(path: path, detail: "no '\(tag)' table") }
        return Reader(bytes: bytes, base: t.offset, limit: t.offset + t.length, path: path, table: tag)
    }

    /// Code point -> glyph id, from the best Unicode subtable (format 12, else format 4).
    public func characterMap() throws -> [UInt32: Int] {
        let r = try table("cmap")
        let n = try r.u16(2)
        var best12: Int?, best4: Int?
        for i in 0..<n {
            let platform = try r.u16(4 + 8 * i), encoding = try r.u16(6 + 8 * i), off = try r.u32(8 + 8 * i)
            guard platform == 0 || (platform == 3 && (encoding == 1 || encoding == 10)) else { continue }
            let format = try r.u16(off)
            if format == 12, best12 == nil { best12 = off }
            if format == 4, best4 == nil { best4 = off }
        }
        var map = [UInt32: Int]()
        if let o = best12 {
            let groups = try r.u32(o + 12)
            guard groups <= (r.limit - r.base) / 12 else { throw r.damage("format 12 claims \(groups) groups") }
            // Each group may span all of Unicode: cap the code points mapped over all groups at
            // Unicode's size, so a small hostile table cannot make a map of billions of entries.
            var mapped = 0
            for g in 0..<groups {
                let p = o + 16 + 12 * g
                let start = try r.u32(p), end = try r.u32(p + 4), glyph = try r.u32(p + 8)
                guard start <= end, end <= 0x10FFFF, end - start < 0x110000 else { throw r.damage("format 12 group \(g): range \(start)...\(end)") }
                mapped += end - start + 1
                guard mapped <= 0x110000 else {
                    throw r.damage("format 12 groups map more than \(0x110000) code points (group \(g) of \(groups))")
                }
                for c in start...end { map[UInt32(c)] = glyph + (c - start) }
            }
        } else if let o = best4 {
            let segX2 = try r.u16(o + 6)
            let seg = segX2 / 2
            let ends = o + 14, starts = ends + segX2 + 2, deltas = starts + segX2, ranges = deltas + segX2
            for s in 0..<seg {
                let end = try r.u16(ends + 2 * s), start = try r.u16(starts + 2 * s)
                let delta = try r.u16(deltas + 2 * s), rangeOff = try r.u16(ranges + 2 * s)
                guard start <= end else { continue }
                for c in start...end where c != 0xFFFF {
                    var g: Int
                    if rangeOff == 0 { g = (c + delta) & 0xFFFF } else {
                        let at = ranges + 2 * s + rangeOff + 2 * (c - start)
                        g = try r.u16(at)
                        if g != 0 { g = (g + delta) & 0xFFFF }
                    }
                    if g != 0 { map[UInt32(c)] = g }
                }
            }
        } else {
            throw r.damage("no Unicode subtable of format 12 or 4")
        }
        return map
    }

    /// Glyph id -> PNG bytes, for the strike with the largest ppem.
    public func bitmaps() throws -> [Int: [UInt8]] {
        let cblc = try table("CBLC"), cbdt = try table("CBDT")
        let sizes = try cblc.u32(4)
        guard sizes > 0, sizes <= 1024 else { throw cblc.damage("\(sizes) bitmap sizes") }
        var bestSize = 0, bestPpem = -1
        for s in 0..<sizes {
            let ppem = try cblc.u8(8 + 48 * s + 45)
            if ppem > bestPpem { bestPpem = ppem; bestSize = s }
        }
        let rec = 8 + 48 * bestSize
        let arrayOffset = try cblc.u32(rec), subtables = try cblc.u32(rec + 8)
        guard subtables <= 65536 else { throw cblc.damage("\(subtables) index subtables") }
        var out = [Int: [UInt8]]()
        for k in 0..<subtables {
            let e = arrayOffset + 8 * k
            let first = try cblc.u16(e), last = try cblc.u16(e + 2), add = try cblc.u32(e + 4)
            guard first <= last else { throw cblc.damage("index subtable \(k): glyphs \(first)...\(last)") }
            let h = arrayOffset + add
            let indexFormat = try cblc.u16(h), imageFormat = try cblc.u16(h + 2), dataOffset = try cblc.u32(h + 4)
            let n = last - first + 1
            var spans = [(glyph: Int, offset: Int, length: Int)]()
            switch indexFormat {
            case 1, 3:
                let w = indexFormat == 1 ? 4 : 2
                for i in 0..<n {
                    let a = w == 4 ? try cblc.u32(h + 8 + 4 * i) : try cblc.u16(h + 8 + 2 * i)
                    let b = w == 4 ? try cblc.u32(h + 8 + 4 * (i + 1)) : try cblc.u16(h + 8 + 2 * (i + 1))
                    guard b >= a else { throw cblc.damage("index subtable \(k): offsets decrease at glyph \(first + i)") }
                    if b > a { spans.append((first + i, dataOffset + a, b - a)) }
                }
            case 2:
                let size = try cblc.u32(h + 8)
                for i in 0..<n { spans.append((first + i, dataOffset + size * i, size)) }
            default:
                continue  // formats 4 and 5 (sparse) are not used by Noto Color Emoji
            }
            for s in spans {
                let glyph = try cbdt.slice(s.offset, s.length)
                let g = Reader(bytes: glyph, base: 0, limit: glyph.count, path: path, table: "CBDT")
                let start: Int
                switch imageFormat {
                case 17: start = 5
                case 18: start = 8
                case 19: start = 0
                default: continue
                }
                let len = try g.u32(start)
                out[s.glyph] = try g.slice(start + 4, len)
            }
        }
        return out
    }

    /// Bounds-checked big-endian reads inside one table.
    struct Reader {
        let bytes: [UInt8]; let base: Int; let limit: Int; let path: String; let table: String
        func damage(_ what: String) -> DataBuildError { .damaged(path: path, detail: "\(table): \(what)") }
        func check(_ o: Int, _ n: Int) throws -> Int {
            guard o >= 0, n >= 0, o <= limit - base, n <= limit - base - o else {
                throw damage("read of \(n) bytes at \(o) runs past the table's \(limit - base) bytes")
            }
            return base + o
        }
        func u8(_ o: Int) throws -> Int { Int(bytes[try check(o, 1)]) }
        func u16(_ o: Int) throws -> Int { let p = try check(o, 2); return Int(bytes[p]) << 8 | Int(bytes[p + 1]) }
        func u32(_ o: Int) throws -> Int {
            let p = try check(o, 4)
            return Int(bytes[p]) << 24 | Int(bytes[p + 1]) << 16 | Int(bytes[p + 2]) << 8 | Int(bytes[p + 3])
        }
        func slice(_ o: Int, _ n: Int) throws -> [UInt8] { let p = try check(o, n); return Array(bytes[p..<(p + n)]) }
    }
}
