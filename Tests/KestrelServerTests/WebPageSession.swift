import Foundation

/// What a user does on the web page, step by step, in headless Chromium (test support for
/// WebPageTests): type a query and press Enter, move the cutoff slider, find similar with the
/// keyboard, drop an image, drop a truncated one, label an image chosen with the file picker. It
/// reads what the page shows (from the DOM's stable ids and data attributes) and returns it;
/// the test compares it with the API. Blocking: run it on a thread of its own.
struct BrowserSession: Sendable {
    let chromium: String
    let url: String
    let image: String
    let truncated: String
    let clickedID: UInt64
    /// The item whose thumbnail (`?size=256`) the session pastes.
    let pastedID: UInt64
    let work: URL

    struct Tile: Sendable { var id: UInt64; var score: Double; var shownScore: String; var name: String }
    struct LabelRow: Sendable { var label: String; var probability: Double }

    struct Seen: Sendable {
        var text: [Tile] = []
        var textStatus = ""
        var thumbnailsLoaded = 0
        var screenshot = Data()
        var cutoff = 0.0
        var shownAtCutoff = 0
        var shownAfterReset = 0
        var similar: [Tile] = []
        var image: [Tile] = []
        var previewShown = false
        var pasted: [Tile] = []
        /// "drag" (Input.dispatchDragEvent on the drop zone) or "file input" (DOM.setFileInputFiles).
        var dropMethod = ""
        var errorText = ""
        var labels: [LabelRow] = []
        var labelStatus = ""
        var exceptions: [String] = []
    }

    func run() throws -> Seen {
        let browser = try HeadlessChromium(executable: chromium, workDirectory: work, width: 1280, height: 900,
                                           deadline: Date().addingTimeInterval(WebPageTests.browserSeconds))
        defer { browser.quit() }
        do {
            return try steps(browser)
        } catch {
            throw HeadlessChromium.Failure("\(error)\npage console: \(browser.consoleMessages.suffix(10))")
        }
    }

    private static let tilesJS = """
        [...document.querySelectorAll('#results .tile')].map(t => [t.dataset.id, Number(t.dataset.score),
          t.querySelector('.score').textContent, t.querySelector('.name').textContent])
        """

    private func tiles(_ b: HeadlessChromium) throws -> [Tile] {
        guard let rows = try b.evaluate(Self.tilesJS) as? [[Any]] else { throw HeadlessChromium.Failure("no tiles read") }
        return rows.compactMap { row in
            guard row.count == 4, let id = (row[0] as? String).flatMap({ UInt64($0) }), let score = row[1] as? Double,
                  let shown = row[2] as? String, let name = row[3] as? String else { return nil }
            return Tile(id: id, score: score, shownScore: shown, name: name)
        }
    }

    private func string(_ b: HeadlessChromium, _ js: String) throws -> String { (try b.evaluate(js) as? String) ?? "" }

