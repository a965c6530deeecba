import Foundation

/// Runs the built `kestrel` binary (next to the test bundle in .build/<config>/) and captures its output.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// stdout exactly as written (file names that are not UTF-8 stay as they were).
    public var stdoutBytes: [UInt8] = []
    /// The process was killed by a signal (a crash), rather than exiting; `status` is then the signal.
    public var signaled = false

    public init(status: Int32, stdout: String, stderr: String, stdoutBytes: [UInt8] = [], signaled: Bool = false) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.stdoutBytes = stdoutBytes
        self.signaled = signaled
    }
    /// stdout split into non-empty lines.
    public var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    /// Each stdout line parsed as a JSON object.
    public func jsonLines() throws -> [[String: Any]] {
        try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }
}

public enum Kestrel {
    /// The folder of the build products (where the test bundle and `kestrel` are).
    public static var productsDirectory: URL {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.pathComponents.count > 1 && !url.lastPathComponent.hasSuffix(".xctest") && !FileManager.default.fileExists(atPath: url.appendingPathComponent("kestrel").path) {
            url.deleteLastPathComponent()
        }
        return url.lastPathComponent.hasSuffix(".xctest") ? url.deletingLastPathComponent() : url
    }

    public static var binary: URL { productsDirectory.appendingPathComponent("kestrel") }

    /// Runs `kestrel args...` with `stdin`, in `directory` (the repo root by default).
    @discardableResult
    public static func run(_ args: [String], stdin: String? = nil, directory: URL? = nil,
                           environment: [String: String] = [:]) throws -> CommandResult {
        try launch(binary, args, stdin: stdin, directory: directory, environment: environment)
    }

    /// Runs a `/bin/sh -c` script in `directory`, so that arguments can hold bytes that are not
    /// UTF-8 (`printf` octal escapes); "$K" is the `kestrel` binary.
    public static func shell(_ script: String, in directory: URL) throws -> CommandResult {
        try launch(URL(fileURLWithPath: "/bin/sh"), ["-c", script], directory: directory, environment: ["K": binary.path])
    }

    /// Runs `executable` with `args`; `$KESTREL_BINARY` names the built binary, and
    /// `$KESTREL_CACHE` a cache folder under the temporary directory unless already set.
    static func launch(_ executable: URL, _ args: [String], stdin: String? = nil, directory: URL? = nil,
                       environment: [String: String] = [:]) throws -> CommandResult {
        let process = Process()
        process.executableURL = executable
        process.arguments = args
        process.currentDirectoryURL = directory ?? Fixtures.repoRoot
        var env = ProcessInfo.processInfo.environment
        env["KESTREL_CACHE"] = env["KESTREL_CACHE"] ?? FileManager.default.temporaryDirectory.appendingPathComponent("kestrel-test-cache").path
        env["KESTREL_BINARY"] = binary.path
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // Read both pipes fully before waiting, so a large output cannot block the child.
        let group = DispatchGroup()
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                             stderr: String(decoding: errData, as: UTF8.self), stdoutBytes: [UInt8](outData),
                             signaled: process.terminationReason == .uncaughtSignal)
    }
}
