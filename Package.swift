// swift-tools-version: 6.0
// Kestrel: a vision-language retrieval engine. Layers import downward only:
//   C shims <- KestrelKernels <- KestrelTokenizer / KestrelImage <- KestrelModels
//   KestrelStore (LMDB), KestrelIndex (FAISS)  <- KestrelEngine <- kestrel (CLI)
//   KestrelModels <- KestrelTraining; KestrelEngine + KestrelTraining <- KestrelEvaluation <- kestrel
//   KestrelEngine <- KestrelServer (HTTP service on Hummingbird 2) <- kestrel
import PackageDescription

// Release builds use SwiftPM's -O with whole-module optimisation and keep every check. No target
// is built with -Ounchecked: measured side by side (docs/benchmarks.md, "Release checks"), it did
// not speed up the kernels (their inner loops already run on unsafe buffer pointers), while in the
// CLI, store, image and engine code it turned missed checks into heap corruption and segfaults.

let package = Package(
    name: "Kestrel",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "kestrel", targets: ["kestrel"]),
        .library(name: "KestrelEngine", targets: ["KestrelEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The search service (`kestrel serve`): HTTP server, Prometheus exposition, multipart uploads.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // Already in the graph through Hummingbird; declared because KestrelServer imports them.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
    ],
    targets: [
        // C shims: one per system library, each imported by one Swift module (CZlib: the tokenizer, whose
        // GzipFile.gunzip also serves KestrelTraining's data building).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        // oneDNN (Debian libdnnl-dev 2.6, OpenMP runtime) behind a small C target: packing, cached
        // matmul primitives, per-call threads, CPU capability queries.
        .target(
            name: "CDNNL", path: "Sources/CDNNL",
            cSettings: [.unsafeFlags(["-O2", "-fno-math-errno"])],
            linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp"), .linkedLibrary("m")]),
        // LMDB behind a small C target: every call that reads pages runs under a fault guard.
        .target(name: "CLMDB", path: "Sources/CLMDB", linkerSettings: [.linkedLibrary("lmdb")]),
        // SHA-256 blocks with the SHA extensions (runtime-checked); the Swift code (KestrelFiles) is the portable twin.
        .target(name: "CSHA256", path: "Sources/CSHA256"),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // Element-wise kernels in C: AVX-512, AVX2+FMA and portable builds, chosen at run time
        // (per-function target attributes; the target itself builds for baseline x86-64). -O2 in
        // debug too, so tests check the code that ships.
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O2"])]),
        .target(
            name: "CFaiss",
            path: "Sources/CFaiss",
            cxxSettings: [.unsafeFlags(["-O2", "-fopenmp"])],
            linkerSettings: [
                .linkedLibrary("faiss"), .linkedLibrary("gomp"), .linkedLibrary("blas"),
                .linkedLibrary("lapack"), .linkedLibrary("m"), .linkedLibrary("stdc++"),
            ]),

        // Layers. KestrelFiles: file paths as bytes, the file operations on them, SHA-256, and the readers-writer
        // lock the store and the index share (Glibc only).
        .target(name: "KestrelFiles", dependencies: ["CSHA256"]),
        .target(name: "KestrelKernels", dependencies: ["CBLAS", "CDNNL", "CKernels"]),
        .target(name: "KestrelTokenizer", dependencies: ["CZlib"]),
        .target(name: "KestrelImage", dependencies: ["CJPEG", "CPNG", "KestrelFiles"]),
        .target(
            name: "KestrelModels", dependencies: ["KestrelKernels", "KestrelTokenizer", "KestrelImage"]),
        .target(name: "KestrelStore", dependencies: ["CLMDB", "KestrelFiles"]),
        .target(name: "KestrelIndex", dependencies: ["CFaiss", "KestrelFiles"]),
        // The default model (trained by `kestrel train --recipe recipes/default.json`), shipped as a resource.
        .target(
            name: "KestrelDefaultModel", path: "Sources/KestrelDefaultModel",
            resources: [.copy("kestrel-default")]),
        .target(
            name: "KestrelEngine",
            dependencies: ["KestrelFiles", "KestrelModels", "KestrelStore", "KestrelIndex", "KestrelDefaultModel"]),
        // Training: the differentiable CLIP, optimiser, data building and loading, the training loop.
        .target(
            name: "KestrelTraining",
            dependencies: ["KestrelKernels", "KestrelModels", "KestrelImage", "KestrelTokenizer", "KestrelFiles"]),
        // Evaluation harness (`kestrel eval`): metrics with bootstrap intervals, plots.
        // Grounded queries: OWL-ViT/OWLv2 detection and dense CLIP heat maps, above the engine.
        .target(name: "KestrelGrounding", dependencies: ["KestrelEngine", "KestrelModels", "KestrelImage", "KestrelKernels"]),
        .target(name: "KestrelEvaluation", dependencies: ["KestrelEngine", "KestrelTraining", "KestrelGrounding"]),
        // The HTTP search service and its web page (`kestrel serve`); knows the engine, not the kernels.
        .target(
            name: "KestrelServer",
            dependencies: [
                "KestrelEngine",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            resources: [.copy("Resources")]),
        .executableTarget(
            name: "kestrel",
            dependencies: ["KestrelEngine", "KestrelTraining", "KestrelEvaluation", "KestrelServer", "KestrelGrounding",
                           "KestrelFiles", "KestrelImage",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")]),

        .executableTarget(
            name: "kestrel-bench", dependencies: ["KestrelEngine", "KestrelLoadSupport"], path: "Sources/kestrel-bench"),
        // Load generation over loopback HTTP (a keep-alive POSIX-socket client, the closed-loop runner,
        // synthetic queries): shared by `kestrel-bench load` and the server's load test. No dependencies.
        .target(name: "KestrelLoadSupport", dependencies: ["KestrelFiles"], path: "Sources/KestrelLoadSupport"),

        // Test support: tiny configs, temp dirs, assert-close helpers, fixture paths.
        .target(name: "KestrelTestSupport", dependencies: [], path: "Sources/KestrelTestSupport"),

        .testTarget(name: "KestrelKernelsTests", dependencies: ["KestrelKernels", "KestrelTestSupport"]),
        .testTarget(name: "KestrelTokenizerTests", dependencies: ["KestrelTokenizer", "KestrelTestSupport"]),
        .testTarget(name: "KestrelImageTests", dependencies: ["KestrelImage", "KestrelTestSupport"]),
        .testTarget(name: "KestrelModelsTests", dependencies: ["KestrelModels", "KestrelTestSupport"]),
        .testTarget(name: "KestrelFilesTests", dependencies: ["KestrelFiles", "KestrelTestSupport"]),
        .testTarget(name: "KestrelStoreTests", dependencies: ["KestrelStore", "KestrelFiles", "KestrelTestSupport"]),
        .testTarget(name: "KestrelIndexTests", dependencies: ["KestrelIndex", "KestrelTestSupport"]),
        .testTarget(name: "KestrelEngineTests", dependencies: ["KestrelEngine", "KestrelTestSupport"]),
        .testTarget(name: "KestrelCLITests", dependencies: ["KestrelTestSupport", "KestrelLoadSupport", "KestrelTraining"]),
        .testTarget(name: "KestrelTrainingTests", dependencies: ["KestrelTraining", "KestrelTestSupport"]),
        .testTarget(name: "KestrelGroundingTests", dependencies: ["KestrelGrounding", "KestrelTestSupport", "KestrelTraining"]),
        .testTarget(name: "KestrelEvaluationTests", dependencies: ["KestrelEvaluation", "KestrelTestSupport"]),
        .testTarget(
            name: "KestrelServerTests",
            dependencies: ["KestrelServer", "KestrelTestSupport", "KestrelLoadSupport", .product(name: "HummingbirdTesting", package: "hummingbird")]),
    ]
)
