import CRabbitMQ
import Foundation
import Glibc

/// One rabbitmq-c connection with one channel. Not thread-safe: only the connection's owner thread
/// calls it. Every C value is copied into Swift types before it leaves this file.
final class RabbitConnection {
    private let state: amqp_connection_state_t
    private let channel: amqp_channel_t = 1
    private var isOpen = false

    init() {
        state = amqp_new_connection()
    }

    deinit {
        amqp_destroy_connection(state)
    }

    /// TCP connect, login, open channel 1.
    func open(_ configuration: AMQPConfiguration) throws(AMQPError) {
        let endpoint = configuration.endpoint
        guard let socket = amqp_tcp_socket_new(state) else { throw .connectionFailed("cannot allocate a socket") }
        var timeout = timeval(configuration.connectTimeout)
        let status = amqp_socket_open_noblock(socket, endpoint.host, Int32(endpoint.port), &timeout)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw .connectionFailed("\(endpoint.host):\(endpoint.port): \(Self.describe(status))")
        }
        let arena = CArena()
        var properties = arena.table([
            "connection_name": .string(configuration.connectionName),
            "product": .string("Fairway"),
            "capabilities": .table([
                "publisher_confirms": .bool(true),
                "consumer_cancel_notify": .bool(true),
                "connection.blocked": .bool(true),
                "basic.nack": .bool(true),
            ]),
        ])
        let heartbeat = Int32(configuration.heartbeat.components.seconds)
        let reply = fairway_amqp_login_plain(
            state, endpoint.virtualHost, Int32(AMQP_DEFAULT_FRAME_SIZE), heartbeat, &properties,
            endpoint.user, endpoint.password
        )
        isOpen = true
        do {
            try check(reply, "login as '\(endpoint.user)' to vhost '\(endpoint.virtualHost)'")
        } catch .connectionLost(let why) {
            // RabbitMQ drops the socket on bad credentials before any close frame arrives.
            throw .accessRefused("login as '\(endpoint.user)' to vhost '\(endpoint.virtualHost)' failed (\(why)); check user, password and vhost permissions")
        }
        amqp_channel_open(state, channel)
        try check(amqp_get_rpc_reply(state), "channel.open")
    }

    /// Sends channel.close and connection.close; errors are ignored since the socket goes either way.
    func close() {
        guard isOpen else { return }
        isOpen = false
        _ = amqp_channel_close(state, channel, Int32(AMQP_REPLY_SUCCESS))
        _ = amqp_connection_close(state, Int32(AMQP_REPLY_SUCCESS))
    }

    /// Drops the socket without the closing handshake (after a fatal error).
    func abandon() {
        guard isOpen else { return }
        isOpen = false
        // shutdown, not close: rabbitmq-c still owns the descriptor and closes it on destroy.
        let descriptor = amqp_get_sockfd(state)
        if descriptor >= 0 { _ = Glibc.shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    var socketDescriptor: Int32 { amqp_get_sockfd(state) }

    /// While corked, the kernel holds small writes and sends full segments: a publish is three
    /// frames and an ack one, and sending each as its own packet costs the broker more than the
    /// messages. The owner corks around each flush and uncorks before it waits.
    func setCorked(_ corked: Bool) {
        let descriptor = amqp_get_sockfd(state)
        guard descriptor >= 0 else { return }
        var value: Int32 = corked ? 1 : 0
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_CORK, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// True when a frame can be read without touching the socket.
    var hasBufferedInput: Bool { amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0 }

    // MARK: Topology

    func declare(_ topology: AMQPTopology) throws(AMQPError) {
        let arena = CArena()
        for exchange in topology.exchanges {
            amqp_exchange_declare(state, channel, arena.bytes(exchange.name), arena.bytes(exchange.type),
                                  0, 1, 0, 0, amqp_empty_table)
            try check(amqp_get_rpc_reply(state), "declare exchange '\(exchange.name)'")
        }
        for queue in topology.queues {
            amqp_queue_declare(state, channel, arena.bytes(queue.name), 0, 1, 0, 0, arena.table(queue.arguments))
            try check(amqp_get_rpc_reply(state), "declare queue '\(queue.name)'")
        }
        for binding in topology.bindings {
            amqp_queue_bind(state, channel, arena.bytes(binding.queue), arena.bytes(binding.exchange),
                            arena.bytes(binding.routingKey), amqp_empty_table)
            try check(amqp_get_rpc_reply(state), "bind '\(binding.queue)' to '\(binding.exchange)' with '\(binding.routingKey)'")
        }
        for binding in topology.unbindings {
            amqp_queue_unbind(state, channel, arena.bytes(binding.queue), arena.bytes(binding.exchange),
                              arena.bytes(binding.routingKey), amqp_empty_table)
            try check(amqp_get_rpc_reply(state), "unbind '\(binding.queue)' from '\(binding.exchange)' with '\(binding.routingKey)'")
        }
    }

    /// Passive declare: the queue's ready message count and consumer count, or a 404 error.
    func inspectQueue(_ name: String) throws(AMQPError) -> (messages: Int, consumers: Int) {
        let arena = CArena()
        let ok = amqp_queue_declare(state, channel, arena.bytes(name), 1, 0, 0, 0, amqp_empty_table)
        try check(amqp_get_rpc_reply(state), "inspect queue '\(name)'")
        guard let ok else { throw .connectionLost("no queue.declare-ok") }
        return (Int(ok.pointee.message_count), Int(ok.pointee.consumer_count))
    }

    func deleteQueue(_ name: String) throws(AMQPError) {
        let arena = CArena()
        amqp_queue_delete(state, channel, arena.bytes(name), 0, 0)
        try check(amqp_get_rpc_reply(state), "delete queue '\(name)'")
    }

    func deleteExchange(_ name: String) throws(AMQPError) {
        let arena = CArena()
        amqp_exchange_delete(state, channel, arena.bytes(name), 0)
        try check(amqp_get_rpc_reply(state), "delete exchange '\(name)'")
    }

    func purgeQueue(_ name: String) throws(AMQPError) {
        let arena = CArena()
        amqp_queue_purge(state, channel, arena.bytes(name))
        try check(amqp_get_rpc_reply(state), "purge queue '\(name)'")
    }

    // MARK: Publishing

    func enablePublisherConfirms() throws(AMQPError) {
        amqp_confirm_select(state, channel)
        try check(amqp_get_rpc_reply(state), "confirm.select")
    }

    func publish(_ message: AMQPOutgoingMessage) throws(AMQPError) {
        let arena = CArena()
        var properties = amqp_basic_properties_t()
        let given = message.properties
        var flags: amqp_flags_t = FAIRWAY_PROP_DELIVERY_MODE
        properties.delivery_mode = given.persistent ? 2 : 1
        if let value = given.messageID { flags |= FAIRWAY_PROP_MESSAGE_ID; properties.message_id = arena.bytes(value) }
        if let value = given.correlationID { flags |= FAIRWAY_PROP_CORRELATION_ID; properties.correlation_id = arena.bytes(value) }
        if let value = given.type { flags |= FAIRWAY_PROP_TYPE; properties.type = arena.bytes(value) }
        if let value = given.contentType { flags |= FAIRWAY_PROP_CONTENT_TYPE; properties.content_type = arena.bytes(value) }
        if let value = given.appID { flags |= FAIRWAY_PROP_APP_ID; properties.app_id = arena.bytes(value) }
        if let value = given.timestamp {
            flags |= FAIRWAY_PROP_TIMESTAMP
            properties.timestamp = UInt64(max(0, value.timeIntervalSince1970))
        }
        if !given.headers.isEmpty { flags |= FAIRWAY_PROP_HEADERS; properties.headers = arena.table(given.headers) }
        properties._flags = flags
        let status = message.body.withUnsafeBytes { body in
            amqp_basic_publish(
                state, channel, arena.bytes(message.exchange), arena.bytes(message.routingKey),
                message.mandatory ? 1 : 0, 0, &properties,
                amqp_bytes_t(len: body.count, bytes: UnsafeMutableRawPointer(mutating: body.baseAddress))
            )
        }
        guard status == AMQP_STATUS_OK.rawValue else { throw .connectionLost("publish: \(Self.describe(status))") }
    }

    // MARK: Consuming

    func setPrefetch(_ count: UInt16) throws(AMQPError) {
        amqp_basic_qos(state, channel, 0, count, 0)
        try check(amqp_get_rpc_reply(state), "basic.qos")
    }

    /// Starts consuming with manual acknowledgements; returns the broker-chosen consumer tag.
    func consume(queue: String) throws(AMQPError) -> String {
        let arena = CArena()
        let ok = amqp_basic_consume(state, channel, arena.bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table)
        try check(amqp_get_rpc_reply(state), "consume from '\(queue)'")
        guard let ok else { throw .connectionLost("no basic.consume-ok") }
        return CValues.string(ok.pointee.consumer_tag)
    }

    func cancel(consumerTag: String) throws(AMQPError) {
        let arena = CArena()
        amqp_basic_cancel(state, channel, arena.bytes(consumerTag))
        try check(amqp_get_rpc_reply(state), "basic.cancel")
    }

    func ack(_ tag: UInt64) throws(AMQPError) {
        try checkStatus(amqp_basic_ack(state, channel, tag, 0), "basic.ack")
    }

    func nack(_ tag: UInt64, requeue: Bool) throws(AMQPError) {
        try checkStatus(amqp_basic_nack(state, channel, tag, 0, requeue ? 1 : 0), "basic.nack")
    }

    func reject(_ tag: UInt64, requeue: Bool) throws(AMQPError) {
        try checkStatus(amqp_basic_reject(state, channel, tag, requeue ? 1 : 0), "basic.reject")
    }

    /// basic.get with manual acknowledgement: the queue's next message, or nil when it is empty.
    /// Unacknowledged, it returns to the queue when the channel closes.
    func get(queue: String) throws(AMQPError) -> AMQPFetched? {
        let arena = CArena()
        let reply = amqp_basic_get(state, channel, arena.bytes(queue), 0)
        try check(reply, "basic.get from '\(queue)'")
        switch reply.reply.id {
        case FAIRWAY_BASIC_GET_EMPTY:
            return nil
        case FAIRWAY_BASIC_GET_OK:
            // Copied before the content is read: reading reuses rabbitmq-c's buffers.
            let ok = reply.reply.decoded.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee
            let (tag, exchange, routingKey, redelivered) = (ok.delivery_tag, CValues.string(ok.exchange), CValues.string(ok.routing_key), ok.redelivered != 0)
            var message = amqp_message_t()
            try check(amqp_read_message(state, channel, &message, 0), "read the message from '\(queue)'")
            defer { amqp_destroy_message(&message) }
            return AMQPFetched(deliveryTag: tag, exchange: exchange, routingKey: routingKey, redelivered: redelivered,
                               properties: Self.properties(message.properties), body: CValues.array(message.body))
        default:
            throw .connectionLost("unexpected reply to basic.get from '\(queue)'")
        }
    }

    // MARK: Reading frames

    /// Reads one frame, waiting at most `timeout`; `nil` when none arrived. Heartbeats are sent and
    /// checked inside rabbitmq-c's wait, which is why the owner calls this regularly even when idle.
    func readFrame(timeout: Duration) throws(AMQPError) -> Frame? {
        var frame = amqp_frame_t()
        var wait = timeval(timeout)
        let status = amqp_simple_wait_frame_noblock(state, &frame, &wait)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return nil }
        guard status == AMQP_STATUS_OK.rawValue else { throw .connectionLost(Self.describe(status)) }
        defer { amqp_maybe_release_buffers(state) }
        switch Int32(frame.frame_type) {
        case AMQP_FRAME_METHOD:
            return try method(frame.payload.method)
        case AMQP_FRAME_HEADER:
            let decoded = frame.payload.properties.decoded.assumingMemoryBound(to: amqp_basic_properties_t.self).pointee
            return .contentHeader(bodySize: frame.payload.properties.body_size, properties: Self.properties(decoded))
        case AMQP_FRAME_BODY:
            return .contentBody(CValues.array(frame.payload.body_fragment))
        default:
            return .other(method: 0)
        }
    }

    private func method(_ method: amqp_method_t) throws(AMQPError) -> Frame {
        switch method.id {
        case FAIRWAY_BASIC_DELIVER:
            let deliver = method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            return .deliver(.init(
                consumerTag: CValues.string(deliver.consumer_tag), deliveryTag: deliver.delivery_tag,
                redelivered: deliver.redelivered != 0, exchange: CValues.string(deliver.exchange),
                routingKey: CValues.string(deliver.routing_key)
            ))
        case FAIRWAY_BASIC_ACK:
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            return .ack(tag: ack.delivery_tag, multiple: ack.multiple != 0)
        case FAIRWAY_BASIC_NACK:
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            return .nack(tag: nack.delivery_tag, multiple: nack.multiple != 0)
        case FAIRWAY_BASIC_RETURN:
            let value = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            return .returned(.init(
                replyCode: Int(value.reply_code), replyText: CValues.string(value.reply_text),
                exchange: CValues.string(value.exchange), routingKey: CValues.string(value.routing_key)
            ))
        case FAIRWAY_BASIC_CANCEL:
            let cancel = method.decoded.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            return .consumerCancelled(tag: CValues.string(cancel.consumer_tag))
        case FAIRWAY_CONNECTION_BLOCKED:
            let blocked = method.decoded.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee
            return .blocked(reason: CValues.string(blocked.reason))
        case FAIRWAY_CONNECTION_UNBLOCKED:
            return .unblocked
        case FAIRWAY_CHANNEL_CLOSE, FAIRWAY_CONNECTION_CLOSE:
            throw closedByBroker(method)
        default:
            return .other(method: method.id)
        }
    }

    // MARK: Errors

    private func checkStatus(_ status: Int32, _ what: String) throws(AMQPError) {
        guard status == AMQP_STATUS_OK.rawValue else { throw .connectionLost("\(what): \(Self.describe(status))") }
    }

    private func check(_ reply: amqp_rpc_reply_t, _ what: String) throws(AMQPError) {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            let error = closedByBroker(reply.reply)
            if case .closedByBroker(let code, let text) = error {
                if code == 403 { throw .accessRefused("\(what): \(text)") }
                throw .closedByBroker(code: code, text: "\(what): \(text)")
            }
            throw error
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            throw .connectionLost("\(what): \(Self.describe(reply.library_error))")
        default:
            throw .connectionLost("\(what): no reply")
        }
    }

    /// Answers a broker-initiated close (so the broker logs a clean close) and describes it.
    private func closedByBroker(_ method: amqp_method_t) -> AMQPError {
        switch method.id {
        case FAIRWAY_CONNECTION_CLOSE:
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            var ok = amqp_connection_close_ok_t()
            _ = amqp_send_method(state, 0, FAIRWAY_CONNECTION_CLOSE_OK, &ok)
            isOpen = false
            return .closedByBroker(code: Int(close.reply_code), text: CValues.string(close.reply_text))
        case FAIRWAY_CHANNEL_CLOSE:
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            var ok = amqp_channel_close_ok_t()
            _ = amqp_send_method(state, channel, FAIRWAY_CHANNEL_CLOSE_OK, &ok)
            return .closedByBroker(code: Int(close.reply_code), text: CValues.string(close.reply_text))
        default:
            return .connectionLost("unexpected method 0x\(String(method.id, radix: 16))")
        }
    }

    private static func describe(_ status: Int32) -> String {
        String(cString: amqp_error_string2(status))
    }

    private static func properties(_ raw: amqp_basic_properties_t) -> AMQPProperties {
        let flags = raw._flags
        func has(_ flag: amqp_flags_t) -> Bool { flags & flag != 0 }
        return AMQPProperties(
            messageID: has(FAIRWAY_PROP_MESSAGE_ID) ? CValues.string(raw.message_id) : nil,
            correlationID: has(FAIRWAY_PROP_CORRELATION_ID) ? CValues.string(raw.correlation_id) : nil,
            type: has(FAIRWAY_PROP_TYPE) ? CValues.string(raw.type) : nil,
            contentType: has(FAIRWAY_PROP_CONTENT_TYPE) ? CValues.string(raw.content_type) : nil,
            timestamp: has(FAIRWAY_PROP_TIMESTAMP) ? Date(timeIntervalSince1970: TimeInterval(raw.timestamp)) : nil,
            appID: has(FAIRWAY_PROP_APP_ID) ? CValues.string(raw.app_id) : nil,
            persistent: has(FAIRWAY_PROP_DELIVERY_MODE) && raw.delivery_mode == 2,
            headers: has(FAIRWAY_PROP_HEADERS) ? CValues.table(raw.headers) : [:]
        )
    }
}

extension timeval {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
