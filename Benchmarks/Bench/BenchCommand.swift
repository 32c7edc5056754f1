import ArgumentParser
import FairwayAMQP
import Foundation
import Logging

/// `fairway-bench`: throughput figures for the AMQP kit and the outbox relay, one JSON line per run,
/// in the format of `Benchmarks/pika_bench.py` so the two can be compared side by side.
/// It prints figures; it never asserts on them (`Benchmarks/run` compares them with the targets).
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fairway-bench",
        abstract: "Throughput of Fairway's AMQP kit and outbox relay (prints JSON lines, asserts nothing).",
        subcommands: [DeclareQueue.self, AMQPPublish.self, AMQPConsume.self, OutboxRelayBench.self, PostgresLatencyBench.self, SearchBench.self]
    )
}

/// Where the broker is and which queue to use. Without `--queue` a fresh `bench-<random>` quorum
/// queue is declared (with `x-expires`, so the broker removes it after the run); with `--queue` the
/// named queue must already exist (`declare-queue` makes one) and is used as it is, like
/// `pika_bench.py` does, so several runs and pika can share it.
struct BrokerOptions: ParsableArguments {
    @Option(help: "AMQP URL (default: $FAIRWAY_AMQP_URL).")
    var amqpURL: String?

    @Option(help: "Existing queue to use (default: declare a new bench-<random> quorum queue).")
    var queue: String?

    @Option(help: "x-expires in ms of a queue this run declares: the broker deletes it once unused this long.")
    var expiresMs: Int = 120_000

    func url() throws -> String {
        if let amqpURL { return amqpURL }
        guard let url = ProcessInfo.processInfo.environment["FAIRWAY_AMQP_URL"], !url.isEmpty else {
            throw ValidationError("no --amqp-url and FAIRWAY_AMQP_URL is not set (source .fairway/env)")
        }
        return url
    }

    /// The queue to use and what to declare on connect: nothing for a given queue, a fresh quorum
    /// queue otherwise. `bindings` are declared either way.
    func queue(fresh prefix: String = BenchNames.fresh("bench"), bindings: (String) -> [AMQPTopology.Binding] = { _ in [] })
        -> (name: String, topology: AMQPTopology) {
        if let queue { return (queue, AMQPTopology(bindings: bindings(queue))) }
        return (prefix, Self.quorumQueue(prefix, expiresMs: expiresMs, bindings: bindings(prefix)))
    }

    /// A quorum queue like a service queue, which the broker removes by itself after the run.
    static func quorumQueue(_ name: String, expiresMs: Int, bindings: [AMQPTopology.Binding] = []) -> AMQPTopology {
        AMQPTopology(
            queues: [.init(name: name, arguments: [
                "x-queue-type": .string("quorum"),
                "x-expires": .int(Int64(expiresMs)),
            ])],
            bindings: bindings
        )
    }

    func configuration(_ role: String) throws -> AMQPConfiguration {
        var configuration = try AMQPConfiguration(url: try url(), connectionName: "fairway-bench \(role)")
        configuration.reconnect.initial = .milliseconds(50)
        configuration.reconnect.maximum = .seconds(1)
        configuration.drainTimeout = .seconds(10)
        return configuration
    }
}

/// `declare-queue`: declares the bench queue and prints its name (for `pika_bench.py`, which only
/// declares passively).
struct DeclareQueue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "declare-queue",
        abstract: "Declare a bench quorum queue (named by --queue, else bench-<random>) with x-expires and print its name."
    )

    @OptionGroup var broker: BrokerOptions

    func run() async throws {
        let queue = broker.queue ?? BenchNames.fresh("bench")
        let publisher = AMQPPublisher(configuration: try broker.configuration("declare"),
                                      topology: BrokerOptions.quorumQueue(queue, expiresMs: broker.expiresMs), logger: BenchLog.logger)
        try await publisher.whileRunning {}
        print(queue)
    }
}

enum BenchNames {
    static func fresh(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }
}

enum BenchLog {
    /// The kit logs connection events at info; the figures go to stdout, so keep stderr quiet.
    static let logger: Logger = {
        var logger = Logger(label: "fairway-bench")
        logger.logLevel = ProcessInfo.processInfo.environment["FAIRWAY_BENCH_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }()

    /// For `PostgresClient.withClient`, whose body may lease a connection before the client's run
    /// loop has started (PostgresNIO warns, then serves the lease once it runs).
    static let quiet: Logger = {
        var quiet = BenchLog.logger
        quiet.logLevel = max(quiet.logLevel, .error)
        return quiet
    }()
}

/// One result line, in the format of `pika_bench.py`, plus optional extra fields.
struct Report {
    var mode: String
    var count: Int
    var seconds: Double
    var extra: [(String, String)] = []

    func print() {
        let rate = seconds > 0 ? Double(count) / seconds : 0
        var fields = [
            ("client", "\"fairway\""), ("mode", "\"\(mode)\""), ("count", "\(count)"),
            ("seconds", String(format: "%.3f", seconds)), ("rate", String(format: "%.1f", rate)),
        ]
        fields += extra
        Swift.print("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
        fflush(nil)
    }
}

extension Duration {
    var seconds: Double {
        let (whole, atto) = components
        return Double(whole) + Double(atto) / 1e18
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
