import FairwayAMQP
import FairwayContracts
import FairwayTestSupport
import Foundation
import Testing

/// Least privilege on the broker. Each service's user may publish only the routing keys its
/// service publishes, bind its queue only with the keys it consumes, and use only its own queues;
/// a watcher may only publish `acquisition.completed`. The permissions file is checked against
/// what the code declares, then every other operation is tried on the real broker, as each user,
/// with pika, and must be refused (403).
@Suite("least privilege on the broker", .serialized)
struct BrokerPrivilegeTests {
    struct TopicPermission: Equatable, CustomStringConvertible {
        var user, exchange, write, read: String
        var description: String { "\(user) \(exchange) write=\(write) read=\(read)" }
    }

    static func permissionsFile() throws -> [TopicPermission] {
        let text = try String(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("deploy/rabbitmq/topic-permissions"), encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }.map { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return TopicPermission(user: fields[0], exchange: fields.count > 1 ? fields[1] : "",
                                   write: fields.count > 2 ? fields[2] : "", read: fields.count > 3 ? fields[3] : "")
        }
    }

    /// `^key$`, or `^(a|b)$` for several, dots escaped.
    static func pattern(_ keys: [String]) -> String {
        let escaped = keys.map { $0.replacingOccurrences(of: ".", with: "\\.") }
        return escaped.count == 1 ? "^\(escaped[0])$" : "^(\(escaped.joined(separator: "|")))$"
    }

    @Test("deploy/rabbitmq/topic-permissions grants each service exactly the keys ServiceName says it publishes and consumes, and its own dead-letter key")
    func fileMatchesTheContracts() throws {
        let names = FairwayBrokerNames(namespace: "fairway")
        var expected = [TopicPermission(user: "fairway-watcher", exchange: names.exchange, write: Self.pattern(["acquisition.completed"]), read: "^$")]
        for service in ServiceName.allCases {
            expected.append(TopicPermission(user: service.executable, exchange: names.exchange,
                                            write: Self.pattern(service.publishedKeys.map(\.rawValue)),
                                            read: Self.pattern((service.consumedKeys + service.retiredKeys).map(\.rawValue))))
            let ownQueue = Self.pattern([names.queue(service.rawValue)])
            expected.append(TopicPermission(user: service.executable, exchange: names.deadLetterExchange, write: ownQueue, read: ownQueue))
        }
        #expect(try Self.permissionsFile() == expected)
        // Every key some service consumes is published by exactly one service (or by watchers).
        for key in RoutingKey.allCases where key.hasFairwayConsumer && key != .acquisitionCompleted {
            #expect(ServiceName.allCases.filter { $0.publishedKeys.contains(key) }.count == 1, "\(key)")
        }
    }

    struct Check {
        var user: String, url: String, op: String, exchange = "", key = "", queue = ""
        var arguments: [String: Any] = [:], cleanup = false
        var allowed: Bool
        var json: [String: Any] {
            ["url": url, "op": op, "exchange": exchange, "key": key, "queue": queue, "arguments": arguments, "cleanup": cleanup]
        }
        var description: String { "\(user) \(op) \(exchange)\(key.isEmpty ? "" : " key \(key)")\(queue.isEmpty ? "" : " queue \(queue)")" }
    }

