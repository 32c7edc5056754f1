import FairwayAMQP
import FairwayTestSupport
import Foundation
import NIOConcurrencyHelpers
import Testing

/// The kit against the real broker: confirms, acknowledgements, prefetch, routing failures.
@Suite(.serialized) struct PublishConsumeTests {
    @Test func tenThousandConfirmedMessagesAreAllConsumedAndAcked() async throws {
        let broker = try TestBroker()
        let publisher = broker.publisher()
        let consumer = broker.consumer(prefetch: 200)
        let count = 10_000
        let received = try await withRunningServices([publisher, consumer]) { () throws in
            let messages = (0..<count).map { broker.message(Array("{\"n\":\($0)}".utf8)) }
            var failures = 0
            for chunk in stride(from: 0, to: count, by: 1000) {
                let results = await publisher.publish(Array(messages[chunk..<min(chunk + 1000, count)]))
                failures += results.filter { if case .failure = $0 { true } else { false } }.count
            }
            #expect(failures == 0)
            var ids = Set<String>()
            for await delivery in consumer.deliveries {
                ids.insert(delivery.properties.messageID ?? "")
                #expect(delivery.properties.persistent)
                delivery.ack()
                if ids.count == count { break }
            }
            return ids
        }
        #expect(received.count == count)
        let state = try await broker.admin.queueState(broker.names.queue("test"))
        #expect(state.ready == 0)
        await broker.cleanUp()
    }

    @Test func prefetchBoundsUnacknowledgedDeliveries() async throws {
        let broker = try TestBroker()
        let publisher = broker.publisher()
        let consumer = broker.consumer(prefetch: 5)
        try await withRunningServices([publisher, consumer]) { () throws in
            for result in await publisher.publish((0..<20).map { _ in broker.message(Array("{}".utf8)) }) { try result.get() }
            let taken = NIOLockedValueBox<[AMQPDelivery]>([])
            let reader = Task {
                for await delivery in consumer.deliveries { taken.withLockedValue { $0.append(delivery) } }
            }
            #expect(try await eventually { taken.withLockedValue { $0.count } == 5 })
            try await Task.sleep(for: .milliseconds(500))
            #expect(taken.withLockedValue { $0.count } == 5)
            #expect(try await broker.admin.queueState(broker.names.queue("test")).ready == 15)
            // Acknowledging frees the window for the next five.
            for delivery in taken.withLockedValue({ $0 }) { delivery.ack() }
            #expect(try await eventually { taken.withLockedValue { $0.count } == 10 })
            for delivery in taken.withLockedValue({ $0 }) { delivery.ack() }
            reader.cancel()
        }
        await broker.cleanUp()
    }

    @Test func unroutableMessageFailsThePublish() async throws {
        let broker = try TestBroker()
        let publisher = broker.publisher()
        try await withRunningServices([publisher]) { () throws in
            #expect(try await eventually { publisher.status.isConnected })
            await #expect {
                try await publisher.publish(broker.message(Array("{}".utf8), key: "nobody.listens"))
            } throws: { isUnroutable($0) }
            // The next message still goes through on the same connection.
            try await publisher.publish(broker.message(Array("{}".utf8)))
        }
        await broker.cleanUp()
    }

    /// A key an earlier release bound and this one retired: the upgraded declaration removes the
    /// binding, so messages with that key are no longer routed to the queue.
    @Test func retiredKeysAreUnboundOnConnect() async throws {
        let broker = try TestBroker()
        let old = broker.publisher(keys: ["kept.key", "retired.key"])
        try await withRunningServices([old]) { () throws in
            #expect(try await eventually { old.status.isConnected })
            try await old.publish(broker.message(Array("{}".utf8), key: "retired.key"))
        }
        let upgraded = AMQPPublisher(configuration: broker.configuration("upgraded"),
                                     topology: broker.names.serviceTopology(service: "test", routingKeys: ["kept.key"], retiredKeys: ["retired.key"]),
                                     logger: TestEnvironment.logger)
        try await withRunningServices([upgraded]) { () throws in
            #expect(try await eventually { upgraded.status.isConnected })
            await #expect {
                try await upgraded.publish(broker.message(Array("{}".utf8), key: "retired.key"))
            } throws: { isUnroutable($0) }
            try await upgraded.publish(broker.message(Array("{}".utf8), key: "kept.key"))
        }
        await broker.cleanUp()
    }

    @Test func headersAndPropertiesSurviveTheRoundTrip() async throws {
        let broker = try TestBroker()
        let publisher = broker.publisher()
        let consumer = broker.consumer()
        let delivery = try await withRunningServices([publisher, consumer]) { () throws in
            var message = broker.message(Array("{\"schema\":1}".utf8), id: "9f1c2b4e-0000-4000-8000-000000000001")
            message.properties.correlationID = "acq-1"
            message.properties.timestamp = Date(timeIntervalSince1970: 1_800_000_000)
            message.properties.headers = ["traceparent": .string("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                                          "n": .int(-7), "ok": .bool(true), "nested": .table(["a": .array([.string("x"), .int(1)])])]
            try await publisher.publish(message)
            var iterator = consumer.deliveries.makeAsyncIterator()
            let delivery = try #require(await iterator.next())
            delivery.ack()
            return delivery
        }
        #expect(delivery.properties.messageID == "9f1c2b4e-0000-4000-8000-000000000001")
        #expect(delivery.properties.correlationID == "acq-1")
        #expect(delivery.properties.type == "test.key")
        #expect(delivery.properties.contentType == "application/json")
        #expect(delivery.properties.timestamp == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(delivery.properties.headers["traceparent"] == .string("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
        #expect(delivery.properties.headers["n"] == .int(-7))
        #expect(delivery.properties.headers["nested"] == .table(["a": .array([.string("x"), .int(1)])]))
        #expect(delivery.body == Array("{\"schema\":1}".utf8))
        await broker.cleanUp()
    }

    @Test func wrongCredentialsAreReportedAsAccessRefused() async throws {
        let broker = try TestBroker()
        var configuration = broker.configuration("bad")
        configuration.endpoint.password = "wrong"
        let publisher = AMQPPublisher(configuration: configuration, topology: broker.names.exchanges, logger: TestEnvironment.logger)
        try await withRunningServices([publisher]) { () throws in
            #expect(try await eventually { publisher.status.lastError != nil })
            guard case .accessRefused = publisher.status.lastError else {
                Issue.record("expected accessRefused, got \(String(describing: publisher.status.lastError))")
                return
            }
            await #expect(throws: AMQPError.notConnected) {
                try await publisher.publish(broker.message(Array("{}".utf8)))
            }
        }
    }
}

/// The broker returned the message: no queue is bound to its key (reply code 312, NO_ROUTE).
private func isUnroutable(_ error: any Error) -> Bool {
    if case .unroutable(let code, _) = error as? AMQPError { return code == 312 }
    return false
}
