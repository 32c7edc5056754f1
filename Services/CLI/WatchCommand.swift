import ArgumentParser
import FairwayContracts
import FairwayServiceKit
import FairwayStorage
import Foundation

/// `fairway watch`: what runs next to a microscope or on the buffer server. Finds new files (or
/// folders), waits until they are at rest, posts each to `fairway-ingest`, and remembers what it
/// posted in a state file so that a restart posts nothing twice.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Watch a folder and post each new file (or folder) to fairway-ingest once it is at rest.",
        discussion: """
            DIR is the zone's root as this machine sees it (or a folder inside it: see --prefix). The folder is
            scanned when inotify reports a change and at least every --interval (network shares do not report
            changes: polling covers them); a file is posted once its size and mtime have not changed for --quiet.
            Progress is kept in --state (one JSON line per posted path), so a restart posts only what is new or
            changed. While the server is unreachable, posts are retried with back-off; nothing is skipped.

            The token is read from --token-file or FAIRWAY_WATCH_TOKEN (or --token, visible in process lists).

            Exit codes: 0 everything posted; 1 failure (e.g. the token was refused); 2 with --once when the
            server refused some paths (listed on stderr).
            """
    )

    @Argument(help: "Folder to watch.") var dir: String
    @Option(help: "Landing zone the paths belong to.") var zone: String
    @Option(help: "Base URL of fairway-ingest, e.g. http://buffer-1:8080.") var url: String
    @Option(help: "Watcher token (prefer --token-file or FAIRWAY_WATCH_TOKEN).") var token: String?
    @Option(name: .customLong("token-file"), help: "File holding the watcher token.") var tokenFile: String?
    @Option(help: "Path of DIR inside the zone, prepended to every posted path (default: DIR is the zone root).") var prefix: String?
    @Option(help: "How long size and mtime must stay unchanged, e.g. 10s, 500ms, 0.") var quiet: String = "10s"
    @Option(help: "Time between scans.") var interval: String = "2s"
    @Option(help: "State file (default: ~/.local/state/fairway/watch-<zone>-<hash>.jsonl).") var state: String?
    @Option(help: "Requests in flight at once.") var parallel: Int = 4
    @Option(help: "Acquisitions per request when many are ready at once (1 to 1000).") var batch: Int = 100
    @Flag(help: "Post each top-level folder of DIR as one acquisition instead of each file.") var folders = false
    @Flag(help: "Scan once (backfill): post everything at rest, print a summary and exit.") var once = false
    @Option(help: "Owner recorded on each acquisition (default: the token's owner).") var owner: String?
    @Option(help: "Investigation (default: from the path).") var investigation: String?
    @Option(help: "Study (default: from the path).") var study: String?
    @Option(help: "Assay (default: from the path).") var assay: String?
    @Option(help: "Instrument name recorded with each acquisition.") var instrument: String?

    func validate() throws {
        guard CatalogName.isValid(zone) else { throw ValidationError("--zone must be \(CatalogName.rule)") }
        guard FairwayConfiguration.parseDuration(quiet) != nil else { throw ValidationError("--quiet must be a duration like 10s, 500ms or 0") }
        guard let scan = FairwayConfiguration.parseDuration(interval), scan > .zero else { throw ValidationError("--interval must be a positive duration") }
        guard (1 ... 256).contains(parallel) else { throw ValidationError("--parallel must be 1 to 256") }
        guard (1 ... 1000).contains(batch) else { throw ValidationError("--batch must be 1 to 1000") }
        guard URL(string: url)?.scheme.map({ ["http", "https"].contains($0) }) == true else { throw ValidationError("--url must be an http:// or https:// URL") }
    }

    func run() async throws {
        let token = try readToken()
        let root = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
        let folder: ZoneRoot
        do { folder = try ZoneRoot(canonicalizing: root) } catch { throw CommandFailure("\(dir): \(error)") }
        let statePath = state ?? Self.defaultStatePath(folder: folder.path, zone: zone, url: url)
        var template = AcquisitionCompleted(zone: zone, path: "")
        template.owner = owner; template.investigation = investigation; template.study = study
        template.assay = assay; template.instrument = instrument
        let watcher = Watcher(
            folder: folder, prefix: prefix.map { $0.split(separator: "/").joined(separator: "/") } ?? "",
            unit: folders ? .folder : .file, template: template,
            quiet: FairwayConfiguration.parseDuration(quiet)!, interval: FairwayConfiguration.parseDuration(interval)!,
            client: IngestClient(baseURL: url, token: token, parallel: parallel, batch: batch),
            state: try WatchState(path: statePath)
        )
        let report = try await watcher.run(once: once)
        if once {
            note("posted \(report.posted) (\(report.created) new, \(report.known) already known), \(ProgressBar.bytes(report.bytes)); "
                 + "refused \(report.refused.count); skipped \(report.skipped) (unchanged since last post: \(report.unchanged))")
            for (path, reason) in report.refused.prefix(50) { note("refused \(path): \(reason)") }
            if !report.refused.isEmpty { throw ExitCode(2) }
        }
    }

    private func readToken() throws -> String {
        if let token, !token.isEmpty { return token }
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else { throw CommandFailure("cannot read --token-file \(tokenFile)") }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let token = ProcessInfo.processInfo.environment["FAIRWAY_WATCH_TOKEN"], !token.isEmpty { return token }
        throw ValidationError("give the watcher token with --token-file, FAIRWAY_WATCH_TOKEN or --token")
    }

    static func defaultStatePath(folder: String, zone: String, url: String) -> String {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/tmp"
        let key = FileInspection.checksum(of: Data("\(folder)\u{0}\(zone)\u{0}\(url)".utf8)).dropFirst(5).prefix(12)
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "+", with: "-")
        return "\(home)/.local/state/fairway/watch-\(zone)-\(key).jsonl"
    }
}