    @Test("on the real broker, as each user: its own keys, dead-letter key, bindings and queues are allowed; every other service's keys, bindings, queues and foreign exchanges are refused")
    func enforcedByTheBroker() async throws {
        let names = FairwayBrokerNames(namespace: "fairway")
        let deliveryLimit = 5
        // The exchanges exist once any service has started; on a fresh broker, declare them (as admin).
        let admin = AMQPAdmin(configuration: AMQPConfiguration(endpoint: try AMQPEndpoint(url: try TestEnvironment.amqpURL), connectionName: "test admin"))
        try await admin.declare(names.exchanges)
        var checks: [Check] = []
        let everyPublished = ServiceName.allCases.flatMap(\.publishedKeys)
        for service in ServiceName.allCases {
            let user = service.executable
            let url = try TestEnvironment.require("FAIRWAY_\(service.rawValue.uppercased())_AMQP_URL")
            let queue = names.queue(service.rawValue)
            func check(_ op: String, exchange: String = "", key: String = "", queue: String = "", arguments: [String: Any] = [:], allowed: Bool) {
                checks.append(Check(user: user, url: url, op: op, exchange: exchange, key: key, queue: queue,
                                    arguments: arguments, cleanup: !allowed, allowed: allowed))
            }
            // Publishing: its own keys; nobody else's, not the watchers' either.
            for key in service.publishedKeys { check("publish", exchange: names.exchange, key: key.rawValue, allowed: true) }
            for key in Set(everyPublished + [.acquisitionCompleted]).subtracting(service.publishedKeys).sorted(by: { $0.rawValue < $1.rawValue }) {
                check("publish", exchange: names.exchange, key: key.rawValue, allowed: false)
            }
            check("publish", exchange: names.exchange, key: "#", allowed: false)
            // Dead letters: only under its own queue's name.
            check("publish", exchange: names.deadLetterExchange, key: queue, allowed: true)
            for other in ServiceName.allCases where other != service {
                check("publish", exchange: names.deadLetterExchange, key: names.queue(other.rawValue), allowed: false)
            }
            check("publish", exchange: "amq.topic", key: service.publishedKeys[0].rawValue, allowed: false)
            // Bindings: its queue, with the keys it consumes only.
            let arguments: [String: Any] = ["x-queue-type": "quorum", "x-dead-letter-exchange": names.deadLetterExchange,
                                            "x-dead-letter-routing-key": queue, "x-delivery-limit": deliveryLimit]
            for key in service.consumedKeys { check("bind", exchange: names.exchange, key: key.rawValue, queue: queue, arguments: arguments, allowed: true) }
            for key in RoutingKey.allCases where !(service.consumedKeys + service.retiredKeys).contains(key) {
                check("bind", exchange: names.exchange, key: key.rawValue, queue: queue, arguments: arguments, allowed: false)
            }
            check("bind", exchange: names.exchange, key: "#", queue: queue, arguments: arguments, allowed: false)
            // Queues: its own dead-letter queue may be read; no other service's queue may be read or declared.
            check("consume", queue: names.deadLetterQueue(service.rawValue), arguments: ["x-queue-type": "quorum"], allowed: true)
            for other in ServiceName.allCases where other != service {
                check("consume", queue: names.queue(other.rawValue), allowed: false)
                check("consume", queue: names.deadLetterQueue(other.rawValue), allowed: false)
            }
            check("declare", queue: "fairway.spy-\(service.rawValue)", allowed: false)
        }
        let watcher = try TestEnvironment.require("FAIRWAY_WATCHER_AMQP_URL")
        checks.append(Check(user: "fairway-watcher", url: watcher, op: "publish", exchange: names.exchange, key: "acquisition.completed", allowed: true))
        for key in RoutingKey.allCases where key != .acquisitionCompleted {
            checks.append(Check(user: "fairway-watcher", url: watcher, op: "publish", exchange: names.exchange, key: key.rawValue, allowed: false))
        }
        for service in ServiceName.allCases {
            checks.append(Check(user: "fairway-watcher", url: watcher, op: "consume", queue: names.queue(service.rawValue), allowed: false))
        }
        checks.append(Check(user: "fairway-watcher", url: watcher, op: "declare", queue: "fairway.spy-watcher", cleanup: true, allowed: false))

        let folder = try TestEnvironment.temporaryFolder("broker-access")
        let file = folder.appendingPathComponent("checks.json")
        try JSONSerialization.data(withJSONObject: checks.map(\.json)).write(to: file)
        let run = try await TestEnvironment.run(TestEnvironment.python, [TestEnvironment.supportScript("broker_access.py").path, file.path])
        try #require(run.status == 0, "\(run.output)")
        let line = run.output.split(separator: "\n").last.map { Data($0.utf8) } ?? Data()
        let results = try #require(try JSONSerialization.jsonObject(with: line) as? [[String: Any]], "\(run.output)")
        try #require(results.count == checks.count)
        var refused = 0
        for (check, result) in zip(checks, results) {
            let outcome = result["outcome"] as? String
            #expect(outcome == (check.allowed ? "allowed" : "refused"), "\(check.description): \(result)")
            if outcome == "refused" {
                refused += 1
                #expect((result["detail"] as? String)?.contains("ACCESS_REFUSED") == true, "\(check.description): \(result)")
            }
        }
        #expect(refused == checks.filter { !$0.allowed }.count)
        print("broker privileges: \(checks.count) operations tried as 7 users, \(checks.count - refused) allowed, \(refused) refused")
    }
}
