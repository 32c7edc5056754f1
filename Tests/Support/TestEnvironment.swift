public import Foundation
public import Logging
public import ServiceLifecycle

/// Why an integration test could not even start. Tests fail with it; they never skip.
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The running infrastructure tests use, as `Tests/run` (which starts it) describes it in `.fairway/env`.
public enum TestEnvironment {
    public static let logger: Logger = {
        var logger = Logger(label: "fairway.tests")
        logger.logLevel = ProcessInfo.processInfo.environment["FAIRWAY_TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .error
        return logger
    }()

    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The Python that has the interop packages (pika, tifffile, ome-types): Tests/run exports it.
    public static let python = URL(fileURLWithPath: ProcessInfo.processInfo.environment["FAIRWAY_PYTHON"] ?? "/usr/bin/python3")

    /// A helper script in Tests/Support (case generators, independent checkers).
    public static func supportScript(_ name: String) -> URL {
        repositoryRoot.appendingPathComponent("Tests/Support/\(name)")
    }

    /// Runs a Tests/Support script with `python` and decodes the JSON object on its last line.
    public static func pythonJSON(_ script: String, _ arguments: [String]) async throws -> (status: Int32, output: String, json: Any?) {
        let result = try await run(python, [supportScript(script).path] + arguments)
        let line = result.output.split(separator: "\n").last.map { Data($0.utf8) } ?? Data()
        return (result.status, result.output, try? JSONSerialization.jsonObject(with: line))
    }

    /// A new empty folder under the system's temporary directory.
    public static func temporaryFolder(_ prefix: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    public static func require(_ variable: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
            throw TestSetupError("\(variable) is not set. Integration tests need the real PostgreSQL and RabbitMQ: run them with Tests/run, which starts both and sources .fairway/env.")
        }
        return value
    }

    public static var databaseURL: String { get throws { try require("FAIRWAY_DATABASE_URL") } }
    public static var amqpURL: String { get throws { try require("FAIRWAY_AMQP_URL") } }

    /// A built executable of this package (`swift build` puts them next to the test bundle;
    /// `FAIRWAY_TEST_BIN_DIR` names another build, e.g. the sanitized one of Tests/sanitize).
    public static func executable(_ name: String) throws -> URL {
        let folder = ProcessInfo.processInfo.environment["FAIRWAY_TEST_BIN_DIR"].map { URL(fileURLWithPath: $0) }
            ?? repositoryRoot.appendingPathComponent(".build/debug")
        let url = folder.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw TestSetupError("\(url.path) is missing: build with `swift build --build-tests` first (Tests/run does)")
        }
        return url
    }

    /// Runs a program to completion and returns its exit status and combined output.
    @discardableResult
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let child = try ChildProcess(executable, arguments, environment: environment)
        let status = await child.status()
        return (status, child.output)
    }

    /// `deploy/local/infra ARGS…`: restart the broker, run rabbitmqctl against it, and so on.
    @discardableResult
    public static func infra(_ arguments: String...) async throws -> String {
        let result = try await run(repositoryRoot.appendingPathComponent("deploy/local/infra"), arguments)
        guard result.status == 0 else {
            throw TestSetupError("deploy/local/infra \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.output.suffix(2000))")
        }
        return result.output
    }
}

/// Runs services in a `ServiceGroup` for the duration of `body`, then shuts them down gracefully in
/// reverse order, exactly as an executable does on SIGTERM.
public func withRunningServices<T: Sendable>(
    _ services: [any Service], _ body: @Sendable () async throws -> T
) async throws -> T {
    let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: TestEnvironment.logger))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            let value = try await body()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return value
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
public func eventually(timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(50),
                       _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: interval)
    }
    return try await condition()
}
