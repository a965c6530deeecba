// swift-tools-version: 6.0
// Kestrel: a vision-language retrieval engine. Layers import downward only:
//   C shims <- KestrelKernels <- KestrelTokenizer / KestrelImage <- KestrelModels
//   KestrelStore (LMDB), KestrelIndex (FAISS)  <- KestrelEngine <- kestrel (CLI)
import PackageDescription

// Release builds of the hot paths: whole-module, no exclusivity checks in kernels.
let fast: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "Kestrel",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "kestrel", targets: ["kestrel"]),
        .library(name: "KestrelEngine", targets: ["KestrelEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C shims: one per system library, each imported by exactly one Swift module.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        // LMDB behind a small C target: every call that reads pages runs under a fault guard.
        .target(name: "CLMDB", path: "Sources/CLMDB", linkerSettings: [.linkedLibrary("lmdb")]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(
            name: "CFaiss",
            path: "Sources/CFaiss",
            cxxSettings: [.unsafeFlags(["-O2", "-fopenmp"])],
            linkerSettings: [
                .linkedLibrary("faiss"), .linkedLibrary("gomp"), .linkedLibrary("blas"),
                .linkedLibrary("lapack"), .linkedLibrary("m"), .linkedLibrary("stdc++"),
            ]),

        // Layers.
        .target(name: "KestrelKernels", dependencies: ["CBLAS"], swiftSettings: fast),
        .target(name: "KestrelTokenizer", dependencies: ["CZlib"], swiftSettings: fast),
        .target(name: "KestrelImage", dependencies: ["CJPEG", "CPNG"], swiftSettings: fast),
        .target(
            name: "KestrelModels", dependencies: ["KestrelKernels", "KestrelTokenizer", "KestrelImage"],
            swiftSettings: fast),
        .target(name: "KestrelStore", dependencies: ["CLMDB"], swiftSettings: fast),
        .target(name: "KestrelIndex", dependencies: ["CFaiss"], swiftSettings: fast),
        .target(
            name: "KestrelEngine",
            dependencies: ["KestrelModels", "KestrelStore", "KestrelIndex"],
            swiftSettings: fast),
        .executableTarget(
            name: "kestrel",
            dependencies: ["KestrelEngine", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: fast),

        .executableTarget(
            name: "kestrel-bench", dependencies: ["KestrelEngine"], path: "Sources/kestrel-bench",
            swiftSettings: fast),

        // Test support: tiny configs, temp dirs, assert-close helpers, fixture paths.
        .target(name: "KestrelTestSupport", dependencies: [], path: "Sources/KestrelTestSupport"),

        .testTarget(name: "KestrelKernelsTests", dependencies: ["KestrelKernels", "KestrelTestSupport"]),
        .testTarget(name: "KestrelTokenizerTests", dependencies: ["KestrelTokenizer", "KestrelTestSupport"]),
        .testTarget(name: "KestrelImageTests", dependencies: ["KestrelImage", "KestrelTestSupport"]),
        .testTarget(name: "KestrelModelsTests", dependencies: ["KestrelModels", "KestrelTestSupport"]),
        .testTarget(name: "KestrelStoreTests", dependencies: ["KestrelStore", "KestrelTestSupport"]),
        .testTarget(name: "KestrelIndexTests", dependencies: ["KestrelIndex", "KestrelTestSupport"]),
        .testTarget(name: "KestrelEngineTests", dependencies: ["KestrelEngine", "KestrelTestSupport"]),
        .testTarget(name: "KestrelCLITests", dependencies: ["KestrelTestSupport"]),
    ]
)
