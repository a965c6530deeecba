import Foundation
import KestrelFiles
import XCTest

/// Foundation's file errors read as "PATH: system message", never `Error Domain=NSCocoaErrorDomain ...`.
final class ErrorTextTests: XCTestCase {
    func testFoundationFileErrorsNameThePathInPlainWords() throws {
        let missing = NSTemporaryDirectory() + "kestrel-error-text-\(getpid())/no/such/folder/file.txt"
        var caught: [Error] = []
        do { try Data([1]).write(to: URL(fileURLWithPath: missing)) } catch { caught.append(error) }
        do { _ = try Data(contentsOf: URL(fileURLWithPath: missing)) } catch { caught.append(error) }
        do { _ = try FileManager.default.contentsOfDirectory(atPath: missing) } catch { caught.append(error) }
        XCTAssertEqual(caught.count, 3)
        for error in caught {
            let text = ErrorText.plain(error)
            XCTAssertFalse(text.contains("NSCocoaErrorDomain") || text.contains("UserInfo"), text)
            XCTAssertTrue(text.contains("no/such/folder"), text)
            XCTAssertTrue(text.contains("No such file or directory"), text)
        }
    }

    func testPOSIXErrorsSayTheSystemsWords() {
        XCTAssertEqual(ErrorText.plain(POSIXError(.EACCES)), "Permission denied")
        let wrapped = NSError(domain: NSCocoaErrorDomain, code: 513,
                              userInfo: [NSFilePathErrorKey: "/x/locked", NSUnderlyingErrorKey: POSIXError(.EACCES)])
        XCTAssertEqual(ErrorText.plain(wrapped), "/x/locked: Permission denied")
        let posixDomain = NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC), userInfo: [NSFilePathErrorKey: "/x/full"])
        XCTAssertEqual(ErrorText.plain(posixDomain), "/x/full: No space left on device")
    }

    /// A Foundation error with neither a path nor an errno (invalid JSON) keeps its full text, which says where.
    func testCocoaErrorsWithoutAPathKeepTheirDetail() throws {
        do { _ = try JSONSerialization.jsonObject(with: Data("{\"a\": tru}".utf8)) } catch {
            XCTAssertEqual(ErrorText.plain(error), "\(error)")
            return
        }
        XCTFail("parsed invalid JSON")
    }

    func testOtherErrorsKeepTheirOwnDescription() {
        struct Custom: Error, CustomStringConvertible { var description: String { "the custom words" } }
        XCTAssertEqual(ErrorText.plain(Custom()), "the custom words")
        let file = FileError.notFound(path: FilePathBytes("/x/y"))
        XCTAssertEqual(ErrorText.plain(file), file.description)
    }
}
