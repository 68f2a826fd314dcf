// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "eunomia",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "eunomia", targets: ["eunomia"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        .package(url: "https://github.com/mxcl/Version", from: "2.1.0"),
        // The daemon only (EunomiaDaemon and the CLI); EunomiaHost and the fuzzers stay free of them.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.60.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        // GET /metrics: the Prometheus text exposition format (EunomiaMetrics).
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        // Rules files (EunomiaRules).
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // The stable plugin ABI header, plus the small libbpf helper that plugins compile in.
        .target(
            name: "PluginABI",
            path: "Sources/PluginABI",
            exclude: ["helper", "kit"],
            sources: ["abi.c"],
            publicHeadersPath: "include"
        ),
        // Host-only C glue: libbpf logging trampoline, BTF and ELF inspection.
        .target(
            name: "CHostSupport",
            dependencies: ["PluginABI"],
            path: "Sources/Host/CSupport",
            linkerSettings: [.linkedLibrary("bpf"), .linkedLibrary("elf"), .linkedLibrary("dl")]
        ),
        // The host, one target per concern; each depends only on the ones above it.
        // Schema: the schema model, its validation, resolved parameters, the shared error type.
        .target(
            name: "EunomiaSchema",
            dependencies: [.product(name: "Version", package: "Version")],
            path: "Sources/Host/Schema",
            swiftSettings: [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]
        ),
        // Packages: manifest, archive, artifact checks, the store and build verification.
        .target(
            name: "EunomiaPackages",
            dependencies: [
                "EunomiaSchema", "PluginABI", "CHostSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Version", package: "Version"),
            ],
            path: "Sources/Host/Packages"
        ),
        // Records: the record view every consumer shares, the sink protocol and the router.
        .target(
            name: "EunomiaRecords",
            dependencies: ["EunomiaSchema"],
            path: "Sources/Host/Records",
            swiftSettings: [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]
        ),
        // Output: table, JSON lines, CSV and folded encoders writing into reusable buffers.
        .target(
            name: "EunomiaOutput",
            dependencies: ["EunomiaSchema", "EunomiaRecords", "CHostSupport"],
            path: "Sources/Host/Output",
            // The per-event formatting path writes through class-held buffers; dynamic
            // exclusivity checks there cost ~10% of a JSON event.
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release))]
        ),
        // Runtime: plugin libraries, plugin instances, the event loop and hot swap.
        .target(
            name: "EunomiaRuntime",
            dependencies: [
                "EunomiaSchema", "EunomiaPackages", "EunomiaRecords", "EunomiaContainers", "PluginABI", "CHostSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Host/Runtime",
            swiftSettings: [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]
        ),
        // Rules: the condition language (filters and rules), rules files, alerts.
        .target(
            name: "EunomiaRules",
            dependencies: [
                "EunomiaSchema", "EunomiaRecords", "EunomiaOutput",
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Sources/Host/Rules",
            swiftSettings: [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]
        ),
        // The pieces put together for one-shot use: `eunomia run`, and the fuzzers' entry points.
        .target(
            name: "EunomiaHost",
            dependencies: [
                "EunomiaSchema", "EunomiaPackages", "EunomiaRecords", "EunomiaOutput", "EunomiaRuntime", "EunomiaContainers",
                "EunomiaRules", "CHostSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            path: "Sources/Host/Run"
        ),
        // `eunomia seccomp record`: the syscallrec tracker's report -> an OCI or Docker seccomp profile.
        .target(
            name: "EunomiaSeccomp",
            dependencies: ["EunomiaHost", "EunomiaSchema", "CHostSupport", .product(name: "Logging", package: "swift-log")],
            path: "Sources/Host/Seccomp"
        ),
        // Containers: cgroup ids to container ids, names, images and pods.
        .target(
            name: "EunomiaContainers",
            dependencies: ["EunomiaSchema", "EunomiaPackages", "EunomiaRecords", "CHostSupport"],
            path: "Sources/Host/Containers"
        ),
        // Where packages come from: registry indexes over files and HTTP(S), and OCI registries.
        .target(
            name: "EunomiaRegistry",
            dependencies: [
                "EunomiaSchema", "EunomiaPackages",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Version", package: "Version"),
            ],
            path: "Sources/Host/Registry"
        ),
        // Metrics: the label-counting subscriber, scrape-time snapshots, the exposition (no HTTP here).
        .target(
            name: "EunomiaMetrics",
            dependencies: [
                "EunomiaSchema", "EunomiaRecords",
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Sources/Host/Metrics"
        ),
        // `eunomia server`: config, tracker manager, outputs, the HTTP API; and the API client.
        .target(
            name: "EunomiaDaemon",
            dependencies: [
                "EunomiaHost", "EunomiaRegistry", "EunomiaMetrics", "CHostSupport", "PluginABI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Host/Daemon"
        ),
        .executableTarget(
            name: "eunomia",
            dependencies: [
                "EunomiaHost", "EunomiaDaemon", "EunomiaRegistry", "EunomiaSeccomp",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Host/CLI"
        ),
        // `make bench` only: the host's decode + format pipeline fed by bench/synthetic_plugin.c.
        .executableTarget(
            name: "eunomia-bench-pipeline",
            dependencies: ["EunomiaHost", "EunomiaContainers", .product(name: "Logging", package: "swift-log")],
            path: "bench/pipeline"
        ),
        // `make bench` only: RSS and CPU of one host process with N idle trackers.
        .executableTarget(
            name: "eunomia-bench-footprint",
            dependencies: ["EunomiaHost", "CHostSupport", .product(name: "Logging", package: "swift-log")],
            path: "bench/footprint"
        ),
        // `make bench` only: swap latency, start and event latency, and a swap soak, in one process.
        .executableTarget(
            name: "eunomia-bench-swap",
            dependencies: ["EunomiaHost", "CHostSupport", .product(name: "Logging", package: "swift-log")],
            path: "bench/swap"
        ),
        // `make bench` only: a bare Hummingbird application, the memory floor of the server's HTTP stack.
        .executableTarget(
            name: "eunomia-bench-http-floor",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            path: "bench/http-floor"
        ),
        // libFuzzer targets (docs/fuzzing.md): `make fuzz-build` builds them with --sanitize fuzzer into
        // .build-fuzz. -parse-as-library: libFuzzer supplies main there; in a plain build each one's
        // @_cdecl <module>_main (SwiftPM's renamed entry point) makes it a replayer of input files.
        .executableTarget(
            name: "eunomia-fuzz-package",
            dependencies: ["EunomiaHost"],
            path: "Tests/Fuzz/eunomia-fuzz-package",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "eunomia-fuzz-schema",
            dependencies: ["EunomiaHost"],
            path: "Tests/Fuzz/eunomia-fuzz-schema",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "eunomia-fuzz-params",
            dependencies: ["EunomiaHost"],
            path: "Tests/Fuzz/eunomia-fuzz-params",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .testTarget(
            name: "EunomiaTests",
            dependencies: [
                "EunomiaHost", "EunomiaSchema", "EunomiaPackages", "EunomiaRecords", "EunomiaOutput", "EunomiaRuntime",
                "eunomia", "EunomiaDaemon", "EunomiaRegistry", "EunomiaContainers", "EunomiaMetrics", "EunomiaRules", "EunomiaSeccomp", "CHostSupport",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Logging", package: "swift-log"),
                // DeployTests: the Kubernetes manifests (YAML) and their checksum annotations.
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/EunomiaTests"
        ),
    ]
)
