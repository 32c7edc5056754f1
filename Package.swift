// swift-tools-version:6.1
import PackageDescription

// Every target is Swift 6 with strict concurrency; these flags are set once here.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let log = Target.Dependency.product(name: "Logging", package: "swift-log")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let postgres = Target.Dependency.product(name: "PostgresNIO", package: "postgres-nio")
let lifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
// Locks ThreadSanitizer can see (pthread mutexes); Synchronization.Mutex is a futex it cannot.
let nioLocks = Target.Dependency.product(name: "NIOConcurrencyHelpers", package: "swift-nio")
let nioSSL = Target.Dependency.product(name: "NIOSSL", package: "swift-nio-ssl")
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")
let hummingbird = Target.Dependency.product(name: "Hummingbird", package: "hummingbird")
let httpClient = Target.Dependency.product(name: "AsyncHTTPClient", package: "async-http-client")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")

/// One executable per service: `Services/<folder>` builds on the shared service kit.
func service(folder: String, extra: [Target.Dependency]) -> Target {
    .executableTarget(
        name: folder + "Service",
        dependencies: ["FairwayServiceKit", "FairwayContracts", "FairwayAMQP", "FairwayCatalog", "FairwayStorage",
                       argumentParser, log, postgres, hummingbird, nioCore, lifecycle, metrics] + extra,
        path: "Services/\(folder)",
        swiftSettings: swiftSettings
    )
}

let services: [(product: String, folder: String, extra: [Target.Dependency])] = [
    ("fairway-ingest", "Ingest", ["FairwayMetadata", "FairwayPublishing", "FairwayPublication"]),
    ("fairway-converter", "Converter", ["FairwayImaging", crypto]),
    ("fairway-metadata", "Metadata", ["FairwayMetadata", "FairwayImaging", "FairwayXML"]),
    ("fairway-qc", "QC", ["FairwayQuality", "FairwayImaging"]),
    ("fairway-retention", "Retention", ["FairwayRetention"]),
    ("fairway-doi", "DOI", ["FairwayPublication", "FairwayPublishing", "FairwayHarvesting"]),
]

// swift-otel does not compile under --sanitize=thread (a strict-concurrency error in its log
// processor, which Fairway does not use): Tests/sanitize sets FAIRWAY_WITHOUT_OTLP=1 and such a
// build has no span exporter (SpanExport then refuses an OTLP endpoint at start).
let withOTLP = Context.environment["FAIRWAY_WITHOUT_OTLP"] != "1"

