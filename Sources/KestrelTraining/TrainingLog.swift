import Foundation

/// One line of `train.jsonl`: what the loop measured at an optimiser step.
public struct TrainingLogLine: Sendable, Equatable {
    public var step: Int
    public var loss: Float
    public var learningRate: Float
    public var logitScale: Float?
    public var gradNorm: Float
    public var samplesPerSecond: Double
    public var elapsedSeconds: Double

    /// One JSON object on one line. Floats are written in Swift's shortest round-trip form, so a
    /// loss read back is the same Float bit for bit.
    public var json: String {
        func f(_ x: Float) -> String { x.isFinite ? "\(x)" : "null" }
        func d(_ x: Double) -> String { String(format: "%.3f", x) }
        var s = "{\"step\":\(step),\"loss\":\(f(loss)),\"lr\":\(f(learningRate))"
        s += ",\"logit_scale\":" + (logitScale.map(f) ?? "null")
        s += ",\"grad_norm\":\(f(gradNorm)),\"samples_per_s\":\(d(samplesPerSecond)),\"elapsed_s\":\(d(elapsedSeconds))}"
        return s
    }
}

/// Appends lines to `train.jsonl`; on resume, first drops lines past the checkpoint's step (a
/// killed run may have logged steps that the resumed run will take again).
public final class TrainingLog {
    public let url: URL
    private let handle: FileHandle

    public init(url: URL, keepThrough step: Int) throws {
        self.url = url
        let fm = FileManager.default
        var kept = Data()
        if step > 0, let old = fm.contents(atPath: url.path) {
            for line in old.split(separator: UInt8(ascii: "\n")) {
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                      let s = obj["step"] as? Int, s <= step else { continue }
                kept.append(Data(line)); kept.append(UInt8(ascii: "\n"))
            }
        }
        guard fm.createFile(atPath: url.path, contents: kept), let h = FileHandle(forWritingAtPath: url.path) else {
            throw CheckpointError.io(path: url.path, reason: "cannot be written")
        }
        handle = h
        handle.seekToEndOfFile()
    }

    public func append(_ line: TrainingLogLine) {
        handle.write(Data((line.json + "\n").utf8))
    }

    /// Reads the losses of a log, by step (tests and tools).
    public static func losses(at url: URL) throws -> [Int: Float] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CheckpointError.io(path: url.path, reason: "cannot be read")
        }
        var out = [Int: Float]()
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let obj = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let s = obj["step"] as? Int else { continue }
            // Parse the number's text ourselves: Float(String) round-trips the shortest form exactly.
            let text = String(decoding: line, as: UTF8.self)
            if let r = text.range(of: "\"loss\":") {
                let rest = text[r.upperBound...].prefix { $0 != "," && $0 != "}" }
                out[s] = Float(rest)
            }
        }
        return out
    }

    deinit { try? handle.close() }
}
