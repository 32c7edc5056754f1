public import FairwayPublication
public import FairwayServiceKit
import Foundation

/// What an installation fixes about its publications: the DOI prefix, where landing pages live,
/// and the publisher DataCite records.
public struct PublishingSettings: Sendable {
    public var validation: PublicationValidation.Settings
    public var publisherName: String
    public var publisherROR: RORID?

    public static let requiredKeys = ["FAIRWAY_DOI_PREFIX", "FAIRWAY_LANDING_BASE_URL", "FAIRWAY_PUBLISHER_NAME"]

    /// Reads the settings, or says which ones to set.
    public init(_ values: [String: String]) throws(FairwayConfiguration.Invalid) {
        func setting(_ key: String) -> String? { values[key].flatMap { $0.isEmpty ? nil : $0 } }
        let missing = Self.requiredKeys.filter { setting($0) == nil }
        guard missing.isEmpty else { throw .init(description: "set \(missing.joined(separator: ", ")) first (see --help)") }
        validation = .init(doiPrefix: setting("FAIRWAY_DOI_PREFIX")!, landingBaseURL: setting("FAIRWAY_LANDING_BASE_URL")!)
        publisherName = setting("FAIRWAY_PUBLISHER_NAME")!
        if let ror = setting("FAIRWAY_PUBLISHER_ROR") {
            guard let parsed = RORID(ror) else { throw .init(description: "FAIRWAY_PUBLISHER_ROR \(ror.prefix(80)) is not a ROR id") }
            publisherROR = parsed
        }
    }

    /// `<base>/<doi>`: where the DOI resolves.
    public func landingPage(_ doi: DOIName) -> String {
        let base = validation.landingBaseURL
        return (base.hasSuffix("/") ? base : base + "/") + doi.description
    }

    /// Where a withdrawn DOI points: the tombstone, beside the landing page (which shows it too).
    public static func tombstone(of landingPage: String) -> String { landingPage + "/withdrawn" }
}

/// How the DOI service reaches DataCite (`FAIRWAY_DATACITE_*`) and paces itself.
public struct DataCiteSettings: Sendable {
    public var url: String?
    public var user: String?
    public var password: String?
    /// A call without an answer after this is treated as "may have taken effect".
    public var timeout: Duration = .seconds(30)
    /// First back-off after a failed call; doubled per attempt up to `retryMax`.
    public var retryBase: Duration = .seconds(5)
    public var retryMax: Duration = .seconds(3600)
    /// How long a claim on a publication lasts unless renewed; the worker syncing it renews it
    /// every third of this, so one that died is taken over within this time.
    public var lease: Duration = .seconds(60)
    /// A synced publication is compared with DataCite again once its last check is this old.
    public var reconcileInterval: Duration = .seconds(6 * 3600)
    /// DataCite allows 3,000 authenticated requests per 5 minutes per IP and asks bulk clients to
    /// stay within 300–500; 100 a minute is that.
    public var requestsPerMinute = 100

    public init() {}

    public var isConfigured: Bool { url != nil && user != nil && password != nil }

    /// The settings still to give, for the status shown while DataCite is not configured.
    public var missing: [String] {
        [("FAIRWAY_DATACITE_URL", url), ("FAIRWAY_DATACITE_USER", user), ("FAIRWAY_DATACITE_PASSWORD", password)]
            .filter { $0.1 == nil }.map(\.0)
    }

    public init(_ values: [String: String]) throws(FairwayConfiguration.Invalid) {
        func setting(_ key: String) -> String? { values[key].flatMap { $0.isEmpty ? nil : $0 } }
        if let url = setting("FAIRWAY_DATACITE_URL") {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw .init(description: "FAIRWAY_DATACITE_URL \(url.prefix(80)) is not an http(s) URL such as https://api.datacite.org")
            }
            self.url = url
        }
        user = setting("FAIRWAY_DATACITE_USER")
        password = setting("FAIRWAY_DATACITE_PASSWORD")
        // Secrets may come from a file (container secrets), never from the command line.
        if password == nil, let file = setting("FAIRWAY_DATACITE_PASSWORD_FILE") {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw .init(description: "cannot read FAIRWAY_DATACITE_PASSWORD_FILE \(file)")
            }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            password = trimmed.isEmpty ? nil : trimmed
        }
        func duration(_ key: String, atLeast minimum: Duration) throws(FairwayConfiguration.Invalid) -> Duration? {
            guard let text = setting(key) else { return nil }
            guard let value = FairwayConfiguration.parseDuration(text), value >= minimum else {
                throw .init(description: "\(key)=\(text.prefix(32)) is not a duration of at least \(minimum), such as 30s or 5m")
            }
            return value
        }
        if let value = try duration("FAIRWAY_DATACITE_TIMEOUT", atLeast: .milliseconds(100)) { timeout = value }
        if let value = try duration("FAIRWAY_DATACITE_RETRY_BASE", atLeast: .milliseconds(10)) { retryBase = value }
        if let value = try duration("FAIRWAY_DATACITE_RETRY_MAX", atLeast: .milliseconds(10)) { retryMax = max(value, retryBase) }
        if let value = try duration("FAIRWAY_DATACITE_LEASE", atLeast: .seconds(1)) { lease = value }
        if let value = try duration("FAIRWAY_DATACITE_RECONCILE_INTERVAL", atLeast: .seconds(1)) { reconcileInterval = value }
        if let text = setting("FAIRWAY_DATACITE_REQUESTS_PER_MINUTE") {
            guard let rate = Int(text), (1 ... 600).contains(rate) else {
                throw .init(description: "FAIRWAY_DATACITE_REQUESTS_PER_MINUTE=\(text.prefix(32)) is not a whole number from 1 to 600 (DataCite allows 600 a minute per IP)")
            }
            requestsPerMinute = rate
        }
    }
}
