/// CLIP's split pattern, scanned by hand with the `regex` module's semantics (IGNORECASE):
/// `<special>|<special>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`.
/// Text that matches nothing (whitespace) is skipped, as `re.findall` does.
struct Pretokenizer: Sendable {
    /// Special-token spellings (ASCII), tried first at every position.
    let specials: [[UInt32]]

    enum Piece: Equatable {
        case special(Int)
        case text(Range<Int>)
    }

    /// Case-insensitive match of scalar `c` against ASCII `a`, as `regex` folds (ſ matches s).
    @inline(__always)
    private static func foldEquals(_ c: UInt32, _ a: UInt32) -> Bool {
        if c == a { return true }
        let lowerA = (a >= 0x41 && a <= 0x5A) ? a + 0x20 : a
        guard lowerA >= 0x61 && lowerA <= 0x7A else { return false }
        if c == lowerA || c == lowerA - 0x20 { return true }
        return lowerA == 0x73 && c == 0x17F
    }

    private static let contractions: [[UInt32]] = ["s", "t", "re", "ve", "m", "ll", "d"].map { $0.unicodeScalars.map(\.value) }

    private func matchesAt(_ t: Scalars, _ i: Int, _ lit: [UInt32]) -> Bool {
        guard i + lit.count <= t.count else { return false }
        for k in lit.indices where !Self.foldEquals(t[i + k], lit[k]) { return false }
        return true
    }

    func split(_ t: Scalars) -> [Piece] {
        var pieces = [Piece]()
        var i = 0
        let n = t.count
        scan: while i < n {
            for (s, lit) in specials.enumerated() where matchesAt(t, i, lit) {
                pieces.append(.special(s))
                i += lit.count
                continue scan
            }
            let c = t[i]
            if c == 0x27 {  // '
                for lit in Self.contractions where matchesAt(t, i + 1, lit) {
                    pieces.append(.text(i..<(i + 1 + lit.count)))
                    i += 1 + lit.count
                    continue scan
                }
            }
            if TextTables.letters.contains(c) {
                var j = i + 1
                while j < n && TextTables.letters.contains(t[j]) { j += 1 }
                pieces.append(.text(i..<j))
                i = j
            } else if TextTables.numbers.contains(c) {
                pieces.append(.text(i..<(i + 1)))
                i += 1
            } else if TextTables.others.contains(c) {
                var j = i + 1
                while j < n && TextTables.others.contains(t[j]) { j += 1 }
                pieces.append(.text(i..<j))
                i = j
            } else {
                i += 1
            }
        }
        return pieces
    }
}
