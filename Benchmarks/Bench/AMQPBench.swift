import ArgumentParser
import FairwayAMQP
import Foundation
import Synchronization

/// `amqp-publish`: N persistent messages to a quorum queue with publisher confirms, through the
/// batch API (`publisher.publish([messages])`), several batches in flight at once. Like
/// `pika_bench.py`, messages go to the default exchange with the queue name as routing key; the
/// clock runs from the first publish until the last confirm (connecting is not timed).
struct AMQPPublish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "amqp-publish", abstract: "Confirmed persistent publishes to a quorum queue.")

    @OptionGroup var broker: BrokerOptions

    @Option(help: "Messages to publish.")
    var count = 20_000

    @Option(help: "Body size in bytes.")
    var bodySize = 256

    @Option(help: "Confirms outstanding on the connection (AMQPConfiguration.confirmWindow).")
    var window = AMQPConfiguration(endpoint: .init(host: "localhost"), connectionName: "").confirmWindow

    @Option(help: "Messages per publisher.publish([...]) call.")
    var batch = 2_000

    @Option(help: "publish([...]) calls in flight at once.")
    var concurrency = 4

    @Flag(name: .customLong("message-ids"), help: "Give every message its own message_id, as Fairway's messages have (costs the client a UUID per message).")
    var messageIDs = false

    func validate() throws {
        guard count > 0, bodySize >= 0, window > 0, batch > 0, concurrency > 0 else {
            throw ValidationError("--count, --window, --batch and --concurrency must be positive")
        }
    }

    func run() async throws {
        let (queue, topology) = broker.queue()
        var configuration = try broker.configuration("publish")
        configuration.confirmWindow = window
        let publisher = AMQPPublisher(configuration: configuration, topology: topology, logger: BenchLog.logger)
        let message = AMQPOutgoingMessage(
            exchange: "", routingKey: queue, body: [UInt8](repeating: UInt8(ascii: "x"), count: bodySize),
            properties: AMQPProperties(contentType: "application/octet-stream", persistent: true)
        )
        let (seconds, failures) = try await publisher.whileRunning {
            let start = ContinuousClock.now
            let failures = await Self.publishAll(publisher, message: message, count: count, batch: batch,
                                                 concurrency: concurrency, messageIDs: messageIDs)
            return ((ContinuousClock.now - start).seconds, failures)
        }
        if let (error, number) = failures.max(by: { $0.value < $1.value }) {
            FileHandle.standardError.write(Data("\(failures.values.reduce(0, +)) of \(count) publishes failed, e.g. \(number)× \(error)\n".utf8))
        }
        let failed = failures.values.reduce(0, +)
        Report(mode: "publish", count: count - failed, seconds: seconds, extra: [
            ("queue", "\"\(queue)\""), ("body_size", "\(bodySize)"), ("window", "\(window)"),
            ("batch", "\(batch)"), ("concurrency", "\(concurrency)"), ("message_ids", "\(messageIDs)"), ("failed", "\(failed)"),
        ]).print()
        if failed > 0 { throw ExitCode(1) }
    }

    /// Publishes `count` copies of `message` in batches, `concurrency` batches at a time; returns the
    /// failures by error.
    static func publishAll(_ publisher: AMQPPublisher, message: AMQPOutgoingMessage, count: Int,
                           batch: Int, concurrency: Int, messageIDs: Bool = false) async -> [String: Int] {
        let sizes = stride(from: 0, to: count, by: batch).map { min(batch, count - $0) }
        return await withTaskGroup(of: [String: Int].self) { group in
            var next = 0
            func startNext() {
                guard next < sizes.count else { return }
                let size = sizes[next]
                next += 1
                group.addTask {
                    var failures: [String: Int] = [:]
                    var messages = Array(repeating: message, count: size)
                    if messageIDs {
                        for index in messages.indices { messages[index].properties.messageID = UUID().uuidString.lowercased() }
                    }
                    for result in await publisher.publish(messages) {
                        if case .failure(let error) = result { failures["\(error)", default: 0] += 1 }
                    }
                    return failures
                }
            }
            for _ in 0..<concurrency { startNext() }
            var failures: [String: Int] = [:]
            for await done in group {
                failures.merge(done, uniquingKeysWith: +)
                startNext()
            }
            return failures
        }
    }
}

