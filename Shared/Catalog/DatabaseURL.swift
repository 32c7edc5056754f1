import Foundation
import NIOSSL
public import PostgresNIO

/// Why a database URL was refused.
public struct DatabaseURLError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

/// `postgres://user:password@host:port/database?sslmode=disable|prefer|require` to a client configuration.
public enum DatabaseURL {
    /// `applicationName` names the connections in `pg_stat_activity` (which process holds them).
    public static func configuration(_ url: String, applicationName: String? = nil) throws(DatabaseURLError) -> PostgresClient.Configuration {
        guard url.utf8.count <= 2048, let components = URLComponents(string: url) else {
            throw DatabaseURLError(description: "database URL is not a valid URL")
        }
        guard components.scheme == "postgres" || components.scheme == "postgresql" else {
            throw DatabaseURLError(description: "database URL must start with postgres:// (got \(components.scheme ?? "no scheme"))")
        }
        guard let host = components.host, !host.isEmpty else { throw DatabaseURLError(description: "database URL has no host") }
        guard let user = components.percentEncodedUser?.removingPercentEncoding, !user.isEmpty else {
            throw DatabaseURLError(description: "database URL has no user")
        }
        let database = String(components.path.dropFirst())
        guard !database.isEmpty, !database.contains("/") else {
            throw DatabaseURLError(description: "database URL must name one database as its path")
        }
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw DatabaseURLError(description: "unknown sslmode '\(mode)'")
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user,
            password: components.percentEncodedPassword?.removingPercentEncoding,
            database: database, tls: tls
        )
        configuration.options.maximumConnections = maximumConnections
        if let applicationName { configuration.options.additionalStartupParameters = [("application_name", String(applicationName.prefix(63)))] }
        return configuration
    }

    public static let maximumConnections = 16

    /// The URL with the password hidden, for logs.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "<invalid URL>" }
        if components.password != nil { components.password = "***" }
        return components.string ?? "<invalid URL>"
    }
}
