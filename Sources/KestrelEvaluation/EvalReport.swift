// The harness's output: one JSON document ("format": "kestrel-eval", "version": 1) and a readable
// table. Every measured scalar is {"value", "low", "high"} (a bootstrap percentile interval).
import Foundation
import KestrelEngine

/// A JSON value written by hand, so key order is stable (the output is a contract).
public indirect enum EvalJSON: Sendable {
    case string(String), int(Int), uint(UInt64), double(Double), bool(Bool), null
    case array([EvalJSON]), object([(String, EvalJSON)])

    /// Compact JSON on one line; a non-finite number is `null`.
    public var text: String { var s = ""; write(into: &s); return s }

    func write(into out: inout String) {
        switch self {
        case .string(let s): EvalJSON.escape(s, into: &out)
        case .int(let i): out += String(i)
        case .uint(let u): out += String(u)
        case .double(let d): out += d.isFinite ? "\(d)" : "null"
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .array(let xs):
            out += "["
            for (i, x) in xs.enumerated() { if i > 0 { out += ", " }; x.write(into: &out) }
            out += "]"
        case .object(let fields):
            out += "{"
            for (i, (k, v)) in fields.enumerated() {
                if i > 0 { out += ", " }
                EvalJSON.escape(k, into: &out); out += ": "; v.write(into: &out)
            }
            out += "}"
        }
    }

    static func escape(_ s: String, into out: inout String) { JSONText.appendQuoted(s, to: &out) }
}

/// What a report records besides the numbers, so a figure can be reproduced: the model (folder,
/// SHA-256 fingerprint, precision), the data (its path, and a SHA-256 of the input list), the
/// command's arguments, the code (`git describe`).
public struct EvalContext: Sendable {
    public var modelPath: String
    public var fingerprint: String
    public var precision: String
    /// "folder" or "csv" (zero-shot), "captions" (retrieval).
    public var dataKind: String
    public var dataPath: String
    /// SHA-256 of the input list: the CSV file's bytes, or for a folder its
    /// "relative/path\tlabel\n" lines in order (`listDigest`).
    public var listSHA256: String
    public var arguments: [String]
    /// `git describe --always --dirty` of Kestrel's source checkout, or "unknown" (`SourceVersion.describe`).
    public var codeVersion: String

    public init(modelPath: String, fingerprint: String, precision: String, dataKind: String, dataPath: String,
                listSHA256: String, arguments: [String], codeVersion: String = "unknown") {
        self.modelPath = modelPath; self.fingerprint = fingerprint; self.precision = precision
        self.dataKind = dataKind; self.dataPath = dataPath; self.listSHA256 = listSHA256; self.arguments = arguments
        self.codeVersion = codeVersion
    }

    /// SHA-256 (hex) of `items` written as "path\ttext\n" lines.
    public static func listDigest(_ items: [(FilePathBytes, String)]) -> String {
        var bytes: [UInt8] = []
        for (p, t) in items { bytes += p.bytes; bytes.append(0x09); bytes += Array(t.utf8); bytes.append(0x0A) }
        return "sha256:" + SHA256.hex(SHA256.hash(bytes))
    }
}

public enum EvalReport {
    public static let format = "kestrel-eval", version = 1

    static func interval(_ i: Interval) -> EvalJSON {
        .object([("value", .double(i.value)), ("low", .double(i.low)), ("high", .double(i.high))])
    }

    static func header(_ command: String, _ c: EvalContext, _ s: BootstrapSettings) -> [(String, EvalJSON)] {
        [("format", .string(format)), ("version", .int(version)), ("command", .string(command)),
         ("model", .object([("path", .string(c.modelPath)), ("fingerprint", .string(c.fingerprint)), ("precision", .string(c.precision))])),
         ("data", .object([("kind", .string(c.dataKind)), ("path", .string(c.dataPath)), ("list_sha256", .string(c.listSHA256))])),
         ("arguments", .array(c.arguments.map(EvalJSON.string))), ("git_describe", .string(c.codeVersion)),
         ("interval", .string("bootstrap percentile, \(Int((s.level * 100).rounded()))%")),
         ("seed", .uint(s.seed)), ("resamples", .int(s.resamples))]
    }

    /// The zero-shot report as one JSON document.
    public static func json(_ run: ZeroShotRun, context: EvalContext) -> EvalJSON {
        let m = run.metrics
        let perClass: [(String, EvalJSON)] = run.labels.enumerated().map { i, label in
            (label, .object([("n", .int(m.classCounts[i])), ("value", .double(m.perClassRecall[i].value)),
                             ("low", .double(m.perClassRecall[i].low)), ("high", .double(m.perClassRecall[i].high))]))
        }
        let bins: [EvalJSON] = m.bins.map { b in
            .object([("lower", .double(b.lower)), ("upper", .double(b.upper)), ("count", .int(b.count)),
                     ("accuracy", .double(b.accuracy)), ("confidence", .double(b.meanConfidence))])
        }
        var topK = interval(m.topK)
        if case .object(let f) = topK { topK = .object([("k", .int(m.k))] + f) }
        return .object(header("zero-shot", context, m.settings) + [
            ("n", .int(m.n)), ("failed", .int(run.failed.count)), ("classes", .int(m.classCount)),
            ("labels", .array(run.labels.map(EvalJSON.string))), ("templates", .array(run.templates.map(EvalJSON.string))),
            ("top1", interval(m.top1)), ("top5", topK), ("mean_recall", interval(m.meanRecall)),
            ("ece", interval(m.ece)), ("ece_bins", .int(m.bins.count)),
            ("per_class_recall", .object(perClass)),
            ("confusion", .object([("labels", .array(run.labels.map(EvalJSON.string))),
                                   ("counts", .array(m.confusion.map { .array($0.map(EvalJSON.int)) }))])),
            ("calibration", .array(bins)),
            ("baselines", .object([("chance", .double(m.chance)), ("chance_top5", .double(m.chanceTopK)), ("majority", .double(m.majority))])),
        ])
    }

