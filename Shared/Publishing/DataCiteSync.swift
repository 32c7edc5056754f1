public import FairwayCatalog
import FairwayDataCite
import FairwayPublication
import Foundation
public import Logging
import Metrics
public import ServiceLifecycle

/// Brings DataCite up to what the catalog says, publication by publication, until they match.
///
/// Every round starts from what is committed: the DOI was chosen locally, so a PUT can only create
/// or update that DOI and sending it twice cannot make a second one. Before a call, `in_flight` is
/// committed; when no answer is recorded (timeout, 5xx, the service killed), the next round first
/// asks DataCite (GET) and only sends again if DataCite does not hold the revision. 429 and 5xx
/// back off exponentially, at least as long as `Retry-After` asks; 401/403 stop every call and
/// raise an alert until the service is restarted with working credentials; 422 puts DataCite's
/// problems on the publication, per field. Calls are paced under DataCite's rate limit. Synced
/// publications are compared with DataCite again every `reconcileInterval`.
public actor DataCiteSync: Service {
    private let store: PublicationSyncStore
    private let client: DataCiteClient?
    private let settings: DataCiteSettings
    private let pacer: RequestPacer
    private let logger: Logger
    private var wakeUp: CheckedContinuation<Void, Never>?
    private var woken = false
    /// Set on 401/403: no more calls from this process.
    private var refusedCredentials: String?
    private var credentialsProven = false
    private var lastCheck = ContinuousClock.now - .seconds(86_400 * 365)

    static let credentialsAlert = "datacite-credentials"
    static let unconfiguredAlert = "datacite-unconfigured"

    public init(catalog: Catalog, settings: DataCiteSettings, logger: Logger) {
        store = PublicationSyncStore(catalog: catalog)
        self.settings = settings
        if settings.isConfigured, let url = settings.url, let user = settings.user, let password = settings.password {
            client = DataCiteClient(baseURL: url, user: user, password: password, timeout: settings.timeout)
        } else {
            client = nil
        }
        pacer = RequestPacer(perMinute: settings.requestsPerMinute)
        self.logger = logger
    }

    /// Asks for a round soon (a publication was requested, updated or withdrawn).
    public func wake() {
        woken = true
        wakeUp?.resume()
        wakeUp = nil
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            await self.announceConfiguration()
            while !Task.isCancelled {
                let next = await self.round()
                await self.sleep(until: next)
            }
        }
    }

    private func announceConfiguration() async {
        do {
            if client == nil {
                let message = "DataCite is not configured: set \(settings.missing.joined(separator: ", ")) for fairway-doi; publications stay reserved and their landing pages already work"
                try await store.raiseAlert(kind: Self.unconfiguredAlert, message: message)
                logger.warning("DataCite is not configured; publications stay reserved", metadata: ["missing": "\(settings.missing.joined(separator: ","))"])
            } else {
                try await store.clearAlert(kind: Self.unconfiguredAlert)
            }
        } catch {
            logger.error("could not record the DataCite configuration state", metadata: ["error": "\(describeDatabaseError(error))"])
        }
    }

    /// One round: every due publication, then (when it is time) a batch of checks. Returns when
    /// the next one falls due.
    private func round() async -> ContinuousClock.Instant {
        woken = false
        let idle = ContinuousClock.now + .seconds(30)
        do {
            guard let client, refusedCredentials == nil else {
                let reason = refusedCredentials.map { "DataCite refused the credentials (\($0)): set FAIRWAY_DATACITE_USER and FAIRWAY_DATACITE_PASSWORD and restart fairway-doi" }
                    ?? "DataCite is not configured: set \(settings.missing.joined(separator: ", ")) for fairway-doi; the landing page already works"
                try await store.explainWaiting(reason)
                return idle
            }
            while !Task.isCancelled, refusedCredentials == nil {
                let due = try await store.claimDue(limit: 16, lease: settings.lease)
                if due.isEmpty { break }
                let renewal = renewLeases(of: due)
                defer { renewal.cancel() }
                for publication in due {
                    if refusedCredentials != nil || Task.isCancelled {
                        try await store.release(publication, detail: "waiting for the DOI service")
                        continue
                    }
                    await sync(publication, client: client)
                }
            }
            if refusedCredentials == nil, ContinuousClock.now - lastCheck >= min(settings.reconcileInterval, .seconds(60)) {
                lastCheck = .now
                let checks = try await store.claimForCheck(olderThan: settings.reconcileInterval, limit: 50, lease: settings.lease)
                let renewal = renewLeases(of: checks)
                defer { renewal.cancel() }
                for publication in checks {
                    if refusedCredentials != nil || Task.isCancelled {
                        try await store.release(publication, detail: "waiting for the DOI service")
                        continue
                    }
                    await check(publication, client: client)
                }
            }
            // Awake again when the next publication falls due or the next checks are, at the latest in 30 s.
            let checks = lastCheck + min(settings.reconcileInterval, .seconds(60))
            guard let next = try await store.nextDue() else { return min(idle, checks) }
            let wait = next.timeIntervalSinceNow
            return min(checks, ContinuousClock.now + .milliseconds(Int64(max(0.05, min(30, wait)) * 1000)))
        } catch {
            logger.error("DataCite sync round failed", metadata: ["error": "\(describeDatabaseError(error))"])
            return ContinuousClock.now + .seconds(2)
        }
    }

    /// Keeps the claims on `publications` while this worker lives (renewed every third of a
    /// lease); a worker that dies loses them within `settings.lease`.
    private func renewLeases(of publications: [ClaimedPublication]) -> Task<Void, Never> {
        let (store, lease, logger) = (store, settings.lease, logger)
        let tokens = Array(Set(publications.map(\.lease)))
        return Task {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: max(.milliseconds(100), lease / 3))
                    try await store.renew(tokens, lease: lease)
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("publication leases not renewed", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    // MARK: - One publication

    private func sync(_ publication: ClaimedPublication, client: DataCiteClient) async {
        let doi = publication.doi
        do {
            var remote: RemoteDOI?
            let document = try Self.document(publication)
            let withdrawing = publication.target == "hidden"
            // A call whose answer was lost, or a withdrawal (a draft is deleted, anything else
            // hidden): ask DataCite what it holds first.
            if publication.inFlight || withdrawing {
                switch await call("GET") { await client.get(doi) } {
                case .found(let found):
                    remote = found
                    if found.state == publication.expectedState, Self.sameURL(found.url, publication.expectedURL),
                       withdrawing || found.fingerprint == DataCiteAnswer.fingerprint(ofDocument: document) {
                        try await store.recordSynced(publication, remote: found, detail: Self.syncedDetail(publication, reconciled: true))
                        logger.info("DataCite already held the revision", metadata: ["doi": "\(doi)", "state": "\(found.state)"])
                        return
                    }
                case .notFound:
                    if withdrawing {
                        try await store.recordWithdrawnLocally(publication, detail: "withdrawn; DataCite never held this DOI")
                        return
                    }
                case let outcome:
                    try await failed(publication, outcome, method: "GET")
                    return
                }
            }
            if withdrawing, remote?.state == "draft" {
                switch await call("DELETE") { await client.delete(doi) } {
                case .deleted:
                    try await store.recordWithdrawnLocally(publication, detail: "withdrawn; its draft DOI was deleted at DataCite")
                    logger.info("draft DOI deleted", metadata: ["doi": "\(doi)"])
                    return
                case .notAllowed:
                    logger.notice("DataCite refused to delete the DOI (no longer a draft); hiding it instead", metadata: ["doi": "\(doi)"])
                case let outcome:
                    try await failed(publication, outcome, method: "DELETE")
                    return
                }
            }
            guard try await store.markCalling(publication) else { return }
            let outcome = await call("PUT") { await client.put(doi, document: document) }
            if case .stored(let stored, let created) = outcome {
                guard stored.state == publication.expectedState, Self.sameURL(stored.url, publication.expectedURL) else {
                    try await retry(publication, uncertain: false, detail: "DataCite answered state \(stored.state) and URL \(stored.url ?? "none"), expected \(publication.expectedState) and \(publication.expectedURL)")
                    return
                }
                try await store.recordSynced(publication, remote: stored, detail: Self.syncedDetail(publication, reconciled: false))
                logger.info(created ? "DOI registered" : "DOI updated", metadata: ["doi": "\(doi)", "state": "\(stored.state)"])
            } else {
                try await failed(publication, outcome, method: "PUT")
            }
        } catch {
            logger.error("DataCite sync of a publication failed", metadata: ["doi": "\(doi)", "error": "\(describeDatabaseError(error))"])
        }
    }

    /// The reconciler's comparison of a synced publication with DataCite.
    private func check(_ publication: ClaimedPublication, client: DataCiteClient) async {
        do {
            switch await call("GET") { await client.get(publication.doi) } {
            case .found(let remote) where remote.state == publication.expectedState && Self.sameURL(remote.url, publication.expectedURL):
                try await store.recordChecked(publication, remote: remote)
            case .found(let remote):
                logger.warning("DataCite differs from the catalog; sending the catalog's again", metadata: [
                    "doi": "\(publication.doi)", "remote_state": "\(remote.state)", "remote_url": "\(remote.url ?? "")"])
                try await store.recordDrift(publication, remote: remote, detail: "DataCite held state \(remote.state) and URL \(remote.url ?? "none"); sending the catalog's again")
            case .notFound:
                logger.warning("DataCite does not know a registered DOI; sending it again", metadata: ["doi": "\(publication.doi)"])
                try await store.recordDrift(publication, remote: nil, detail: "DataCite did not know the DOI; sending it again")
            case let outcome:
                try await failed(publication, outcome, method: "GET", checking: true)
            }
        } catch {
            logger.error("DataCite check failed", metadata: ["doi": "\(publication.doi)", "error": "\(describeDatabaseError(error))"])
        }
    }

    /// Records an answer that did not bring DataCite up to date, and what happens next.
    private func failed(_ publication: ClaimedPublication, _ outcome: DataCiteOutcome, method: String, checking: Bool = false) async throws {
        switch outcome {
        case .invalid(let problems):
            try await store.recordRefused(publication, problems: problems)
            logger.warning("DataCite refused the metadata", metadata: ["doi": "\(publication.doi)", "problems": "\(problems.map(\.description))"])
        case .unauthorized(let message):
            refusedCredentials = message
            let alert = "DataCite refused the credentials (\(message)): set FAIRWAY_DATACITE_USER and FAIRWAY_DATACITE_PASSWORD and restart fairway-doi; no DOI is sent until then"
            try await store.raiseAlert(kind: Self.credentialsAlert, message: alert)
            if checking { try await store.release(publication, detail: alert) } else {
                try await retry(publication, uncertain: publication.inFlight, detail: alert, delay: .zero)
            }
            logger.critical("DataCite refused the credentials; no more calls until restarted", metadata: ["answer": "\(message)"])
        case .rateLimited(let retryAfter):
            let wait = Duration.seconds(retryAfter ?? 0)
            await pacer.pause(for: wait)
            try await retry(publication, uncertain: publication.inFlight, detail: "DataCite asked to slow down (429)\(retryAfter.map { "; retrying after \($0) s at least" } ?? "")",
                            atLeast: wait)
        case .unavailable(let status, let message):
            try await retry(publication, uncertain: true, detail: "DataCite answered \(status) (\(message)) to \(method); asking it before sending again")
        case .timedOut:
            try await retry(publication, uncertain: true, detail: "no answer from DataCite to \(method) in time; asking it before sending again")
        case .failed(let message):
            try await retry(publication, uncertain: publication.inFlight || method == "PUT", detail: message)
        case .notAllowed(let message):
            try await retry(publication, uncertain: false, detail: "DataCite refused \(method): \(message)")
        case .notFound, .found, .stored, .deleted:
            try await retry(publication, uncertain: publication.inFlight, detail: "unexpected answer from DataCite to \(method)")
        }
    }

    private func retry(_ publication: ClaimedPublication, uncertain: Bool, detail: String, atLeast minimum: Duration = .zero, delay: Duration? = nil) async throws {
        let wait = delay ?? max(minimum, Self.backOff(attempt: publication.attempts, base: settings.retryBase, max: settings.retryMax))
        try await store.recordRetry(publication, after: wait, uncertain: uncertain, detail: detail)
        if wait > .zero { logger.notice("DataCite call to be retried", metadata: ["doi": "\(publication.doi)", "after": "\(wait)", "why": "\(detail)"]) }
    }

    /// base × 2^attempt, capped, with up to a quarter of jitter so many publications do not retry in step.
    static func backOff(attempt: Int, base: Duration, max cap: Duration) -> Duration {
        let exponent = min(attempt, 30)
        let raw = base * Double(1 << exponent)
        let capped = raw > cap ? cap : raw
        return capped * Double.random(in: 0.75 ... 1.0)
    }

    /// One paced call, counted by method and outcome; a first answer that proves the credentials
    /// clears an earlier credentials alert.
    private func call(_ method: String, _ body: () async -> DataCiteOutcome) async -> DataCiteOutcome {
        await pacer.take()
        let outcome = await body()
        Counter(label: "fairway_datacite_requests_total", dimensions: [("method", method), ("outcome", Self.name(outcome))]).increment()
        switch outcome {
        case .unauthorized, .failed, .timedOut, .unavailable: break
        default:
            if !credentialsProven {
                credentialsProven = true
                try? await store.clearAlert(kind: Self.credentialsAlert)
            }
        }
        return outcome
    }

    static func name(_ outcome: DataCiteOutcome) -> String {
        switch outcome {
        case .stored(_, let created): created ? "created" : "updated"
        case .found: "found"
        case .deleted: "deleted"
        case .notFound: "not_found"
        case .invalid: "invalid"
        case .unauthorized: "unauthorized"
        case .notAllowed: "not_allowed"
        case .rateLimited: "rate_limited"
        case .unavailable: "unavailable"
        case .timedOut: "timed_out"
        case .failed: "failed"
        }
    }

    /// The stored record as sent: `publish` at the landing page, or `hide` at the tombstone.
    static func document(_ publication: ClaimedPublication) throws -> Data {
        var attributes = try DataCiteAttributes(document: Data(publication.record.utf8))
        attributes.event = publication.target == "hidden" ? "hide" : "publish"
        attributes.url = publication.expectedURL
        return attributes.document
    }

    static func sameURL(_ remote: String?, _ expected: String) -> Bool {
        guard let remote else { return false }
        func trimmed(_ url: String) -> Substring { url.hasSuffix("/") ? url.dropLast() : Substring(url) }
        return trimmed(remote) == trimmed(expected)
    }

    static func syncedDetail(_ publication: ClaimedPublication, reconciled: Bool) -> String {
        let how = reconciled ? " (confirmed by asking DataCite after an unanswered call)" : ""
        return publication.target == "hidden"
            ? "withdrawn: hidden at DataCite, resolving to the tombstone\(how)"
            : "findable at DataCite\(how)"
    }

    private func sleep(until deadline: ContinuousClock.Instant) async {
        if woken || deadline <= .now { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(until: deadline) }
            group.addTask { await self.waitForWake() }
            await group.next()
            group.cancelAll()
            self.wake()
        }
    }

    private func waitForWake() async {
        if woken { return }
        await withCheckedContinuation { wakeUp = $0 }
    }
}

/// Spaces calls to DataCite evenly under its rate limit, and holds them all back after a 429.
actor RequestPacer {
    private let spacing: Duration
    private var next = ContinuousClock.now

    init(perMinute: Int) { spacing = .milliseconds(60_000 / max(1, perMinute)) }

    func take() async {
        let slot = max(next, .now)
        next = slot + spacing
        if slot > .now { try? await Task.sleep(until: slot) }
    }

    func pause(for duration: Duration) {
        next = max(next, .now + duration)
    }
}
