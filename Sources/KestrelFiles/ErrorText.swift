import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Error messages for people: Foundation's file errors print as `Error Domain=NSCocoaErrorDomain
/// Code=4 "..." UserInfo={...}`, which names neither the cause in plain words nor reliably the
/// file. `ErrorText.plain` gives "PATH: strerror text" for those and each error's own
/// description otherwise.
public enum ErrorText {
    /// "/proc/x/images: No such file or directory" for a Foundation file error (a path or an errno
    /// found in it); `"\(error)"` for any other, Foundation's JSON errors included (their debug
    /// description says where the text is broken).
    public static func plain(_ error: Error) -> String {
        if let e = error as? FileError { return e.description }
        if let p = error as? POSIXError { return String(cString: strerror(p.code.rawValue)) }
        let ns = error as NSError
        guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return "\(error)" }
        let path = ns.userInfo[NSFilePathErrorKey] as? String ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
        let errno = ns.domain == NSPOSIXErrorDomain ? Int32(truncatingIfNeeded: ns.code) : underlyingErrno(ns.userInfo[NSUnderlyingErrorKey])
        guard path != nil || errno != nil else { return "\(error)" }
        let message = errno.map { String(cString: strerror($0)) } ?? ns.localizedDescription
        return path.map { "\(PathText.escapeControls($0)): \(message)" } ?? message
    }

    /// The errno inside Foundation's underlying error: a `POSIXError` value (swift-foundation on
    /// Linux) or an `NSError` of the POSIX domain (Apple platforms).
    static func underlyingErrno(_ value: Any?) -> Int32? {
        if let p = value as? POSIXError { return p.code.rawValue }
        if let e = value as? Error {
            if let p = e as? POSIXError { return p.code.rawValue }
            let u = e as NSError
            if u.domain == NSPOSIXErrorDomain { return Int32(truncatingIfNeeded: u.code) }
        }
        return nil
    }
}
