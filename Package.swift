// swift-tools-version: 6.2
import PackageDescription

/// One shared settings array for every Swift target (see shared/DESIGN.md, "Style").
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Tally",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tally", targets: ["tally"]),
        .executable(name: "tally-bench", targets: ["tally-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    ],
    targets: [
        // C libraries: each used only through one Swift wrapper in TallyCore.
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .target(
            name: "CTallyShim",
            cSettings: [.define("OPENSSL_API_COMPAT", to: "30000")],
            linkerSettings: [.linkedLibrary("crypto"), .linkedLibrary("lz4")]
        ),
        .target(
            name: "TallyCore",
            dependencies: ["CLZ4", "COpenSSL", "CTallyShim"],
            swiftSettings: swiftSettings
        ),
        .target(name: "TallyLedger", dependencies: ["TallyCore"], swiftSettings: swiftSettings),
        .target(
            name: "TallyIAM",
            dependencies: ["TallyCore"],
            resources: [.copy("Resources")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TallyAWS",
            dependencies: ["TallyCore", "TallyIAM"],
            resources: [.copy("Resources")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TallyGateway",
            dependencies: [
                "TallyLedger", "TallyAWS", "TallyIAM",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tally",
            dependencies: [
                "TallyCore", "TallyLedger", "TallyIAM", "TallyAWS", "TallyGateway",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tally-bench",
            dependencies: [
                "TallyCore", "TallyLedger", "TallyIAM", "TallyAWS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TallyCoreTests", dependencies: ["TallyCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TallyLedgerTests",
            dependencies: ["TallyLedger", "TallyCore"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TallyIAMTests", dependencies: ["TallyIAM", "TallyCore"], swiftSettings: swiftSettings),
        .testTarget(name: "TallyAWSTests", dependencies: ["TallyAWS", "TallyIAM", "TallyCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TallyGatewayTests",
            dependencies: ["TallyGateway", "TallyLedger", "TallyAWS", "TallyCore"],
            swiftSettings: swiftSettings
        ),
    ]
)
