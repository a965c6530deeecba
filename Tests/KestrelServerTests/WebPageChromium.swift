import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Headless Chromium driven over the DevTools protocol (CDP) through a pipe, for the web page
/// test. Test support only.
///
/// Chromium is started with `--remote-debugging-pipe`: it reads commands from its fd 3 and writes
/// responses and events to its fd 4, each message a JSON text ended by a NUL byte. The two pipes
/// are mapped onto fds 3 and 4 with posix_spawn file actions. Chromium runs in a process group of
/// its own, so `quit()` (also run by deinit) kills it and its helpers (renderer, zygote) with one
/// `kill(-pid, SIGKILL)`. Host resolution is turned off except for the loopback names, so the
/// browser cannot reach the network.
///
/// Every call is synchronous and waits at most until `deadline` (a failure names what it waited
/// for), so a test using it stops by itself. Not thread-safe: use one instance from one thread.
final class HeadlessChromium {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// The browser's process id (also its process group id).
    let pid: pid_t
    /// Where Chromium's stdout and stderr go (read when something fails).
    let logURL: URL
    /// Time after which every wait fails.
    let deadline: Date
    /// The page session every `send(_:_:)` goes to once `openPage()` has run.
    private(set) var sessionID: String?
    /// Events received so far (`{"method", "params", "sessionId"}`), oldest first.
    private(set) var events: [[String: Any]] = []

    private var commandFD: Int32    // we write; Chromium's fd 3
    private var responseFD: Int32   // we read; Chromium's fd 4
    private var nextID = 1
    private var pending: [UInt8] = []
    private var userDataDir: URL