    /// The retrieval report as one JSON document.
    public static func json(_ run: RetrievalRun, context: EvalContext) -> EvalJSON {
        let s = run.scores
        func direction(_ rs: [RecallAtK]) -> EvalJSON {
            .object(rs.map { ("recall@\($0.k)", interval($0.recall)) } + [("chance", .object(rs.map { ("recall@\($0.k)", .double($0.chance)) }))])
        }
        return .object(header("retrieval", context, s.settings) + [
            ("n", .object([("images", .int(s.images)), ("captions", .int(s.captions))])), ("failed", .int(run.failed.count)),
            ("text_to_image", direction(s.textToImage)), ("image_to_text", direction(s.imageToText)),
        ])
    }

    // MARK: - Tables

    static func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
    static func f4(_ x: Double) -> String { Interval.format(x) }
    static func range(_ i: Interval) -> String { "[\(f4(i.low)), \(f4(i.high))]" }

    static func intro(_ title: String, _ c: EvalContext, _ s: BootstrapSettings) -> [String] {
        ["kestrel eval \(title)",
         "model     \(PathText.escapeControls(c.modelPath)) (\(c.fingerprint.prefix(19))..., \(c.precision))",
         "data      \(c.dataKind) \(PathText.escapeControls(c.dataPath))",
         "intervals bootstrap percentile \(Int((s.level * 100).rounded()))%, \(s.resamples) resamples, seed \(s.seed)",
         "code      \(c.codeVersion)"]
    }

    /// The zero-shot report as a readable table (the same numbers as the JSON).
    public static func table(_ run: ZeroShotRun, context: EvalContext) -> String {
        let m = run.metrics
        var lines = intro("zero-shot", context, m.settings)
        lines.append("images    \(m.n) measured, \(run.failed.count) failed; \(m.classCount) classes, \(run.templates.count) prompt template\(run.templates.count == 1 ? "" : "s")")
        lines.append("")
        lines.append(pad("metric", 18) + pad("value", 9) + pad("95% interval", 20) + pad("chance", 9) + "majority")
        lines.append(pad("top-1", 18) + pad(f4(m.top1.value), 9) + pad(range(m.top1), 20) + pad(f4(m.chance), 9) + f4(m.majority))
        lines.append(pad("top-\(m.k)", 18) + pad(f4(m.topK.value), 9) + pad(range(m.topK), 20) + f4(m.chanceTopK))
        lines.append(pad("mean recall", 18) + pad(f4(m.meanRecall.value), 9) + range(m.meanRecall))
        lines.append(pad("ECE (\(m.bins.count) bins)", 18) + pad(f4(m.ece.value), 9) + range(m.ece))
        lines.append("")
        // Class names are user text (a CSV's labels): control characters escaped, as every name the CLI prints.
        let shown = run.labels.map(PathText.escapeControls)
        let w = max(18, (shown.map(\.count).max() ?? 0) + 2)
        lines.append(pad("class", w) + pad("n", 8) + pad("recall", 9) + "95% interval")
        for (i, label) in shown.enumerated() {
            let r = m.perClassRecall[i]
            lines.append(pad(label, w) + pad("\(m.classCounts[i])", 8) + pad(f4(r.value), 9) + range(r))
        }
        lines.append("")
        lines.append("confusion matrix (rows: true class, columns: predicted, in label order)")
        let cw = max(6, (m.confusion.flatMap { $0 }.max().map { "\($0)".count } ?? 1) + 1)
        func trimmed(_ s: String) -> String { String(s.reversed().drop { $0 == " " }.reversed()) }
        lines.append(trimmed(pad("", w) + (0..<m.classCount).map { pad("\($0)", cw) }.joined()))
        for (i, label) in shown.enumerated() {
            lines.append(trimmed(pad("\(i) \(label)", w) + m.confusion[i].map { pad("\($0)", cw) }.joined()))
        }
        return lines.joined(separator: "\n")
    }

    /// The retrieval report as a readable table.
    public static func table(_ run: RetrievalRun, context: EvalContext) -> String {
        let s = run.scores
        var lines = intro("retrieval", context, s.settings)
        lines.append("inputs    \(s.images) images, \(s.captions) captions measured, \(run.failed.count) images failed")
        lines.append("")
        lines.append(pad("direction", 16) + pad("metric", 11) + pad("value", 9) + pad("95% interval", 20) + "chance")
        for (name, rs) in [("text -> image", s.textToImage), ("image -> text", s.imageToText)] {
            for r in rs {
                lines.append(pad(name, 16) + pad("recall@\(r.k)", 11) + pad(f4(r.recall.value), 9) + pad(range(r.recall), 20) + f4(r.chance))
            }
        }
        return lines.joined(separator: "\n")
    }
}
