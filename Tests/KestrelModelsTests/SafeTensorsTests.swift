import Foundation
import KestrelModels
import KestrelTestSupport
import XCTest

final class SafeTensorsTests: XCTestCase {
    func testRoundTripsEachDType() throws {
        var rng = SeededRandom(seed: 1)
        let values = rng.floats(3 * 5, scale: 4)
        let dir = Fixtures.temporaryDirectory()
        let url = dir.appendingPathComponent("t.safetensors")
        try SafeTensorsWriter.write([
            .init("a", shape: [3, 5], values: values, dtype: .f32),
            .init("b", shape: [15], values: values, dtype: .f16),
            .init("c", shape: [5, 3], values: values, dtype: .bf16),
        ], to: url, metadata: ["format": "pt"])
        let file = try SafeTensorsFile(url: url)
        XCTAssertEqual(file.names, ["a", "b", "c"])
        XCTAssertEqual(file.metadata["format"], "pt")
        XCTAssertEqual(file.entries["c"]?.shape, [5, 3])
        XCTAssertEqual(try file.floats("a"), values)
        XCTAssertEqual(try file.floats("b"), values.map { Float(Float16($0)) })
        let bf = try file.floats("c")
        for (x, y) in zip(bf, values) { XCTAssertEqual(x, y, accuracy: abs(y) / 128 + 1e-6) }
        XCTAssertEqual(file.dtypes, ["F32", "F16", "BF16"])
    }

    func testTruncatedFileNamesTheTensor() throws {
        let dir = Fixtures.temporaryDirectory()
        let url = dir.appendingPathComponent("t.safetensors")
        var data = SafeTensorsWriter.encode([.init("weight", shape: [64], values: [Float](repeating: 1, count: 64))])
        data.removeLast(10)
        try data.write(to: url)
        XCTAssertThrowsError(try SafeTensorsFile(url: url)) { error in
            XCTAssertTrue("\(error)".contains("weight"), "\(error)")
            XCTAssertTrue("\(error)".contains("truncated"), "\(error)")
        }
    }

    func testGarbageAndEmptyFilesAreErrors() throws {
        let dir = Fixtures.temporaryDirectory()
        for (name, bytes) in [("empty", Data()), ("garbage", Data("hello world, not tensors".utf8))] {
            let url = dir.appendingPathComponent("\(name).safetensors")
            try bytes.write(to: url)
            XCTAssertThrowsError(try SafeTensorsFile(url: url)) { error in
                XCTAssertTrue("\(error)".contains(url.path), "\(error)")
            }
        }
    }

    func testUnsupportedDTypeIsNamed() throws {
        let dir = Fixtures.temporaryDirectory()
        let url = dir.appendingPathComponent("i.safetensors")
        // A hand-made header with an I64 tensor.
        let json = Data(#"{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}"#.utf8)
        var data = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json); data.append(Data(count: 16))
        try data.write(to: url)
        let file = try SafeTensorsFile(url: url)
        XCTAssertThrowsError(try file.floats("ids")) { error in
            XCTAssertTrue("\(error)".contains("ids") && "\(error)".contains("I64"), "\(error)")
        }
        XCTAssertThrowsError(try file.floats("nope")) { error in
            XCTAssertTrue("\(error)".contains("missing tensor nope"), "\(error)")
        }
    }
}