    private func steps(_ b: HeadlessChromium) throws -> Seen {
        var seen = Seen()
        try b.openPage()
        try b.send("Log.enable")
        try b.send("Emulation.setDeviceMetricsOverride", ["width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false])
        try b.send("Page.navigate", ["url": url])
        try b.waitUntil("document.documentElement.dataset.ready === 'true'", seconds: 15, what: "the page to load")

        // 1. Type a query and press Enter.
        _ = try b.evaluate("document.getElementById('query').focus()")
        try b.send("Input.insertText", ["text": WebPageTests.query])
        try b.press(key: "Enter", code: 13, text: "\r")
        try b.waitUntil("document.getElementById('results').dataset.state === 'results'", seconds: 20, what: "results for the query")
        seen.text = try tiles(b)
        seen.textStatus = try string(b, "document.getElementById('status').textContent")
        try b.waitUntil("[...document.querySelectorAll('#results img')].every(i => i.complete)", seconds: 15, what: "thumbnails")
        seen.thumbnailsLoaded = (try b.evaluate("[...document.querySelectorAll('#results img')].filter(i => i.naturalWidth > 0).length") as? Int) ?? 0
        seen.screenshot = try b.screenshot()

        // 2. The cutoff slider: between the third and fourth scores, then back to "off".
        if seen.text.count >= 4 {
            let middle = (seen.text[2].score + seen.text[3].score) / 2
            let js = """
                (() => { const s = document.getElementById('min-score'); s.value = String(\(middle));
                  s.dispatchEvent(new Event('input', {bubbles: true}));
                  return [Number(s.value), document.querySelectorAll('#results .tile:not([hidden])').length]; })()
                """
            let pair = try b.evaluate(js) as? [Any]
            seen.cutoff = (pair?.first as? Double) ?? .nan
            seen.shownAtCutoff = (pair?.last as? Int) ?? -1
            let reset = """
                (() => { const s = document.getElementById('min-score'); s.value = s.min;
                  s.dispatchEvent(new Event('input', {bubbles: true}));
                  return document.querySelectorAll('#results .tile:not([hidden])').length; })()
                """
            seen.shownAfterReset = (try b.evaluate(reset) as? Int) ?? -1
        }

        // 3. Find similar with the keyboard: focus the second tile, press Enter.
        _ = try b.evaluate("document.querySelector('#results .tile[data-id=\"\(clickedID)\"] button').focus()")
        try b.press(key: "Enter", code: 13, text: "\r")
        try b.waitUntil("""
            document.getElementById('status').textContent.includes('similar to') &&
            document.getElementById('results').dataset.state === 'results'
            """, seconds: 20, what: "similar results")
        seen.similar = try tiles(b)

        // 4. Drop an image on the drop zone; if the drag is not delivered, choose it with the file input.
        let imageDone = """
            document.getElementById('status').textContent.includes('red_circle.png') &&
            document.getElementById('results').dataset.state === 'results'
            """
        try b.dropFiles([image], on: "#drop-zone")
        do {
            try b.waitUntil(imageDone, seconds: 10, what: "results for the dropped image")
            seen.dropMethod = "drag"
        } catch {
            try b.setFiles([image], on: "#image-input")
            try b.waitUntil(imageDone, seconds: 15, what: "results for the chosen image")
            seen.dropMethod = "file input"
        }
        seen.image = try tiles(b)
        seen.previewShown = (try b.evaluate("""
            !document.getElementById('query-preview').hidden && document.getElementById('query-image').src.startsWith('blob:')
            """) as? Bool) ?? false

        // 5. Paste an image (a paste event carrying the thumbnail of an item as a file).
        _ = try b.evaluate("""
            (async () => { const blob = await (await fetch('/v1/items/\(pastedID)/thumbnail?size=256')).blob();
              const data = new DataTransfer(); data.items.add(new File([blob], 'pasted.png', {type: 'image/png'}));
              document.body.focus();
              document.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true})); })()
            """)
        try b.waitUntil("""
            document.getElementById('status').textContent.includes('pasted.png') &&
            document.getElementById('results').dataset.state === 'results'
            """, seconds: 15, what: "results for the pasted image")
        seen.pasted = try tiles(b)

        // 6. A truncated image: the API's error is shown.
        if seen.dropMethod == "drag" { try b.dropFiles([truncated], on: "#drop-zone") } else { try b.setFiles([truncated], on: "#image-input") }
        try b.waitUntil("!document.getElementById('error').hidden", seconds: 15, what: "the error for a truncated image")
        seen.errorText = try string(b, "document.getElementById('error').textContent")

        // 7. Label panel: choose the image with its file picker, type labels, click the button.
        try b.setFiles([image], on: "#label-file")
        try b.waitUntil("!document.getElementById('label-image').hidden", seconds: 10, what: "the image to label")
        _ = try b.evaluate("document.getElementById('labels').focus()")
        try b.send("Input.insertText", ["text": WebPageTests.labels.joined(separator: ", ")])
        try b.click("#label-button")
        try b.waitUntil("document.getElementById('label-results').dataset.state === 'results'", seconds: 20, what: "label results")
        let rows = try b.evaluate("[...document.querySelectorAll('#label-results .label-row')].map(r => [r.dataset.label, Number(r.dataset.probability)])") as? [[Any]] ?? []
        seen.labels = rows.compactMap { row in
            guard row.count == 2, let label = row[0] as? String, let p = row[1] as? Double else { return nil }
            return LabelRow(label: label, probability: p)
        }

        seen.labelStatus = try string(b, "document.getElementById('label-status').textContent")

        // Uncaught exceptions, and errors the browser logged (a CSP violation, a failed load).
        seen.exceptions = b.events.compactMap { event in
            let params = event["params"] as? [String: Any]
            switch event["method"] as? String {
            case "Runtime.exceptionThrown":
                return "\((params?["exceptionDetails"] as? [String: Any])?["text"] ?? "exception")"
            case "Log.entryAdded":
                guard let entry = params?["entry"] as? [String: Any], entry["level"] as? String == "error" else { return nil }
                let text = "\(entry["text"] ?? "")"
                // The truncated image's 400 is expected; so is a missing favicon.
                if text.contains("400") || text.contains("favicon") { return nil }
                return text
            default: return nil
            }
        }
        return seen
    }
}
