// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "kappa",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kappa", targets: ["kappa"]),
        .executable(name: "kappa-sim", targets: ["kappa-sim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.7.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.11.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // C: the libraries, and one instruction. Nothing but these targets imports C.
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CNATS",
            pkgConfig: "libnats",
            providers: [.apt(["libnats-dev"])]
        ),
        // The CPU's CRC-32C instruction for the log's checksums (Swift cannot emit it); no library, one C file.
        .target(
            name: "CCRC32C",
            path: "Sources/CCRC32C"
        ),

        // glibc's allocator statistics and trimming: heap bytes per series, memory given back after big checkpoints.
        .systemLibrary(name: "CMalloc"),
        .target(
            name: "KappaCore",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KappaLog",
            dependencies: [
                "KappaCore",
                "CCRC32C",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KappaMQTT",
            dependencies: [
                "CMosquitto",
                "KappaCore",
                "KappaLog",
                "KappaSparkplug",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The log on a NATS JetStream cluster, behind KappaLog's PartitionedLog protocol.
        .target(
            name: "KappaJetStream",
            dependencies: [
                "CNATS",
                "KappaCore",
                "KappaLog",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KappaPostgres",
            dependencies: [
                "CLibPQ",
                "KappaCore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Processors compute: the processor protocol, runtime, checkpoint state machine and the processors; the
        // checkpoint-store protocol they are persisted through. No SQL, no PostgreSQL module.
        .target(
            name: "KappaStream",
            dependencies: [
                "CMalloc",
                "KappaCore",
                "KappaLog",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Sinks persist: Kappa's schema and migrations, one writer per processor output, offsets and fencing,
        // rejected records, dead-letter claims, output versions and replays, over the libpq driver (KappaPostgres);
        // the processor catalog, where each processor is registered once.
        .target(
            name: "KappaStorage",
            dependencies: [
                "KappaCore",
                "KappaLog",
                "KappaPostgres",
                "KappaStream",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // What the `kappa` commands do, as a library with unit tests: settings resolution (flag > environment >
        // file > default), the wiring of `kappa run`'s services, health and metrics endpoints, alert sinks, the
        // database session of every command, row formatting. The `kappa` executable parses arguments and prints.
        .target(
            name: "KappaGateway",
            dependencies: [
                "KappaCore",
                "KappaLog",
                "KappaMQTT",
                "KappaPostgres",
                "KappaStorage",
                "KappaStream",
                "KappaJetStream",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        // `kappa eval`: the anomaly pipeline against labelled files or the simulator, so the CLI need not
        // import the simulator.
        .target(
            name: "KappaEvaluation",
            dependencies: [
                "KappaCore",
                "KappaLog",
                "KappaSimulator",
                "KappaStream",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The exit status convention of both commands (input errors exit 2).
        .target(
            name: "KappaCommandLine",
            dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "kappa",
            dependencies: [
                "KappaCommandLine",
                "KappaGateway",
                "KappaJetStream",
                "KappaEvaluation",
                "KappaCore",
                "KappaLog",
                "KappaMQTT",
                "KappaPostgres",
                "KappaStorage",
                "KappaStream",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // Sparkplug B: topics, births and aliases, data, deaths; the payload code is generated from
        // Protos/sparkplug_b.proto once (Protos/generate.sh) and committed.
        .target(
            name: "KappaSparkplug",
            dependencies: [
                "KappaCore",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),

        // The device simulator: a library (tested) and a thin executable.
        .target(
            name: "KappaSimulator",
            dependencies: [
                "KappaCore",
                "KappaMQTT",
                "KappaSparkplug",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "simulators/KappaSimulator",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "kappa-sim",
            dependencies: [
                "KappaCommandLine",
                "KappaGateway",
                "KappaSimulator",
                "KappaCore",
                "KappaMQTT",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "simulators/kappa-sim",
            swiftSettings: swiftSettings
        ),

        // Benchmarks: executables that print each figure beside its comparator (see the README's "Benchmarks").
        .executableTarget(
            name: "LogBenchmark",
            dependencies: ["BenchmarkSupport", "KappaCore", "KappaLog", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/LogBenchmark",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BenchmarkSupport",
            dependencies: ["KappaCore"],
            path: "Benchmarks/BenchmarkSupport",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "BridgeBenchmark",
            dependencies: ["BenchmarkSupport", "KappaCore", "KappaLog", "KappaMQTT", "KappaTestSupport", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/BridgeBenchmark",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "RollupBenchmark",
            dependencies: [
                "BenchmarkSupport", "KappaCore", "KappaLog", "KappaPostgres", "KappaStorage", "KappaStream",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/RollupBenchmark",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ReplayBenchmark",
            dependencies: [
                "BenchmarkSupport", "KappaCore", "KappaLog", "KappaPostgres", "KappaStorage", "KappaStream",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/ReplayBenchmark",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "JetStreamBenchmark",
            dependencies: ["BenchmarkSupport", "KappaCore", "KappaLog", "KappaJetStream", "KappaMQTT", "KappaTestSupport", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/JetStreamBenchmark",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "CodecBenchmark",
            dependencies: ["KappaCore", "KappaSparkplug"],
            path: "Benchmarks/CodecBenchmark",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "SketchBenchmark",
            dependencies: ["KappaCore"],
            path: "Benchmarks/SketchBenchmark",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "RollupProcessorBenchmark",
            dependencies: ["BenchmarkSupport", "KappaCore", "KappaLog", "KappaPostgres", "KappaStorage", "KappaStream"],
            path: "Benchmarks/RollupProcessorBenchmark",
            swiftSettings: swiftSettings
        ),
        // The processors' read path (read, checksum, decode, apply) on HeadlineBenchmark's load; synchronous for callgrind.
        .executableTarget(
            name: "ReadPathBenchmark",
            dependencies: ["BenchmarkSupport", "KappaCore", "KappaLog", "KappaStream", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/ReadPathBenchmark",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "AnomalyBenchmark",
            dependencies: ["KappaCore", "KappaLog", "KappaStream"],
            path: "Benchmarks/AnomalyBenchmark",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "HeadlineBenchmark",
            dependencies: ["BenchmarkSupport", "KappaCore", "KappaLog", "KappaMQTT", "KappaPostgres", "KappaTestSupport", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/HeadlineBenchmark",
            swiftSettings: swiftSettings
        ),
        // 10 k, 100 k and 1 M active series through `kappa run`: memory per series, checkpoints, CPU, queries.
        .executableTarget(
            name: "ScaleBenchmark",
            dependencies: ["BenchmarkSupport", "KappaCore", "KappaMQTT", "KappaPostgres", "KappaTestSupport", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/ScaleBenchmark",
            swiftSettings: swiftSettings
        ),
        // Heap bytes per active series of the readings processors over one shared registry, no I/O (synchronous).
        .executableTarget(
            name: "SeriesMemoryBenchmark",
            dependencies: ["BenchmarkSupport", "CMalloc", "KappaCore", "KappaLog", "KappaStream"],
            path: "Benchmarks/SeriesMemoryBenchmark",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "SimulatorBenchmark",
            dependencies: ["BenchmarkSupport", "KappaSimulator", "KappaMQTT", "KappaCore", "KappaTestSupport", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/SimulatorBenchmark",
            swiftSettings: swiftSettings
        ),

        // The harness every integration test stands on: a real mosquitto and a real PostgreSQL.
        .target(
            name: "KappaTestSupport",
            dependencies: [
                "KappaCore",
                "KappaLog",
                "KappaPostgres",
                "KappaMQTT",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/KappaTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KappaCoreTests",
            dependencies: ["KappaCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KappaLogTests",
            dependencies: ["KappaLog", "KappaCore", "KappaTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KappaMQTTTests",
            dependencies: ["KappaMQTT", "KappaCore", "KappaLog", "KappaJetStream", "KappaSparkplug", "KappaTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KappaJetStreamTests",
            dependencies: ["KappaJetStream", "KappaLog", "KappaCore", "KappaMQTT", "KappaTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KappaPostgresTests",
            dependencies: ["KappaPostgres", "KappaTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KappaStreamTests",
            dependencies: ["KappaStream", "KappaStorage", "KappaLog", "KappaJetStream", "KappaCore", "KappaPostgres", "KappaTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // The checkpoint loop's decisions as a value: no harness, no I/O.
        .testTarget(
            name: "KappaCheckpointTests",
            dependencies: ["KappaStream"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KappaSimulatorTests",
            dependencies: [
                "KappaSimulator", "KappaStream", "KappaCore", "KappaMQTT", "KappaSparkplug", "KappaTestSupport",
                .product(name: "Logging", package: "swift-log"), .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KappaSparkplugTests",
            dependencies: ["KappaSparkplug", "KappaCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KappaGatewayTests",
            dependencies: [
                "KappaGateway", "KappaLog", "KappaMQTT", "KappaPostgres", "KappaStorage", "KappaStream", "KappaCore", "KappaTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KappaEvaluationTests",
            dependencies: ["KappaEvaluation", "KappaSimulator", "KappaCore", "KappaLog", "KappaStream", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KappaEndToEndTests",
            dependencies: ["KappaTestSupport", "KappaPostgres", "KappaMQTT", "KappaCore", "KappaLog", "KappaJetStream", "KappaSimulator", "KappaStorage", "KappaStream", "KappaSparkplug", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
    ]
)
