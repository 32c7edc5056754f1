import Foundation
public import Logging
public import ServiceLifecycle
import NIOConcurrencyHelpers

/// Publishes with publisher confirms on its own connection. A publish resolves only when the broker
/// has confirmed the message; many publishes in flight share one pipelined window of confirms.
/// Run it in a `ServiceGroup`; on graceful shutdown it stops accepting work and drains confirms.
public final class AMQPPublisher: Service, Sendable {
    private let owner: OwnerThread
    private let workload: PublisherWorkload
    public var status: ConnectionStatus { owner.status }

    public init(configuration: AMQPConfiguration, topology: AMQPTopology, logger: Logger) {
        workload = PublisherWorkload(window: configuration.confirmWindow)
        owner = OwnerThread(configuration: configuration, topology: topology, workload: workload,
                            status: ConnectionStatus(), logger: logger)
    }

    public func run() async throws {
        await owner.runAsService()
    }

    /// Stops without waiting for a service group (tests, one-shot commands).
    public func shutdown() { owner.requestStop() }

    public func publish(_ message: AMQPOutgoingMessage) async throws(AMQPError) {
        let message = Self.identified(message)
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, AMQPError>, Never>) in
            let accepted = workload.submit([.init(message: message, completion: { continuation.resume(returning: $0) })])
            if accepted { owner.wake() } else { continuation.resume(returning: .failure(.shutdown)) }
        }
        try result.get()
    }

    /// Publishes many messages pipelined; the results are in the order of `messages`.
    public func publish(_ messages: [AMQPOutgoingMessage]) async -> [Result<Void, AMQPError>] {
        guard !messages.isEmpty else { return [] }
        return await withCheckedContinuation { (continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>) in
            let batch = BatchResults(count: messages.count, continuation: continuation)
            let requests = messages.enumerated().map { index, message in
                PublisherWorkload.Request(message: Self.identified(message), completion: { batch.set(index, $0) })
            }
            if workload.submit(requests) { owner.wake() } else { batch.failAll(.shutdown) }
        }
    }
}

extension AMQPPublisher {
    /// A returned (unroutable) message is matched to its publish by `message_id`, so every message
    /// gets one: the caller's, or a new UUID.
    static func identified(_ message: AMQPOutgoingMessage) -> AMQPOutgoingMessage {
        guard message.mandatory, message.properties.messageID == nil else { return message }
        var message = message
        message.properties.messageID = UUID().uuidString.lowercased()
        return message
    }
}

/// Collects the completions of one batch and resumes its caller once, when the last one arrives.
private final class BatchResults: Sendable {
    private let state: NIOLockedValueBox<(results: [Result<Void, AMQPError>], remaining: Int)>
    private let continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>

    init(count: Int, continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>) {
        state = NIOLockedValueBox((Array(repeating: .failure(.shutdown), count: count), count))
        self.continuation = continuation
    }

    func set(_ index: Int, _ result: Result<Void, AMQPError>) {
        let done = state.withLockedValue { state -> [Result<Void, AMQPError>]? in
            state.results[index] = result
            state.remaining -= 1
            return state.remaining == 0 ? state.results : nil
        }
        if let done { continuation.resume(returning: done) }
    }

    func failAll(_ error: AMQPError) {
        continuation.resume(returning: Array(repeating: .failure(error), count: state.withLockedValue { $0.results.count }))
    }
}

extension AMQPPublisher {
    /// Runs the publisher for the duration of `body`, starting once it is connected, then drains
    /// its confirms and stops. For one-shot commands outside a service group.
    public func whileRunning<Value: Sendable>(connectTimeout: Duration = .seconds(15),
                                               _ body: () async throws -> Value) async throws -> Value {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.run() }
            do {
                let deadline = ContinuousClock.now + connectTimeout
                while !status.isConnected {
                    if let error = status.fatalError { throw error }
                    if ContinuousClock.now >= deadline { throw status.lastError ?? AMQPError.shutdown }
                    try await Task.sleep(for: .milliseconds(5))
                }
                let value = try await body()
                shutdown()
                try await group.waitForAll()
                return value
            } catch {
                shutdown()
                try? await group.waitForAll()
                throw error
            }
        }
    }
}