/// `amqp-consume`: N messages from the queue with manual acknowledgements (one `ack()` per
/// delivery, like `pika_bench.py`) and the given prefetch. The clock starts before the consumer
/// connects (so connecting, `basic.qos` and `basic.consume` are included, which pika's figure does
/// not include) and stops when the Nth delivery has been acknowledged; `seconds_to_close` adds the
/// graceful close (cancel, drain, channel and connection close).
struct AMQPConsume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "amqp-consume", abstract: "Consume and ack from a quorum queue.")

    @OptionGroup var broker: BrokerOptions

    @Option(help: "Messages to consume (the queue must hold at least this many; see amqp-publish --queue).")
    var count = 20_000

    @Option(help: "Body size in bytes when --fill publishes the messages first.")
    var bodySize = 256

    @Option(help: "Unacknowledged deliveries the broker may push (basic.qos prefetch).")
    var prefetch: UInt16 = 500

    @Flag(help: "Publish --count messages first with the kit (not timed), for a stand-alone run.")
    var fill = false

    @Option(help: "Give up after this many seconds if fewer than --count messages arrive.")
    var timeout: Double = 120

    func validate() throws {
        guard count > 0, prefetch > 0, timeout > 0 else { throw ValidationError("--count, --prefetch and --timeout must be positive") }
    }

    func run() async throws {
        let (queue, topology) = broker.queue()
        let count = count
        let timeout = timeout
        if fill {
            let publisher = AMQPPublisher(configuration: try broker.configuration("fill"), topology: topology, logger: BenchLog.logger)
            let message = AMQPOutgoingMessage(
                exchange: "", routingKey: queue, body: [UInt8](repeating: UInt8(ascii: "x"), count: bodySize),
                properties: AMQPProperties(contentType: "application/octet-stream", persistent: true)
            )
            let failures = try await publisher.whileRunning {
                await AMQPPublish.publishAll(publisher, message: message, count: count, batch: 2_000, concurrency: 4)
            }
            guard failures.isEmpty else { throw BenchFailure("filling the queue failed: \(failures)") }
        }

        var configuration = try broker.configuration("consume")
        configuration.prefetch = prefetch
        let consumer = AMQPConsumer(configuration: configuration, topology: topology, queue: queue, logger: BenchLog.logger)
        let start = ContinuousClock.now
        let (received, consumed, bytes) = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await consumer.run() }
            // Bounded in time, and given up on a broker error (e.g. no such queue): stopping the
            // consumer ends the delivery sequence.
            group.addTask {
                let deadline = ContinuousClock.now + .seconds(timeout)
                while ContinuousClock.now < deadline {
                    if consumer.status.fatalError != nil { break }
                    do { try await Task.sleep(for: .milliseconds(50)) } catch { return }
                }
                consumer.shutdown()
            }
            var received = 0
            var bytes = 0
            for await delivery in consumer.deliveries {
                bytes += delivery.body.count
                delivery.ack()
                received += 1
                if received >= count { break }
            }
            let consumed = ContinuousClock.now
            consumer.shutdown()
            try await group.next()   // the consumer has closed; the acknowledgements were sent before
            group.cancelAll()        // the timeout
            return (received, consumed, bytes)
        }
        let closed = ContinuousClock.now
        Report(mode: "consume", count: received, seconds: (consumed - start).seconds, extra: [
            ("queue", "\"\(queue)\""), ("prefetch", "\(prefetch)"), ("bytes", "\(bytes)"),
            ("seconds_to_close", String(format: "%.3f", (closed - start).seconds)),
        ]).print()
        if received < count {
            let why = consumer.status.fatalError.map { "\($0)" } ?? "within \(timeout) s"
            FileHandle.standardError.write(Data("only \(received) of \(count) messages: \(why)\n".utf8))
            throw ExitCode(1)
        }
    }
}
