import Foundation
import KestrelEngine

/// `kestrel-bench ingest-jpeg --model DIR [--count 200] [--dir DIR] [--quality 90] [--sample 12]
/// [--modes fast,exact] [--threads 0,1,2]`: generates `count` photo-like JPEGs (half 4000x3000,
/// half 6000x4000; see PhotoGenerator), then, in one run:
/// 1. the encoder's own batch-32 throughput (the baseline of the ratios);
/// 2. read + decode + preprocess on one thread, per JPEG decoding mode (what one core delivers);
/// 3. what the DCT shortcut changes: model-input pixels and embedding cosine, fast vs exact;
/// 4. end-to-end ingest (`kestrel index add` through the engine) per mode and decode-thread
///    count: images/s, ratio to the encoder, stage breakdown; then the encoder again.
func runIngestBench(args: [String]) throws {
    func value(_ name: String) -> String? { args.firstIndex(of: name).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil } }
    guard let modelPath = value("--model") else {
        say("usage: kestrel-bench ingest-jpeg --model DIR [--count 200] [--dir DIR] [--quality 90] [--sample 12] [--modes fast,exact] [--threads 0,1,2]")
        return
    }
    let count = value("--count").flatMap(Int.init) ?? 200
    let quality = value("--quality").flatMap(Int.init) ?? 90
    let sample = value("--sample").flatMap(Int.init) ?? 12
    let dir = URL(fileURLWithPath: value("--dir") ?? "/tmp/kestrel-ingest-bench")
    let modes = (value("--modes") ?? "fast,exact").split(separator: ",").compactMap { JPEGDecoding(rawValue: String($0)) }
    let threadCounts = (value("--threads") ?? "0,1,2").split(separator: ",").compactMap { Int($0) }
    let modelURL = URL(fileURLWithPath: modelPath)

    let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
        .split(separator: "\n").first { $0.hasPrefix("model name") }.map { $0.split(separator: ":").last!.trimmingCharacters(in: .whitespaces) } ?? "?"
    func load() -> String { (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?" }
    say("machine: \(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores; load \(load())")

    // 0. The files (kept in DIR/jpegs between runs: generating them takes a while).
    let folder = dir.appendingPathComponent("jpegs")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    var files: [URL] = []
    var totalBytes = 0, totalPixels = 0
    let tg = Date()
    for i in 0..<count {
        let (w, h) = i % 2 == 0 ? (4000, 3000) : (6000, 4000)
        let url = folder.appendingPathComponent(String(format: "photo%03d_%dx%d_q%d.jpg", i, w, h, quality))
        if !FileManager.default.fileExists(atPath: url.path) {
            var g = PhotoGenerator(seed: UInt64(1000 + i))
            let jpeg = try JPEGWriter.encode(g.picture(width: w, height: h), width: w, height: h, channels: 3, quality: quality)
            try Data(jpeg).write(to: url)
        }
        files.append(url)
        totalBytes += (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        totalPixels += w * h
    }
    say(String(format: "files: %d JPEGs (half 4000x3000, half 6000x4000, quality %d) in %@: %.0f MB, %.2f bytes per pixel (ready in %.0f s)",
                 count, quality, folder.path, Double(totalBytes) / 1e6, Double(totalBytes) / Double(totalPixels), Date().timeIntervalSince(tg)))

    if args.contains("--generate-only") { return }

    // 1. The encoder alone, batch 32.
    let exactEmbedder = try Embedder(modelDirectory: modelURL, batchSize: 32, jpegDecoding: .exact)
    let model = exactEmbedder.model
    let s = model.config.imageSize
    // CPU seconds (user + sys) of this process: on a shared machine the wall time depends on the
    // other load, the CPU cost per image much less. Ratio of CPU costs = the ratio to expect
    // when both runs have the cores to themselves and the pipeline keeps them busy.
    func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }
    func encoderRate() throws -> (rate: Double, cpuPerImage: Double) {
        var rng = BenchRandom(seed: 7)
        let pixels = rng.tensor([32, 3, s, s], scale: 2)
        _ = try model.encodeImages(pixels)
        var best = Double.infinity
        let c0 = cpuSeconds()
        for _ in 0..<3 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try model.encodeImages(pixels)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return (32 / best, (cpuSeconds() - c0) / 96)
    }
    let (encoder, encoderCPU) = try encoderRate()
    say(String(format: "encoder alone, batch 32, %d threads: %.2f images/s (%.1f ms per image), %.1f CPU-ms per image",
               Kernels.threads, encoder, 1000 / encoder, 1000 * encoderCPU))

    // 2. Read + decode + preprocess on one thread.
    let config = exactEmbedder.preprocessor.config
    func preprocessor(_ mode: JPEGDecoding, margin: Double = 2) -> Preprocessor {
        var d = ImageDecoder(jpegDecoding: mode)
        d.reductionMargin = margin
        return Preprocessor(config: config, decoder: d)
    }
    let variants: [(String, Preprocessor)] = [("exact", preprocessor(.exact)), ("fast (margin 2, default)", preprocessor(.fast)),
                                              ("fast (margin 1)", preprocessor(.fast, margin: 1))]
    let stageFiles = Array(files.prefix(min(count, 10)))
    say("decode + preprocess on one thread, \(stageFiles.count) files (per core):")
    for (name, p) in variants {
        var read = 0.0, decode = 0.0, prep = 0.0
        let cpu0 = threadCPUSeconds()
        for url in stageFiles {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let bytes = [UInt8](try Data(contentsOf: url))
            _ = SHA256.hash(bytes)  // ingest keys content by its digest
            let t1 = DispatchTime.now().uptimeNanoseconds
            let image = try p.decode(bytes: bytes, name: url.path)
            let t2 = DispatchTime.now().uptimeNanoseconds
            _ = try p(image)
            let t3 = DispatchTime.now().uptimeNanoseconds
            read += Double(t1 - t0) / 1e9; decode += Double(t2 - t1) / 1e9; prep += Double(t3 - t2) / 1e9
        }
        let n = Double(stageFiles.count), total = (read + decode + prep) / n
        let cpu = (threadCPUSeconds() - cpu0) / n
        say(String(format: "  %-26@ read+hash %5.1f ms, decode %6.1f ms, preprocess %6.1f ms per image (wall) = %5.2f images/s; thread CPU %.1f ms per image = %.2f images/s per core",
                   name as NSString, 1000 * read / n, 1000 * decode / n, 1000 * prep / n, 1 / total, 1000 * cpu, 1 / cpu))
    }

    // Content hashing (every file ingest reads is keyed by its SHA-256).
    let sample0 = [UInt8](try Data(contentsOf: stageFiles[0]))
    for accelerated in [false, true] where !accelerated || SHA256.hasSHAExtensions {
        let t0 = DispatchTime.now().uptimeNanoseconds
        var h = SHA256(accelerated: accelerated)
        for _ in 0..<4 { h.update(sample0) }
        _ = h.finalize()
        let secs = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        say(String(format: "  SHA-256 %@: %.0f MB/s", accelerated ? "with SHA extensions (used)" : "portable Swift", 4 * Double(sample0.count) / secs / 1e6))
    }

    // 3. Quality: model input and embeddings, fast vs exact.
    var qualitySet: [(String, [UInt8])] = files.prefix(sample).map { ($0.lastPathComponent, [UInt8]((try? Data(contentsOf: $0)) ?? Data())) }
    let realDir = modelURL.deletingLastPathComponent().appendingPathComponent("images")
    for name in ["img0_640x480.jpg", "img1_300x500.png", "img2_333x251_rgba.png"] {
        guard let image = try? ImageDecoder(orientation: .ignore).decode(contentsOf: realDir.appendingPathComponent(name)) else { continue }
        let c = image.mode.channels
        let rgb = (0..<(image.width * image.height)).flatMap { i in (0..<3).map { image.pixels[i * c + min($0, c - 1)] } }
        let (ow, oh) = image.width >= image.height ? (4000, 3000) : (3000, 4000)
        var up = upscaleRGB(rgb, width: image.width, height: image.height, to: ow, oh)
        var noise: UInt64 = 12345
        for k in up.indices {
            noise = noise &* 6364136223846793005 &+ 1442695040888963407
            up[k] = UInt8(max(0, min(255, Int(up[k]) + Int((noise >> 33) % 7) - 3)))
        }
        qualitySet.append(("\(name) upscaled to \(ow)x\(oh)", try JPEGWriter.encode(up, width: ow, height: oh, channels: 3, quality: quality)))
    }
    say("fast vs exact, \(qualitySet.count) photo-sized JPEGs (\(sample) generated, \(qualitySet.count - sample) real pictures upscaled + noise):")
    for (name, p) in variants.dropFirst() {
        var maxDiff = 0, sumDiff = 0.0, samples = 0, cosines: [Double] = []
        var exactInputs: [[Float]] = [], fastInputs: [[Float]] = []
        for (_, bytes) in qualitySet {
            let e = try variants[0].1.decode(bytes: bytes, name: "x"), f = try p.decode(bytes: bytes, name: "x")
            let re = try variants[0].1.pixelsRGB(e), rf = try p.pixelsRGB(f)
            for k in re.pixels.indices {
                let d = abs(Int(re.pixels[k]) - Int(rf.pixels[k]))
                maxDiff = max(maxDiff, d); sumDiff += Double(d)
            }
            samples += re.pixels.count
            exactInputs.append(try variants[0].1(e).pixels)
            fastInputs.append(try p(f).pixels)
        }
        let ee = try exactEmbedder.embedPixels(exactInputs), ef = try exactEmbedder.embedPixels(fastInputs)
        let d = ee.shape[1]
        for r in 0..<qualitySet.count {
            var dot = 0.0
            for k in 0..<d { dot += Double(ee.data[r * d + k]) * Double(ef.data[r * d + k]) }
            cosines.append(dot)
        }
        say(String(format: "  %-26@ model input (uint8 before normalising): mean |diff| %.2f levels, max %d; embedding cosine to exact: min %.6f, mean %.6f",
                     name as NSString, sumDiff / Double(samples), maxDiff, cosines.min()!, cosines.reduce(0, +) / Double(cosines.count)))
    }

    // 4. End to end.
    say("ingest end to end (index add through the engine, batch 32), \(count) files:")
    var embedders: [JPEGDecoding: Embedder] = [.exact: exactEmbedder]
    for mode in modes {
        let embedder = try embedders[mode] ?? Embedder(modelDirectory: modelURL, batchSize: 32, jpegDecoding: mode)
        embedders[mode] = embedder
        for threads in threadCounts {
            // The exact path is slow: run it once, with the default thread count, unless --all.
            if mode == .exact && threads != IngestOptions.defaultDecodeThreads && threadCounts.count > 1 && !args.contains("--all") { continue }
            let indexDir = dir.appendingPathComponent("index-\(mode.rawValue)-\(threads)")
            try? FileManager.default.removeItem(at: indexDir)
            let catalog = try Catalog.openForWriting(indexDir, identity: try ModelFingerprint.identity(of: embedder.model),
                                                     modelPath: modelPath, orientation: embedder.preprocessor.decoder.orientation)
            var options = IngestOptions()
            options.batchSize = 32
            options.decodeThreads = threads
            let c0 = cpuSeconds()
            let report = try Ingestor(catalog: catalog, embedder: embedder, options: options).run([FilePathBytes(folder.path)])
            let cpu = (cpuSeconds() - c0) / Double(max(1, report.added))
            // End to end, the closing index build included (report.imagesPerSecond leaves it out).
            let rate = report.seconds > 0 ? Double(report.added + report.changed) / report.seconds : 0
            let times = report.times
            say(String(format: "  %-5@ decode threads %d: %6.2f images/s = %5.1f%% of the encoder alone; %.1f CPU-ms per image = encoder's CPU cost / this %.1f%%; %@",
                       mode.rawValue as NSString, threads, rate, 100 * rate / encoder, 1000 * cpu, 100 * encoderCPU / cpu, times.summary as NSString))
            if !report.failed.isEmpty { say("    failed: \(report.failed.count): \(report.failed.first!.reason)") }
        }
    }
    let after = try encoderRate()
    say(String(format: "encoder alone again: %.2f images/s (%.1f%% of the first measurement), %.1f CPU-ms per image; load %@",
               after.rate, 100 * after.rate / encoder, 1000 * after.cpuPerImage, load()))
}

/// A line on stdout, written at once (also when stdout is a file: the run is long).
private func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

/// CPU seconds of the calling thread (not disturbed by other processes' load).
private func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
