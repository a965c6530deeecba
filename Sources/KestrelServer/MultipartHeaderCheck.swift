import Foundation

/// Refuses multipart bodies that would crash MultipartKit 4.7.1's parser before it sees them.
///
/// That parser looks each byte of a part's header *name* up in a 128-entry table
/// (`UInt8.isAllowedHeaderFieldNameCharacter`), so a byte of 0x80 or more before the `:` of a
/// part header line traps (found by Schemathesis; the version the machine holds has the bug).
/// This check follows the parser's header state after every occurrence of `--BOUNDARY` (a
/// superset of the places the parser starts a part): CR LF, then lines of `name: value` CR LF up
/// to an empty line. A non-ASCII byte in a header name is a 400 `bad_upload`; everything else is
/// left to the parser (which rejects malformed bodies with an error of its own).
enum MultipartHeaderCheck {
    /// `body`: the request's bytes as they are (a `ByteBuffer`'s readable view, not a copy).
    static func check<Bytes: RandomAccessCollection>(_ body: Bytes, boundary: String) throws
    where Bytes.Element == UInt8, Bytes.Index == Int {
        let delimiter = Array("--\(boundary)".utf8)
        guard !delimiter.isEmpty, body.count >= delimiter.count else { return }
        var start = body.startIndex
        while let at = find(delimiter, in: body, from: start) {
            try checkHeaders(body, from: at + delimiter.count)
            start = at + 1
        }
    }

    /// The parser's header state from just after a boundary.
    private static func checkHeaders<Bytes: RandomAccessCollection>(_ body: Bytes, from index: Int) throws
    where Bytes.Element == UInt8, Bytes.Index == Int {
        var i = index
        let end = body.endIndex
        guard i + 1 < end, body[i] == 0x0D, body[i + 1] == 0x0A else { return }
        i += 2
        while i < end {
            // A header name: bytes up to ':' (a CR with an empty name ends the headers).
            var nameLength = 0
            while i < end, body[i] != 0x3A {
                if body[i] == 0x0D && nameLength == 0 { return }
                if body[i] >= 0x80 {
                    throw APIError.badRequest("bad_upload", "a multipart part header name holds a byte that is not ASCII")
                }
                if body[i] == 0x0D || body[i] == 0x0A { return }  // the parser refuses this line itself
                nameLength += 1
                i += 1
            }
            // The value: up to CR, then LF.
            while i < end, body[i] != 0x0D { i += 1 }
            guard i + 1 < end, body[i + 1] == 0x0A else { return }
            i += 2
        }
    }

    private static func find<Bytes: RandomAccessCollection>(_ needle: [UInt8], in haystack: Bytes, from start: Int) -> Int?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var i = start
        let last = haystack.endIndex - needle.count
        while i <= last {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
