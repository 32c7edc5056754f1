import ArgumentParser
import FairwayAMQP
import FairwayContracts
import FairwayServiceKit
import Foundation

/// `fairway dlq`: the dead-letter queues, where a service puts a message it could not handle,
/// with the error: list them, show one, and send messages back to their service once the cause
/// is fixed.
struct DLQCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "List, show and replay dead-lettered messages (each with its error).",
        discussion: "Exit codes: 0 done, 1 failure (the message says why), 64 usage.",
        subcommands: [List.self, Show.self, Replay.self]
    )

    /// The headers a service's worker adds when it dead-letters a message (see MessageWorker).
    static let failureHeaders = ["x-fairway-error", "x-fairway-consumer", "x-fairway-original-routing-key", "x-fairway-attempts",
                                 "x-fairway-failed-at", "x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
                                 "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason", "x-delivery-count"]

    struct BrokerOptions: ParsableArguments {
        @Option(help: "A service (ingest, converter, metadata, qc, retention, doi); default: every service.") var queue: String?
        @OptionGroup var catalog: CatalogOptions

        func validate() throws {
            if let queue, Self.service(queue) == nil {
                throw ValidationError("--queue must be one of \(ServiceName.allCases.map(\.rawValue).joined(separator: ", ")) (or its queue name)")
            }
        }

        /// `converter`, `fairway-converter` and `fairway.converter.dlq` all name the converter.
        static func service(_ text: String) -> ServiceName? {
            ServiceName.allCases.first { [$0.rawValue, $0.executable].contains(text) || text.hasSuffix(".\($0.rawValue).dlq") || text.hasSuffix(".\($0.rawValue)") }
        }

        var services: [ServiceName] { queue.flatMap(Self.service).map { [$0] } ?? ServiceName.allCases }

        func admin() throws -> (AMQPAdmin, FairwayBrokerNames) {
            let configuration = try catalog.configuration()
            var amqp: AMQPConfiguration
            do { amqp = try AMQPConfiguration(url: try configuration.requireAMQPURL(), connectionName: "fairway dlq (cli)") }
            catch { throw CommandFailure(String(describing: error)) }
            amqp.reconnect.maximum = .seconds(2)
            return (AMQPAdmin(configuration: amqp), FairwayBrokerNames(namespace: configuration.brokerNamespace))
        }
    }

    /// One dead-lettered message as an operator reads it.
    struct Entry: Encodable {
        let queue: String
        let messageID: String?
        let routingKey: String?
        let correlationID: String?
        let consumer: String?
        let attempts: Int?
        let failedAt: String?
        let error: String?
        let bytes: Int
        var headers: [String: String]?
        var body: String?

        init(_ message: AMQPFetched, queue: String, full: Bool) {
            let headers = message.properties.headers
            func text(_ key: String) -> String? { headers[key]?.stringValue }
            self.queue = queue
            messageID = message.properties.messageID
            routingKey = text("x-fairway-original-routing-key") ?? message.properties.type
            correlationID = message.properties.correlationID
            consumer = text("x-fairway-consumer")
            attempts = headers["x-fairway-attempts"]?.intValue.map { Int($0) }
            failedAt = text("x-fairway-failed-at")
            error = text("x-fairway-error")
            bytes = message.body.count
            if full {
                self.headers = headers.mapValues(\.displayText)
                self.body = String(validating: message.body, as: UTF8.self) ?? "(\(message.body.count) bytes, not UTF-8)"
            }
        }
    }

    /// Runs a broker call on one queue: nil when the queue does not exist (its service never ran),
    /// an operator's message for any other failure.
    static func onQueue<T: Sendable>(_ queue: String, _ work: () async throws(AMQPError) -> T) async throws(CommandFailure) -> T? {
        do {
            return try await work()
        } catch {
            if case .closedByBroker(404, _) = error { return nil }
            throw CommandFailure("\(queue): \(error.description)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Each service's dead-letter queue: how many messages, and each one's id, key, attempts, time and error.",
            discussion: "Messages are read and left in place. Exit codes: 0 listed, 1 the broker cannot be read."
        )
        @OptionGroup var broker: BrokerOptions
        @Option(help: "At most this many messages per queue.") var limit = 100
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (admin, names) = try broker.admin()
            var listed: [[String: Any]] = []
            var entries: [Entry] = []
            for service in broker.services {
                let queue = names.deadLetterQueue(service.rawValue)
                let limit = limit
                guard let (ready, messages) = try await DLQCommand.onQueue(queue, { () async throws(AMQPError) -> (Int, [AMQPFetched]) in
                    let state = try await admin.queueState(queue)
                    return (state.ready, state.ready == 0 ? [] : try await admin.peek(queue: queue, limit: limit))
                }) else {
                    listed.append(["queue": queue, "service": service.rawValue, "messages": 0, "missing": true])
                    continue
                }
                entries += messages.map { Entry($0, queue: queue, full: false) }
                listed.append(["queue": queue, "service": service.rawValue, "messages": ready])
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let messages = try JSONSerialization.jsonObject(with: try encoder.encode(entries))
                printJSON(["queues": listed, "messages": messages])
                return
            }
            for queue in listed {
                let name = queue["queue"] as! String
                print("\(name): \(queue["missing"] != nil ? "not declared yet" : "\(queue["messages"]!) messages")")
                for entry in entries where entry.queue == name {
                    print("  \(entry.messageID ?? "(no id)")  \(entry.routingKey ?? "?")  \(entry.failedAt ?? "")  attempts \(entry.attempts.map(String.init) ?? "?")")
                    print("    \((entry.error ?? "(no error recorded)").split(separator: "\n").first ?? "")")
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One dead-lettered message in full: properties, headers, error and body.",
            discussion: "Exit codes: 0 shown, 1 not found or the broker cannot be read, 64 usage."
        )
        @OptionGroup var broker: BrokerOptions
        @Option(help: "The message id (fairway dlq list shows it).") var id: String
        @Option(help: "Look through at most this many messages.") var limit = 10_000
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (admin, names) = try broker.admin()
            for service in broker.services {
                let queue = names.deadLetterQueue(service.rawValue)
                let limit = limit
                let messages = try await DLQCommand.onQueue(queue) { () async throws(AMQPError) in try await admin.peek(queue: queue, limit: limit) } ?? []
                guard let message = messages.first(where: { $0.properties.messageID == id }) else { continue }
                let entry = Entry(message, queue: queue, full: true)
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                    print(String(decoding: try encoder.encode(entry), as: UTF8.self))
                } else {
                    print("""
                        queue: \(queue)
                        message id: \(entry.messageID ?? "")
                        routing key: \(entry.routingKey ?? "")
                        correlation id: \(entry.correlationID ?? "")
                        consumer: \(entry.consumer ?? "")  attempts: \(entry.attempts.map(String.init) ?? "?")  failed at: \(entry.failedAt ?? "")
                        error: \(entry.error ?? "(none recorded)")
                        headers:
                        """)
                    for (key, value) in (entry.headers ?? [:]).sorted(by: { $0.key < $1.key }) { print("  \(key): \(value)") }
                    print("body (\(entry.bytes) bytes):\n\(entry.body ?? "")")
                }
                return
            }
            throw CommandFailure("no message \(id.prefix(80)) in \(broker.services.map { names.deadLetterQueue($0.rawValue) }.joined(separator: ", "))")
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead-lettered messages back to their service's queue (after fixing the cause).",
            discussion: """
                Each message goes to the queue of the service that failed it (not through the exchange, so \
                other services do not see it again), with its message id, correlation id, type and body \
                unchanged and the failure headers removed; it leaves the dead-letter queue only once the \
                broker has confirmed it. Exit codes: 0 replayed, 1 nothing matched or the broker failed, 64 usage.
                """
        )
        @OptionGroup var broker: BrokerOptions
        @Option(help: "Replay this message (repeatable).") var id: [String] = []
        @Flag(help: "Replay every message of the queue(s).") var all = false
        @Option(help: "Look through at most this many messages per queue.") var limit = 10_000
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            guard all != !id.isEmpty else { throw ValidationError("give --id ID (repeatable) or --all") }
        }

        func run() async throws {
            let (admin, names) = try broker.admin()
            let wanted = Set(id)
            let replayAll = all
            var replayed: [[String: String]] = []
            for service in broker.services {
                let dlq = names.deadLetterQueue(service.rawValue), target = names.queue(service.rawValue)
                let limit = limit
                let moved = try await DLQCommand.onQueue(dlq) { () async throws(AMQPError) in
                    try await admin.move(from: dlq, limit: limit) { message in
                        guard replayAll || wanted.contains(message.properties.messageID ?? "") else { return nil }
                        var properties = message.properties
                        for header in DLQCommand.failureHeaders { properties.headers.removeValue(forKey: header) }
                        properties.headers["x-fairway-replayed-at"] = .string(ISO8601Timestamp.format(Date()))
                        // The default exchange routes by queue name: only the service that failed gets it.
                        return AMQPOutgoingMessage(exchange: "", routingKey: target, body: message.body, properties: properties)
                    }
                } ?? []
                replayed += moved.map { ["queue": target, "messageID": $0.properties.messageID ?? ""] }
            }
            if json { printJSON(["replayed": replayed]) } else {
                for entry in replayed { print("replayed \(entry["messageID"]!) to \(entry["queue"]!)") }
                print("\(replayed.count) messages replayed")
            }
            if replayed.isEmpty { throw CommandFailure("no dead-lettered message matched") }
            if !replayAll, let missing = wanted.subtracting(replayed.map { $0["messageID"]! }).sorted().first {
                throw CommandFailure("message \(missing.prefix(80)) was not found")
            }
        }
    }
}