    /// The Chromium binary: `$KESTREL_CHROMIUM`, else `chromium` or `chromium-browser` on PATH; nil when none.
    static func locate() -> String? {
        let env = ProcessInfo.processInfo.environment
        if let path = env["KESTREL_CHROMIUM"], !path.isEmpty { return access(path, X_OK) == 0 ? path : nil }
        let dirs = (env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        for name in ["chromium", "chromium-browser"] {
            for dir in dirs where access("\(dir)/\(name)", X_OK) == 0 { return "\(dir)/\(name)" }
        }
        return nil
    }

    /// Starts Chromium with a fresh profile in `workDirectory`, its window `width` x `height` CSS pixels.
    init(executable: String, workDirectory: URL, width: Int, height: Int, deadline: Date) throws {
        self.deadline = deadline
        userDataDir = workDirectory.appendingPathComponent("chromium-profile")
        logURL = workDirectory.appendingPathComponent("chromium.log")
        try FileManager.default.createDirectory(at: userDataDir, withIntermediateDirectories: true)
        // Writing to a pipe whose reader died must be an error (EPIPE), not the end of the test process.
        signal(SIGPIPE, SIG_IGN)

        var command: [Int32] = [-1, -1], response: [Int32] = [-1, -1]
        guard pipe(&command) == 0 else { throw Failure("pipe failed: errno \(errno)") }
        guard pipe(&response) == 0 else {
            close(command[0]); close(command[1]); throw Failure("pipe failed: errno \(errno)")
        }
        for fd in command + response { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }   // only fds 3 and 4 reach Chromium
        // Move the child's ends above 9 so that dup2 onto 3 and 4 cannot overwrite one another.
        let childIn = HeadlessChromium.moveAbove9(command[0]), childOut = HeadlessChromium.moveAbove9(response[1])
        commandFD = command[1]; responseFD = response[0]

        let arguments = [
            executable, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
            "--user-data-dir=\(userDataDir.path)", "--window-size=\(width),\(height)", "--hide-scrollbars",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
            "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
            "--disable-client-side-phishing-detection", "--disable-domain-reliability", "--no-pings",
            "--disable-dev-shm-usage", "--mute-audio", "--password-store=basic", "--use-mock-keychain",
            "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
            // Loopback only: every other host name fails to resolve.
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
            "about:blank",
        ]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logURL.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_adddup2(&actions, childIn, 3)    // commands in
        posix_spawn_file_actions_adddup2(&actions, childOut, 4)   // responses out
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)   // its own process group, so one kill ends every helper
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attributes, cArguments, environ)
        close(childIn); close(childOut)
        guard rc == 0 else {
            close(commandFD); close(responseFD)
            throw Failure("could not start \(executable): \(String(cString: strerror(rc)))")
        }
        pid = child
    }

    deinit { quit() }

    /// Kills Chromium's process group, reaps it, closes the pipes and removes the profile. Idempotent.
    func quit() {
        if commandFD >= 0 {
            kill(-pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            Glibc.close(commandFD); Glibc.close(responseFD)
            commandFD = -1; responseFD = -1
            try? FileManager.default.removeItem(at: userDataDir)
        }
    }

    /// The tail of Chromium's log, for failure messages.
    var logTail: String {
        guard let data = try? Data(contentsOf: logURL) else { return "(no log)" }
        return String(decoding: data.suffix(2000), as: UTF8.self)
    }

    private static func moveAbove9(_ fd: Int32) -> Int32 {
        let moved = fcntl(fd, F_DUPFD_CLOEXEC, 10)
        guard moved >= 0 else { return fd }
        Glibc.close(fd)
        return moved
    }

    // MARK: Protocol

    /// Sends one command (to the page session when `browser` is false and a page is open) and
    /// waits for its answer: the `result` object. A protocol error throws naming the method.
    @discardableResult
    func send(_ method: String, _ params: [String: Any] = [:], browser: Bool = false) throws -> [String: Any] {
        let id = nextID
        nextID += 1
        var message: [String: Any] = ["id": id, "method": method, "params": params]
        if !browser, let sessionID { message["sessionId"] = sessionID }
        var bytes = [UInt8](try JSONSerialization.data(withJSONObject: message))
        bytes.append(0)
        try writeAll(bytes, what: method)
        while true {
            let reply = try readMessage(waitingFor: method)
            if let replyID = reply["id"] as? Int, replyID == id {
                if let error = reply["error"] as? [String: Any] {
                    throw Failure("\(method) failed: \(error["message"] ?? error)")
                }
                return reply["result"] as? [String: Any] ?? [:]
            }
            if reply["method"] != nil { events.append(reply) }
        }
    }

    private func writeAll(_ bytes: [UInt8], what: String) throws {
        var offset = 0
        while offset < bytes.count {
            var fds = pollfd(fd: commandFD, events: Int16(POLLOUT), revents: 0)
            guard try pollOnce(&fds, what: "writing \(what)") else { continue }
            let n = bytes[offset...].withUnsafeBytes { write(commandFD, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw Failure("writing \(what) to Chromium failed: errno \(errno) (has it exited?)\n\(logTail)")
            }
            offset += n
        }
    }

    /// Polls until `fds` is ready (true), the poll was interrupted (false), or the deadline passed (throws).
    private func pollOnce(_ fds: inout pollfd, what: String) throws -> Bool {
        let remaining = deadline.timeIntervalSinceNow
        guard remaining > 0 else { throw Failure("timed out \(what)\n\(logTail)") }
        let rc = poll(&fds, 1, Int32(min(remaining, 1) * 1000) + 1)
        if rc < 0 { if errno == EINTR { return false }; throw Failure("poll failed \(what): errno \(errno)") }
        return rc > 0
    }

    /// The next NUL-terminated message from Chromium, parsed.
    private func readMessage(waitingFor what: String) throws -> [String: Any] {
        while true {
            if let end = pending.firstIndex(of: 0) {
                let text = Array(pending[..<end])
                pending.removeSubrange(...end)
                guard let object = try JSONSerialization.jsonObject(with: Data(text)) as? [String: Any] else {
                    throw Failure("Chromium sent a message that is not a JSON object")
                }
                return object
            }
            var fds = pollfd(fd: responseFD, events: Int16(POLLIN), revents: 0)
            guard try pollOnce(&fds, what: "waiting for the answer to \(what)") else { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { read(responseFD, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR || errno == EAGAIN { continue }; throw Failure("reading from Chromium failed: errno \(errno)") }
            if n == 0 { throw Failure("Chromium closed its pipe while \(what) was pending (it exited?)\n\(logTail)") }
            pending.append(contentsOf: chunk[..<n])
        }
    }

    // MARK: Page helpers

    /// Opens a page target, attaches to it (flat session) and makes it the target of `send`.
    func openPage() throws {
        let created = try send("Target.createTarget", ["url": "about:blank"], browser: true)
        guard let targetID = created["targetId"] as? String else { throw Failure("Target.createTarget gave no targetId") }
        let attached = try send("Target.attachToTarget", ["targetId": targetID, "flatten": true], browser: true)
        guard let session = attached["sessionId"] as? String else { throw Failure("Target.attachToTarget gave no sessionId") }
        sessionID = session
        try send("Page.enable")
        try send("Runtime.enable")
    }

    /// Evaluates a JavaScript expression in the page (promises awaited) and answers its value as JSON gives it.
    func evaluate(_ expression: String) throws -> Any? {
        let result = try send("Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true])
        if let exception = result["exceptionDetails"] as? [String: Any] {
            let detail = (exception["exception"] as? [String: Any])?["description"] ?? exception["text"] ?? exception
            throw Failure("JavaScript failed: \(expression.prefix(120)): \(detail)")
        }
        return (result["result"] as? [String: Any])?["value"]
    }

    /// Polls `expression` every 100 ms until it is `true`, for at most `seconds` (and never past
    /// the deadline); throws naming `what`, the last evaluation error and the page's last console
    /// messages otherwise. An evaluation that fails (the page is still navigating: no document
    /// yet, or its context replaced) counts as "not yet".
    func waitUntil(_ expression: String, seconds: Double, what: String) throws {
        let until = min(Date().addingTimeInterval(seconds), deadline)
        var lastError = "none"
        while true {
            do {
                if let value = try evaluate(expression) as? Bool, value { return }
            } catch let error as Failure where Date() < until {
                lastError = error.description
            }
            if Date() >= until {
                throw Failure("timed out after \(seconds) s waiting for \(what) (last error: \(lastError))\npage console: \(consoleMessages.suffix(10))")
            }
            usleep(100_000)
        }
    }

    /// The page's console messages and uncaught exceptions seen so far.
    var consoleMessages: [String] {
        events.compactMap { event in
            let params = event["params"] as? [String: Any]
            switch event["method"] as? String {
            case "Runtime.consoleAPICalled":
                let args = (params?["args"] as? [[String: Any]]) ?? []
                return "console.\(params?["type"] ?? ""): " + args.map { "\($0["value"] ?? $0["description"] ?? "")" }.joined(separator: " ")
            case "Runtime.exceptionThrown":
                let details = params?["exceptionDetails"] as? [String: Any]
                return "exception: \((details?["exception"] as? [String: Any])?["description"] ?? details?["text"] ?? "")"
            default: return nil
            }
        }
    }

    /// The centre of the element `selector` in CSS pixels, after scrolling it into view.
    func centre(of selector: String) throws -> (x: Double, y: Double) {
        let js = """
        (() => { const e = document.querySelector(\(HeadlessChromium.jsString(selector))); if (!e) return null;
          e.scrollIntoView({block: "center", inline: "center"}); const r = e.getBoundingClientRect();
          return [r.left + r.width / 2, r.top + r.height / 2]; })()
        """
        guard let point = try evaluate(js) as? [Double], point.count == 2 else { throw Failure("no element \(selector) on the page") }
        return (point[0], point[1])
    }

    /// Clicks the element `selector` with the mouse (press and release at its centre).
    func click(_ selector: String) throws {
        let p = try centre(of: selector)
        for type in ["mouseMoved", "mousePressed", "mouseReleased"] {
            try send("Input.dispatchMouseEvent", ["type": type, "x": p.x, "y": p.y, "button": "left", "clickCount": 1])
        }
    }

    /// Presses and releases one key (`Enter`, `Tab`...) in the focused element.
    func press(key: String, code: Int, text: String? = nil) throws {
        var down: [String: Any] = ["type": "keyDown", "key": key, "code": key, "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code]
        if let text { down["text"] = text; down["unmodifiedText"] = text }
        try send("Input.dispatchKeyEvent", down)
        try send("Input.dispatchKeyEvent", ["type": "keyUp", "key": key, "code": key, "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code])
    }

    /// Drags files from outside the page onto the element `selector` (dragEnter, dragOver, drop at its centre).
    func dropFiles(_ paths: [String], on selector: String) throws {
        let p = try centre(of: selector)
        let data: [String: Any] = ["items": [], "files": paths, "dragOperationsMask": 1]
        for type in ["dragEnter", "dragOver", "drop"] {
            try send("Input.dispatchDragEvent", ["type": type, "x": p.x, "y": p.y, "data": data])
        }
    }

    /// Sets the files of the `<input type=file>` `selector` (as a user choosing them would; fires `change`).
    func setFiles(_ paths: [String], on selector: String) throws {
        let document = try send("DOM.getDocument", ["depth": 0])
        guard let root = (document["root"] as? [String: Any])?["nodeId"] as? Int else { throw Failure("DOM.getDocument gave no root") }
        let found = try send("DOM.querySelector", ["nodeId": root, "selector": selector])
        guard let node = found["nodeId"] as? Int, node != 0 else { throw Failure("no element \(selector) on the page") }
        try send("DOM.setFileInputFiles", ["files": paths, "nodeId": node])
    }

    /// A PNG of the viewport.
    func screenshot() throws -> Data {
        let shot = try send("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": false])
        guard let base64 = shot["data"] as? String, let data = Data(base64Encoded: base64) else {
            throw Failure("Page.captureScreenshot gave no PNG")
        }
        return data
    }

    /// `text` as a JavaScript string literal.
    static func jsString(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [text])) ?? Data("[\"\"]".utf8)
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}
