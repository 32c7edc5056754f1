import ArgumentParser
import FairwayCatalog
import FairwayServiceKit
import Foundation
import Logging
import PostgresNIO

/// The catalog connection of operator commands: FAIRWAY_DATABASE_URL (the owner's role) or --database-url.
struct CatalogOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "PostgreSQL URL (default: FAIRWAY_DATABASE_URL).")
    var databaseURL: String?

    func configuration() throws -> FairwayConfiguration {
        do { return try .fromEnvironment() } catch { throw ValidationError(error.description) }
    }

    func withCatalog<Value: Sendable>(_ body: @Sendable (PostgresClient, Logger) async throws -> Value) async throws -> Value {
        let configuration = try configuration()
        FairwayLogging.bootstrap(format: configuration.logFormat, level: configuration.logLevel == "info" ? "warning" : configuration.logLevel)
        let url = try databaseURL ?? configuration.requireDatabaseURL()
        var logger = Logger(label: "fairway.cli")
        // The client's own notices (a lease racing its start-up) are noise on an operator's terminal.
        if !["trace", "debug"].contains(configuration.logLevel) { logger.logLevel = .error }
        let quiet = logger
        do {
            return try await PostgresClient.withClient(url: url, logger: quiet) { client in try await body(client, quiet) }
        } catch let error as PSQLError {
            throw CommandFailure(describeDatabaseError(error))
        }
    }
}

/// A failure the operator can act on: printed as is, exit code 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Writes one line to standard error (progress, warnings), keeping stdout for results.
func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Prints rows as aligned columns, or as a JSON array of objects with `--json`.
func printTable(_ header: [String], _ rows: [[String]], json: Bool) {
    if json {
        let objects = rows.map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
        let data = try! JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
        return
    }
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
    for row in [header] + rows {
        print(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
            .trimmingCharacters(in: .whitespaces))
    }
}

/// A progress line on standard error: done/total, bytes, rate and ETA. Redrawn in place on a
/// terminal; on a pipe or a log, one plain line every few seconds.
final class ProgressBar: @unchecked Sendable {
    private let label: String
    private let total: Int
    private let totalBytes: Int64
    private let started = ContinuousClock.now
    private var lastDraw = ContinuousClock.now - .seconds(60)
    let interactive = isatty(2) == 1
    private let lock = NSLock()

    init(_ label: String, total: Int, totalBytes: Int64) {
        self.label = label; self.total = total; self.totalBytes = totalBytes
    }

    func update(done: Int, bytes: Int64, force: Bool = false) {
        lock.lock(); defer { lock.unlock() }
        let now = ContinuousClock.now
        guard force || now - lastDraw >= (interactive ? .milliseconds(200) : .seconds(5)) else { return }
        lastDraw = now
        let elapsed = max((now - started).seconds, 0.001)
        let rate = Double(done) / elapsed
        let eta = rate > 0 && done < total ? " ETA \(Self.duration(Double(total - done) / rate))" : ""
        let width = 24
        let filled = total == 0 ? width : min(width, width * done / max(total, 1))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "\(label) [\(bar)] \(done)/\(total) files, \(Self.bytes(bytes))/\(Self.bytes(totalBytes)), "
            + String(format: "%.0f files/s, %@/s", rate, Self.bytes(Int64(Double(bytes) / elapsed))) + eta
        FileHandle.standardError.write(Data(((interactive ? "\r\u{1B}[K" : "") + line + (interactive ? "" : "\n")).utf8))
    }

    func finish(done: Int, bytes: Int64) {
        update(done: done, bytes: bytes, force: true)
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count), unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 3600 ? "\(total / 3600)h\(total % 3600 / 60)m" : total >= 60 ? "\(total / 60)m\(total % 60)s" : "\(total)s"
    }
}

/// A progress bar for work whose size is known only once it starts (the first update creates it).
final class LazyProgress: @unchecked Sendable {
    private let label: String
    private let lock = NSLock()
    private var bar: ProgressBar?
    private var last: (done: Int, bytes: Int64) = (0, 0)

    init(_ label: String) { self.label = label }

    func update(done: Int, total: Int, bytes: Int64, totalBytes: Int64) {
        lock.lock()
        if bar == nil { bar = ProgressBar(label, total: total, totalBytes: totalBytes) }
        last = (done, bytes)
        let bar = bar!
        lock.unlock()
        bar.update(done: done, bytes: bytes)
    }

    func finish() {
        lock.lock(); let bar = bar, last = last; lock.unlock()
        bar?.finish(done: last.done, bytes: last.bytes)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
