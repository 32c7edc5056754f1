import NIOConcurrencyHelpers

/// Publishing with pipelined confirms: up to `window` messages are on the wire unconfirmed; each
/// caller's completion runs when the broker acks (or nacks, or returns) its message.
final class PublisherWorkload: ConnectionWorkload, @unchecked Sendable {
    typealias Completion = @Sendable (Result<Void, AMQPError>) -> Void

    struct Request {
        var message: AMQPOutgoingMessage
        var completion: Completion
    }

    // Handed over by any thread.
    private let mailbox = NIOLockedValueBox<(accepting: Bool, requests: [Request])>((true, []))

    // Owner thread only.
    private let window: Int
    private var waiting: [Request] = []
    private var waitingStart = 0
    private var unconfirmed: [UInt64: Request] = [:]
    private var nextSequence: UInt64 = 1
    private var oldestUnconfirmed: UInt64 = 1
    private var returnedMessageIDs: Set<String> = []
    private var pendingReturn: Frame.Return?

    init(window: Int) {
        self.window = max(1, window)
    }

    /// Any thread. Returns false when the publisher no longer accepts work.
    func submit(_ requests: [Request]) -> Bool {
        mailbox.withLockedValue { box in
            guard box.accepting else { return false }
            box.requests.append(contentsOf: requests)
            return true
        }
    }

    func stopAccepting() { mailbox.withLockedValue { $0.accepting = false } }

    private func takeHandedOver() -> [Request] {
        mailbox.withLockedValue { box in
            defer { box.requests.removeAll(keepingCapacity: true) }
            return box.requests
        }
    }

    func attach(_ connection: RabbitConnection) throws(AMQPError) {
        try connection.enablePublisherConfirms()
        nextSequence = 1
        oldestUnconfirmed = 1
    }

    func flush(_ connection: RabbitConnection) throws(AMQPError) {
        waiting.append(contentsOf: takeHandedOver())
        while unconfirmed.count < window, waitingStart < waiting.count {
            let request = waiting[waitingStart]
            // Advanced only once sent: if the connection fails here, detach() fails the request.
            try connection.publish(request.message)
            waitingStart += 1
            unconfirmed[nextSequence] = request
            nextSequence += 1
        }
        if waitingStart == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingStart = 0
        }
    }

    func handle(_ frame: Frame, on connection: RabbitConnection) throws(AMQPError) {
        switch frame {
        case .ack(let tag, let multiple):
            settle(upTo: tag, multiple: multiple, failure: nil)
        case .nack(let tag, let multiple):
            settle(upTo: tag, multiple: multiple, failure: .nacked)
        case .returned(let returned):
            // basic.return is followed by the returned message's header and body, then its basic.ack.
            pendingReturn = returned
        case .contentHeader(_, let properties):
            if pendingReturn != nil, let id = properties.messageID { returnedMessageIDs.insert(id) }
        case .contentBody:
            break
        default:
            break
        }
    }

    private func settle(upTo tag: UInt64, multiple: Bool, failure: AMQPError?) {
        let range = multiple ? oldestUnconfirmed...max(tag, oldestUnconfirmed) : tag...tag
        for sequence in range {
            guard let request = unconfirmed.removeValue(forKey: sequence) else { continue }
            if failure == nil, let id = request.message.properties.messageID, returnedMessageIDs.remove(id) != nil {
                let returned = pendingReturn
                pendingReturn = nil
                request.completion(.failure(.unroutable(code: returned?.replyCode ?? 312, text: returned?.replyText ?? "NO_ROUTE")))
            } else {
                request.completion(failure.map { .failure($0) } ?? .success(()))
            }
        }
        while oldestUnconfirmed < nextSequence, unconfirmed[oldestUnconfirmed] == nil { oldestUnconfirmed += 1 }
    }

    func detach(reason: AMQPError) {
        // A message on the wire without a confirm may or may not be stored: the caller must retry
        // (the outbox does, with the same message_id, and consumers deduplicate).
        let lost = AMQPError.connectionLost("no confirm before the connection closed (\(reason))")
        for (_, request) in unconfirmed.sorted(by: { $0.key < $1.key }) { request.completion(.failure(lost)) }
        unconfirmed.removeAll()
        returnedMessageIDs.removeAll()
        pendingReturn = nil
        refuseQueuedWork(reason: .notConnected)
    }

    func refuseQueuedWork(reason: AMQPError) {
        for request in waiting[waitingStart...] + takeHandedOver() { request.completion(.failure(reason)) }
        waiting.removeAll()
        waitingStart = 0
    }

    func readyToClose(_ connection: RabbitConnection, deadline: ContinuousClock.Instant) throws(AMQPError) -> Bool {
        stopAccepting()
        let drained = unconfirmed.isEmpty && waitingStart == waiting.count && mailbox.withLockedValue { $0.requests.isEmpty }
        if drained { return true }
        if ContinuousClock.now >= deadline {
            detach(reason: .timedOut("waiting for publisher confirms at shutdown"))
            return true
        }
        return false
    }

    func finish() {
        stopAccepting()
        refuseQueuedWork(reason: .shutdown)
    }
}
