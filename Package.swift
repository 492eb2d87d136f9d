// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Persona",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "persona", targets: ["persona"]),
        .executable(name: "persona-mock", targets: ["persona-mock"]),
        .executable(name: "persona-bench", targets: ["persona-bench"]),
        .executable(name: "persona-fuzz", targets: ["persona-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", exact: "2.8.1"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", exact: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
    ],
    targets: [
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CNCursesW", path: "Sources/CNCursesW",
                       providers: [.apt(["libncursesw5-dev"])]),
        .target(name: "Digits"),
        .target(name: "PersonaKit", dependencies: ["CCurl", "Digits", "Yams", .product(name: "GRDB", package: "GRDB.swift")],
                resources: [.copy("Costs/models.yaml")]),
        .target(name: "TerminalUI", dependencies: ["CNCursesW", "Digits"]),
        .target(name: "PersonaApp", dependencies: ["Digits", "PersonaKit", "TerminalUI"]),
        // The HTTP gateway (`persona serve`): the only target that imports the server library.
        .target(name: "PersonaGateway", dependencies: ["PersonaKit", .product(name: "Hummingbird", package: "hummingbird"),
                                                      .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                                                      .product(name: "Logging", package: "swift-log"),
                                                      .product(name: "HTTPTypes", package: "swift-http-types"),
                                                      .product(name: "NIOCore", package: "swift-nio"),
                                                      .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
        .target(name: "MockProvider"),
        .target(name: "CBenchPTY"),
        .target(name: "PersonaFuzz", dependencies: ["PersonaKit", "MockProvider"]),
        .executableTarget(name: "persona-fuzz", dependencies: ["PersonaFuzz", "PersonaKit"]),
        .executableTarget(name: "persona", dependencies: [
            "PersonaApp", "PersonaGateway", "PersonaKit", "TerminalUI",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "persona-mock", dependencies: ["MockProvider"]),
        .executableTarget(name: "persona-bench", dependencies: ["PersonaKit", "PersonaApp", "TerminalUI", "MockProvider", "CBenchPTY"]),
        .testTarget(name: "PersonaKitTests", dependencies: ["PersonaKit", "MockProvider", "PersonaFuzz",
                                                             .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "PersonaAppTests", dependencies: ["PersonaApp", "PersonaKit", "PersonaGateway", "MockProvider", "persona",
                                                             .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "TerminalUITests", dependencies: ["TerminalUI"]),
    ]
)
