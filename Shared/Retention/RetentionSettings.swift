public import FairwayCatalog
public import FairwayServiceKit
import Foundation

/// Retention's own settings, read from the FAIRWAY_ values (see `FairwayConfiguration.variables`).
public struct RetentionSettings: Sendable {
    /// Time between two runs of the policies in the service.
    public var interval: Duration = .seconds(900)
    public var smtpURL: String?
    public var mailFrom = "fairway@localhost"
    public var mailbox = "fairway-notices.mbox"
    public var fixityBytesPerSecond: Int64?
    /// A replica is checked again once its last verification is this old.
    public var fixityInterval: Duration = .seconds(30 * 86_400)
    /// How long a claim on an action lasts unless renewed: a running action's lease is renewed
    /// every third of it, so a run killed half-way is resumed by another within this time.
    public var leaseSeconds = 120

    public init() {}

    public init(_ configuration: FairwayConfiguration) throws(FairwayConfiguration.Invalid) {
        let values = configuration.values
        func nonEmpty(_ key: String) -> String? { values[key].flatMap { $0.isEmpty ? nil : $0 } }
        if let text = nonEmpty("FAIRWAY_RETENTION_INTERVAL") {
            guard let interval = FairwayConfiguration.parseDuration(text), interval > .zero else {
                throw .init(description: "FAIRWAY_RETENTION_INTERVAL=\(text.prefix(32)) is not a duration such as 15m or 30s")
            }
            self.interval = interval
        }
        if let url = nonEmpty("FAIRWAY_SMTP_URL") {
            guard url.hasPrefix("smtp://") || url.hasPrefix("smtps://") else {
                throw .init(description: "FAIRWAY_SMTP_URL must start with smtp:// or smtps://")
            }
            smtpURL = url
        }
        if let from = nonEmpty("FAIRWAY_MAIL_FROM") {
            guard from.range(of: "^[^@\\s<>\",;]+@[^@\\s<>\",;]+$", options: .regularExpression) != nil else {
                throw .init(description: "FAIRWAY_MAIL_FROM=\(from.prefix(64)) is not an e-mail address")
            }
            mailFrom = from
        }
        if let text = nonEmpty("FAIRWAY_FIXITY_INTERVAL") {
            guard let interval = Self.longDuration(text) else {
                throw .init(description: "FAIRWAY_FIXITY_INTERVAL=\(text.prefix(32)) is not a duration such as 30d, 12h or 90s")
            }
            fixityInterval = interval
        }
        if let text = nonEmpty("FAIRWAY_RETENTION_LEASE") {
            guard let lease = FairwayConfiguration.parseDuration(text), lease >= .seconds(1) else {
                throw .init(description: "FAIRWAY_RETENTION_LEASE=\(text.prefix(32)) is not a duration of at least 1s, such as 30m")
            }
            leaseSeconds = Int(lease.components.seconds)
        }
        if let mailbox = nonEmpty("FAIRWAY_NOTICE_MAILBOX") { self.mailbox = mailbox }
        if let text = nonEmpty("FAIRWAY_FIXITY_BYTES_PER_SECOND") {
            guard let rate = Int64(text), rate > 0 else {
                throw .init(description: "FAIRWAY_FIXITY_BYTES_PER_SECOND=\(text.prefix(32)) is not a positive whole number")
            }
            fixityBytesPerSecond = rate
        }
    }

    /// Durations that may be days long: `30d`, `12h`, or what `FairwayConfiguration.parseDuration` reads.
    public static func longDuration(_ text: String) -> Duration? {
        if text.hasSuffix("d"), let days = Int(text.dropLast()), days > 0, days <= 3650 { return .seconds(days * 86_400) }
        if text.hasSuffix("h"), let hours = Int(text.dropLast()), hours > 0, hours <= 87_600 { return .seconds(hours * 3600) }
        return FairwayConfiguration.parseDuration(text).flatMap { $0 > .zero ? $0 : nil }
    }

    public func engine(catalog: Catalog, actor: String) -> RetentionEngine {
        RetentionEngine(catalog: catalog, delivery: delivery, actor: actor, leaseSeconds: leaseSeconds)
    }

    /// SMTP when configured (notices without an address still go to the mailbox), else the mailbox.
    public var delivery: any NoticeDelivery {
        let mailbox = MailboxDelivery(path: mailbox, from: mailFrom)
        guard let smtpURL else { return mailbox }
        return SMTPDelivery(url: smtpURL, from: mailFrom, fallback: mailbox)
    }
}
