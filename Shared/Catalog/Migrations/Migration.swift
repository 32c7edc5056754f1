import Crypto
import Foundation

/// A numbered schema change. Its statements run in one transaction; its checksum is recorded so a
/// migration edited after it was applied is detected instead of silently diverging.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let statements: [String]

    public var checksum: String {
        var hasher = SHA256()
        for statement in statements { hasher.update(data: Data(statement.utf8)); hasher.update(data: Data([0])) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

public enum Migrations {
    /// Every migration, in order. Append only.
    public static let all: [Migration] = [
        InitialSchema.migration,
        IngestSchema.migration,
        ConverterSchema.migration,
        MetadataSchema.migration,
        QCSchema.migration,
        RetentionSchema.migration,
        PublicationSchema.migration,
        DataCiteSyncSchema.migration,
        OperatorSchema.migration,
        TokenScopeSchema.migration,
    ]

    /// Identifies the whole list: tests name their template database after it.
    public static var fingerprint: String {
        let digest = SHA256.hash(data: Data(all.map(\.checksum).joined(separator: ",").utf8))
        return digest.prefix(6).map { String(format: "%02x", $0) }.joined()
    }
}
