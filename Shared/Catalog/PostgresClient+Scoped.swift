public import Logging
public import PostgresNIO

extension PostgresClient {
    /// Runs a client for the duration of `body` (one-shot commands, tests); services run theirs in
    /// their `ServiceGroup` instead.
    @discardableResult
    public static func withClient<Result: Sendable>(
        url: String, logger: Logger, _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        let client = PostgresClient(configuration: try DatabaseURL.configuration(url), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }
}
