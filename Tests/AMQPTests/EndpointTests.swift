import FairwayAMQP
import Testing

@Suite struct AMQPEndpointTests {
    @Test func parsesTheAMQPURIScheme() throws {
        let endpoint = try AMQPEndpoint(url: "amqp://fairway-qc:p%40ss%2Fword@127.0.0.1:55672/fairway")
        #expect(endpoint == AMQPEndpoint(host: "127.0.0.1", port: 55672, user: "fairway-qc", password: "p@ss/word", virtualHost: "fairway"))
        #expect(try AMQPEndpoint(url: "amqp://h").virtualHost == "/")
        #expect(try AMQPEndpoint(url: "amqp://h/%2F").virtualHost == "/")
        #expect(try AMQPEndpoint(url: "amqp://h:5672/").port == 5672)
        #expect(!endpoint.redacted.contains("p@ss"))
    }

    @Test(arguments: [
        "", "not a url", "http://h/v", "amqps://h/v", "amqp:///vhost", "amqp://h:0/v", "amqp://h:70000/v",
        "amqp://h/a/b", "amqp://h/%zz", "amqp://u:p@h/v%00x", String(repeating: "a", count: 5000),
    ])
    func refusesBadURLs(url: String) {
        #expect(throws: AMQPError.self) { try AMQPEndpoint(url: url) }
    }
}