let package = Package(
    name: "Fairway",
    platforms: [.macOS(.v14)],
    products: services.map { .executable(name: $0.product, targets: [$0.folder + "Service"]) } + [
        .executable(name: "fairway", targets: ["FairwayCLI"]),
        .executable(name: "fairway-bench", targets: ["FairwayBench"]),
        .executable(name: "fairway-fuzz", targets: ["FairwayFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Already in the graph through postgres-nio; named for ByteBuffer (bytea) and TLS settings.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        // The watcher's HTTP client (and DataCite's, later).
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // Spans: the tracing API (already under Hummingbird) and, when configured, export over OTLP/HTTP (no gRPC stack).
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
    ] + (withOTLP ? [.package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"])] : []),
    targets: services.map { service(folder: $0.folder, extra: $0.extra) } + [
        // C interop: rabbitmq-c from the system (Debian librabbitmq-dev) plus a shim for macros and variadics.
        .systemLibrary(
            name: "CRabbitMQ",
            path: "Shared/CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        .target(name: "FairwayContracts", path: "Shared/Contracts", swiftSettings: swiftSettings),
        // libxml2 (Debian libxml2-dev), hardened in Shared/XML: no network, no DTD, no entity substitution.
        .systemLibrary(name: "CXML", path: "Shared/CXML", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        .target(name: "FairwayXML", dependencies: ["CXML"], path: "Shared/XML", swiftSettings: swiftSettings),
        // libtiff (Debian libtiff-dev) and the tile codecs (libdeflate, libzstd), with a small C file for what Swift cannot call (variadics, va_list handlers).
        .target(name: "CTIFF", path: "Shared/CTIFF", linkerSettings: [.linkedLibrary("tiff"), .linkedLibrary("deflate"), .linkedLibrary("zstd")]),
        // Images: TIFF reading through libtiff with every size checked before allocation.
        // Pixel loops are optimized in debug builds too: tests then run the code production runs, at its speed.
        .target(name: "FairwayImaging", dependencies: ["CTIFF", "FairwayXML"], path: "Shared/Imaging",
                swiftSettings: swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        // Image metadata from OME-XML, ImageJ descriptions and TIFF tags; file-naming rules.
        .target(name: "FairwayMetadata", dependencies: ["FairwayImaging", "FairwayXML"], path: "Shared/Metadata", swiftSettings: swiftSettings),
        // Image quality: per-channel metrics read band by band, photon-transfer gain estimates, the verdict.
        .target(name: "FairwayQuality", dependencies: ["FairwayImaging", "FairwayMetadata"], path: "Shared/Quality",
                swiftSettings: swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        // libcurl's SMTP client (Debian libcurl4-openssl-dev) behind one C function: curl_easy_setopt is variadic.
        .target(name: "CSMTP", path: "Shared/CSMTP", linkerSettings: [.linkedLibrary("curl")]),
        // Lifecycle policies: the planner (set-based SQL), the crash-safe actions on replicas, notices.
        .target(name: "FairwayRetention", dependencies: ["FairwayCatalog", "FairwayContracts", "FairwayServiceKit", "FairwayMetadata", "CSMTP",
                                                         postgres, log, crypto, metrics], path: "Shared/Retention", swiftSettings: swiftSettings),
        // Publications: DOI names and suffixes, ORCID and ROR checks, licences, the DataCite 4.5 record.
        .target(name: "FairwayPublication", path: "Shared/Publication", swiftSettings: swiftSettings),
        // The DataCite REST API client (AsyncHTTPClient): one call per method, every answer read defensively.
        .target(name: "FairwayDataCite", dependencies: ["FairwayPublication", httpClient, nioCore,
                                                        .product(name: "NIOHTTP1", package: "swift-nio")], path: "Shared/DataCite", swiftSettings: swiftSettings),
        // Publishing: publication requests and withdrawals in the catalog, and their sync with DataCite.
        .target(name: "FairwayPublishing", dependencies: ["FairwayPublication", "FairwayDataCite", "FairwayCatalog", "FairwayContracts",
                                                          "FairwayServiceKit", postgres, log, lifecycle,
                                                          .product(name: "Metrics", package: "swift-metrics")],
                path: "Shared/Publishing", swiftSettings: swiftSettings),
        // OAI-PMH 2.0 over the published datasets: requests checked per verb, resumption tokens, Dublin Core and DataCite XML.
        .target(name: "FairwayHarvesting", dependencies: ["FairwayPublication", "FairwayXML", "FairwayServiceKit", postgres, log],
                path: "Shared/Harvesting", swiftSettings: swiftSettings),
        // Catalog exports: OMERO in-place bulk import, RO-Crate 1.1, ISA-JSON (and its import).
        .target(name: "FairwayExports", dependencies: ["FairwayPublication", "FairwayCatalog", postgres, log],
                path: "Shared/Exports", swiftSettings: swiftSettings),
        // Files in zones: path confinement, folder walks, streaming checksums, format detection.
        .target(name: "FairwayStorage", dependencies: [crypto], path: "Shared/Storage", swiftSettings: swiftSettings),
        .target(
            name: "FairwayAMQP",
            dependencies: ["CRabbitMQ", log, lifecycle, nioLocks],
            path: "Shared/AMQP",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FairwayCatalog",
            dependencies: ["FairwayContracts", postgres, log, nioCore, nioSSL, crypto],
            path: "Shared/Catalog",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FairwayServiceKit",
            dependencies: [
                "FairwayContracts", "FairwayAMQP", "FairwayCatalog", postgres, lifecycle, log, argumentParser,
                hummingbird, nioLocks,
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ] + (withOTLP ? [.product(name: "OTel", package: "swift-otel")] : []),
            path: "Shared/ServiceKit",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "FairwayCLI",
            dependencies: ["FairwayServiceKit", "FairwayCatalog", "FairwayAMQP", "FairwayContracts", "FairwayStorage", "FairwayMetadata",
                           "FairwayQuality", "FairwayRetention", "FairwayPublication", "FairwayPublishing", "FairwayExports", argumentParser, log, postgres, httpClient, nioCore, crypto],
            path: "Services/CLI",
            swiftSettings: swiftSettings
        ),
        // libFuzzer harnesses of the parsers of outside data (Tests/fuzz builds them with -sanitize=fuzzer);
        // the normal build replays saved inputs through them.
        .executableTarget(
            name: "FairwayFuzz",
            dependencies: ["FairwayContracts", "FairwayDataCite", "FairwayImaging", "FairwayMetadata", "FairwayStorage"],
            path: "Tests/Fuzz",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "FairwayBench",
            dependencies: ["FairwayServiceKit", "FairwayAMQP", "FairwayCatalog", "FairwayContracts", argumentParser, log, postgres],
            path: "Benchmarks/Bench",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FairwayTestSupport",
            dependencies: ["FairwayServiceKit", "FairwayAMQP", "FairwayCatalog", "FairwayContracts", postgres, log, lifecycle, httpClient, nioCore],
            path: "Tests/Support",
            exclude: ["pika_publish.py", "check_ome_tiff.py", "make_convert_cases.py", "fake_bfconvert.py", "make_metadata_cases.py", "qc_reference.py", "make_qc_cases.py", "smtp_sink.py", "check_datacite.py", "datacite_standin.py",
                      "check_rocrate.py", "check_isajson.py", "oai_harvest.py", "check_openapi.py"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ContractsTests", dependencies: ["FairwayContracts"], path: "Tests/ContractsTests", swiftSettings: swiftSettings),
        .testTarget(name: "ImagingTests", dependencies: ["FairwayImaging", "FairwayTestSupport", crypto], path: "Tests/ImagingTests", swiftSettings: swiftSettings),
        .testTarget(name: "ConverterTests", dependencies: ["FairwayTestSupport", "FairwayImaging", "FairwayContracts", "FairwayAMQP", postgres], path: "Tests/ConverterTests", swiftSettings: swiftSettings),
        .testTarget(name: "MetadataTests", dependencies: ["FairwayTestSupport", "FairwayMetadata"], path: "Tests/MetadataTests", swiftSettings: swiftSettings),
        .testTarget(name: "QualityTests", dependencies: ["FairwayTestSupport", "FairwayQuality", "FairwayContracts", "FairwayAMQP", postgres], path: "Tests/QualityTests", swiftSettings: swiftSettings),
        .testTarget(name: "RetentionTests", dependencies: ["FairwayTestSupport", "FairwayRetention", "FairwayContracts", "FairwayAMQP", postgres, httpClient, nioCore], path: "Tests/RetentionTests", swiftSettings: swiftSettings),
        .testTarget(name: "PublicationTests", dependencies: ["FairwayPublication", "FairwayDataCite", "FairwayPublishing", "FairwayHarvesting", "FairwayExports", "FairwayXML", "FairwayStorage", .product(name: "NIOHTTP1", package: "swift-nio"), "FairwayTestSupport", "FairwayContracts", postgres, httpClient, nioCore], path: "Tests/PublicationTests", swiftSettings: swiftSettings),
        .testTarget(name: "XMLTests", dependencies: ["FairwayXML", "FairwayTestSupport"], path: "Tests/XMLTests", swiftSettings: swiftSettings),
        .testTarget(name: "StorageTests", dependencies: ["FairwayStorage", "FairwayContracts", crypto], path: "Tests/StorageTests", swiftSettings: swiftSettings),
        .testTarget(name: "IngestTests", dependencies: ["FairwayTestSupport", "FairwayServiceKit", "FairwayContracts", "FairwayAMQP", "FairwayCatalog", "FairwayStorage", postgres, httpClient, nioCore, crypto], path: "Tests/IngestTests", swiftSettings: swiftSettings),
        .testTarget(name: "AMQPTests", dependencies: ["FairwayAMQP", "FairwayTestSupport", "FairwayContracts", "FairwayCatalog", "FairwayServiceKit", nioLocks], path: "Tests/AMQPTests", swiftSettings: swiftSettings),
        .testTarget(name: "CatalogTests", dependencies: ["FairwayCatalog", "FairwayTestSupport", "FairwayContracts", "FairwayServiceKit", "FairwayAMQP", postgres, nioCore], path: "Tests/CatalogTests", swiftSettings: swiftSettings),
        .testTarget(name: "ServiceKitTests", dependencies: ["FairwayServiceKit", "FairwayTestSupport", "FairwayContracts", "FairwayAMQP", "FairwayCatalog", postgres, lifecycle, nioLocks], path: "Tests/ServiceKitTests", swiftSettings: swiftSettings),
    ]
)
